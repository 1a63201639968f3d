//! `xray tail`: follows new traces from a running daemon and prints them as trees.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::http::{HttpError, get_json, get_trace};
use super::tree::render;
use crate::api::traces::TraceList;

/// The options of `xray tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// The daemon's API.
    #[arg(long, default_value = "http://127.0.0.1:2001")]
    pub api: String,
    /// Print a trace once it has received nothing new for this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// How often to ask the daemon for news, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub interval_ms: u64,
    /// First print the newest N traces already stored.
    #[arg(long, default_value_t = 0)]
    pub last: usize,
    /// Stop after printing this many traces (0: follow forever).
    #[arg(long, default_value_t = 0)]
    pub count: usize,
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// Follows the daemon until interrupted (or `--count` traces are printed).
pub fn run(args: TailArgs) -> ExitCode {
    let mut printed = 0usize;
    let mut cursor: Option<i64> = None;
    let mut pending: HashMap<String, (i64, Instant)> = HashMap::new();
    let mut reported_down = false;
    let settle = Duration::from_millis(args.settle_ms);
    loop {
        let path = match cursor {
            None => format!("/api/traces?limit={}", args.last.min(1000)),
            Some(seq) => format!("/api/traces?after_seq={seq}&limit=1000"),
        };
        match get_json::<TraceList>(&args.api, &path, TIMEOUT) {
            Ok(list) => {
                if reported_down {
                    eprintln!("xray tail: connected to {}", args.api);
                    reported_down = false;
                }
                if cursor.is_none() {
                    // The newest `--last` traces, oldest first, are printed at once.
                    for summary in list.traces.iter().rev() {
                        pending.insert(summary.id.clone(), (summary.seq, Instant::now() - settle));
                    }
                    cursor = Some(list.latest_seq);
                } else {
                    for summary in &list.traces {
                        cursor = cursor.max(Some(summary.seq));
                        pending.insert(summary.id.clone(), (summary.seq, Instant::now()));
                    }
                }
            }
            Err(HttpError::Status { status, message }) => {
                eprintln!("xray tail: the daemon answered {status}: {message}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                if !reported_down {
                    eprintln!("xray tail: {e}; retrying");
                    reported_down = true;
                }
            }
        }
        let mut ready: Vec<(String, i64)> = pending
            .iter()
            .filter(|(_, (_, seen))| seen.elapsed() >= settle)
            .map(|(id, (seq, _))| (id.clone(), *seq))
            .collect();
        ready.sort_by_key(|(_, seq)| *seq);
        for (id, _) in ready {
            pending.remove(&id);
            match get_trace(&args.api, &id, TIMEOUT) {
                Ok(trace) => {
                    println!("{}", render(&trace));
                    printed += 1;
                    if args.count > 0 && printed >= args.count {
                        return ExitCode::SUCCESS;
                    }
                }
                Err(e) => eprintln!("xray tail: trace {id}: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(args.interval_ms));
    }
}
