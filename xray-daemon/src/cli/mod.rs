//! The `xray` command line: `xray daemon`, `xray tail`, `xray validate`, `xray demo`.

pub mod daemon;
pub mod http;
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

/// The async runtime the long-running commands (`daemon`, `demo`) run on: two worker threads.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logger::init(cli.verbose);
    match cli.command {
        Command::Daemon(args) => daemon::run(*args),
        Command::Tail(args) => tail::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Demo(args) => crate::demo::run(args),
    }
}
