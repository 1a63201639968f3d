//! `XrayLogger`: records of the `log` crate that carry the trace id.

use log::{Log, Metadata, Record};

use crate::XrayLogId;

/// A [`log::Log`] that appends the [`XrayLogId`] of the current X-Ray entity (`AWS-XRAY-TRACE-ID: 1-…@…`) to
/// the message of each record logged inside a trace, and hands every record on to `inner`.
///
/// ```
/// # #[derive(Debug)] struct StderrLog;
/// # impl log::Log for StderrLog {
/// #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
/// #     fn log(&self, r: &log::Record<'_>) { eprintln!("{}", r.args()) }
/// #     fn flush(&self) {}
/// # }
/// use xray_sdk_tracing::XrayLogger;
///
/// // any `log::Log`, such as env_logger's or simplelog's logger
/// static LOGGER: XrayLogger<StderrLog> = XrayLogger::new(StderrLog);
///
/// if log::set_logger(&LOGGER).is_ok() {
///     log::set_max_level(log::LevelFilter::Info);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct XrayLogger<L> {
    inner: L,
}

impl<L: Log> XrayLogger<L> {
    /// Wraps `inner`.
    pub const fn new(inner: L) -> Self {
        XrayLogger { inner }
    }

    /// The wrapped logger.
    pub fn into_inner(self) -> L {
        self.inner
    }
}

impl<L: Log> Log for XrayLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        // The SDK's own records are never about the trace they happen to be logged in.
        let own = record.target().starts_with("xray_sdk");
        match XrayLogId::current().filter(|_| !own) {
            Some(id) => self.inner.log(
                &Record::builder()
                    .args(format_args!("{} {id}", record.args()))
                    .metadata(record.metadata().clone())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            ),
            None => self.inner.log(record),
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}
