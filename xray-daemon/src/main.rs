//! The `xray` command. Everything is in the library's [`xray_daemon::cli`].

fn main() -> std::process::ExitCode {
    xray_daemon::cli::main()
}
