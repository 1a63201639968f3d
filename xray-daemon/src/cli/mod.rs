//! The `xray` command line: `xray daemon`, `xray tail`, `xray validate`, `xray demo`.

pub mod config_file;
pub mod daemon;
pub mod http;
pub mod limits;
pub mod logger;
pub mod tail;
pub mod tree;
pub mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A local AWS X-Ray daemon with a trace store, and tools around it.
#[derive(Debug, Parser)]
#[command(name = "xray", version, about)]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace); XRAY_LOG=error|warn|info|debug|trace also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: receive segments over UDP, store them, serve them as JSON.
    Daemon(Box<daemon::DaemonArgs>),
    /// Follow new traces from a running daemon and print them as trees.
    Tail(tail::TailArgs),
    /// Start the daemon with three instrumented demo services, send traffic through them, and print the
    /// traces (then keep running, unless --once).
    Demo(crate::demo::DemoArgs),
    /// Check segment documents: one JSON document per line, a datagram (header line then document), or one
    /// pretty-printed document. Exits 1 when any is invalid.
    Validate(validate::ValidateArgs),
}

/// The X-Ray daemon is run with options only (`xray -o -n us-east-2`, `xray -c cfg.yaml`): given options and no
/// subcommand, `xray` runs as that daemon does, `xray daemon --forward --no-store …` (forwarding, keeping no
/// traces), so that a deployment swaps binaries without changing its command line. The top-level options (`-h`,
/// `-V`, `-v`) keep their meaning.
fn official_form(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let top_level = [
        "-h",
        "--help",
        "-V",
        "--version",
        "-v",
        "-vv",
        "-vvv",
        "--verbose",
    ];
    let first_is_an_option = args.get(1).is_some_and(|first| {
        first
            .to_str()
            .is_some_and(|first| first.starts_with('-') && !top_level.contains(&first))
    });
    if first_is_an_option {
        let given = |names: &[&str]| {
            args.iter().any(|a| {
                a.to_str().is_some_and(|a| {
                    names
                        .iter()
                        .any(|n| a == *n || a.strip_prefix(*n).is_some_and(|r| r.starts_with('=')))
                })
            })
        };
        let mut implied = vec!["daemon".into()];
        if !given(&["--forward"]) {
            implied.push("--forward".into());
        }
        // A store asked for (`--memory`, `--db`) is kept; otherwise none, as the X-Ray daemon keeps none.
        if !given(&["--no-store", "--memory", "--db"]) {
            implied.push("--no-store".into());
        }
        args.splice(1..1, implied);
    }
    args
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(official_form(std::env::args_os().collect()));
    logger::init(cli.verbose);
    match cli.command {
        Command::Daemon(args) => daemon::run(*args),
        Command::Tail(args) => tail::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Demo(args) => crate::demo::run(args),
    }
}

/// The async runtime the long-running commands (`daemon`, `demo`) run on: two worker threads.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::official_form;

    fn form(args: &[&str]) -> Vec<String> {
        official_form(args.iter().map(Into::into).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn options_without_a_subcommand_run_the_daemon_as_the_x_ray_daemon_does() {
        assert_eq!(
            form(&["xray", "-o", "-n", "us-east-2"]),
            [
                "xray",
                "daemon",
                "--forward",
                "--no-store",
                "-o",
                "-n",
                "us-east-2"
            ]
        );
        assert_eq!(
            form(&["xray", "-c", "cfg.yaml", "--memory", "--forward"]),
            ["xray", "daemon", "-c", "cfg.yaml", "--memory", "--forward"]
        );
        assert_eq!(
            form(&["xray", "-o", "--db=/var/lib/xray/t.sqlite3"]),
            [
                "xray",
                "daemon",
                "--forward",
                "-o",
                "--db=/var/lib/xray/t.sqlite3"
            ]
        );
        for unchanged in [
            &["xray", "daemon", "-o"][..],
            &["xray", "--help"],
            &["xray", "-v", "tail"],
            &["xray"],
        ] {
            assert_eq!(form(unchanged), unchanged);
        }
    }
}
