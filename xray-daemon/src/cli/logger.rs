//! A small logger for the `log` facade: to standard error, or appended to a file (`xray daemon -f`).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use log::{LevelFilter, Log, Metadata, Record};

/// The log file, once `to_file` has opened one.
static FILE: OnceLock<Mutex<File>> = OnceLock::new();

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match FILE.get() {
            Some(file) => {
                let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = writeln!(
                    file,
                    "{:.3} xray {:5} {}",
                    xray_sdk_types::time::now(),
                    record.level(),
                    record.args()
                );
            }
            None => eprintln!("xray {:5} {}", record.level(), record.args()),
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger: `info` by default, more with `verbose`, or the level named by `XRAY_LOG`. Does nothing if
/// another logger is installed.
pub fn init(verbose: u8) {
    let from_env = std::env::var("XRAY_LOG")
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok());
    let level = from_env.unwrap_or(match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    });
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// Sends the log to the end of the file at `path` (created if missing) from now on, instead of standard error.
/// Each line starts with the time in epoch seconds. The file is never rotated here.
///
/// # Errors
/// The error of opening the file.
pub fn to_file(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = FILE.set(Mutex::new(file));
    Ok(())
}
