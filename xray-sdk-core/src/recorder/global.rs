//! The process-wide recorder that integrations and `#[capture]` use by default.

use std::sync::OnceLock;
use std::time::Duration;

use super::Recorder;

static GLOBAL: OnceLock<Recorder> = OnceLock::new();

/// How long [`FlushGuard`] waits for the last documents by default.
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Installs `recorder` as the process-wide recorder, and returns a guard that flushes it when dropped: keep
/// the guard alive in `main`, so that the last segments of a short-lived program (or of a Lambda invocation
/// that ends the process) reach the daemon.
///
/// ```
/// use xray_sdk_core::{Recorder, recorder::install};
/// # use xray_sdk_core::emitter::MemoryEmitter;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let _flush_on_exit = install(Recorder::builder().service_name("batch")
/// #   .emitter(MemoryEmitter::new())
///     .build()?)?;
/// // ... the program, traced through xray_sdk_core::global() ...
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`InstallError`], which hands `recorder` back, if a recorder was already installed or
/// [`global`] already built the default one.
pub fn install(recorder: Recorder) -> Result<FlushGuard, InstallError> {
    let mut recorder = Some(recorder);
    let installed = GLOBAL.get_or_init(|| match recorder.take() {
        Some(r) => r,
        None => default_recorder(),
    });
    match recorder {
        None => Ok(FlushGuard {
            recorder: installed.clone(),
            timeout: DEFAULT_FLUSH_TIMEOUT,
        }),
        Some(recorder) => Err(InstallError { recorder }),
    }
}

/// A global recorder was already in place; the recorder that was not installed is handed back.
///
/// ```
/// # use xray_sdk_core::{Recorder, emitter::MemoryEmitter, recorder::install};
/// # let recorder = || Recorder::builder().emitter(MemoryEmitter::new()).build().unwrap();
/// let _first = install(recorder()).unwrap();
/// let refused = install(recorder()).unwrap_err();
/// let _still_usable = refused.recorder.begin_segment("elsewhere");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("a process-wide X-Ray recorder is already installed")]
pub struct InstallError {
    /// The recorder that was not installed.
    pub recorder: Recorder,
}

/// Flushes the installed recorder when dropped, waiting at most its timeout (2 s unless changed), and stops its
/// background work. Made by [`install`].
///
/// ```
/// # use xray_sdk_core::{Recorder, emitter::MemoryEmitter, recorder::install};
/// # let recorder = Recorder::builder().emitter(MemoryEmitter::new()).build().unwrap();
/// let guard = install(recorder).unwrap().timeout(std::time::Duration::from_millis(500));
/// // ... the program ...
/// drop(guard); // waits up to 500 ms for the last documents to be sent
/// ```
#[derive(Debug)]
#[must_use = "the recorder is flushed when this guard is dropped: keep it alive until the program ends"]
pub struct FlushGuard {
    recorder: Recorder,
    timeout: Duration,
}

impl FlushGuard {
    /// How long the flush on drop may wait.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if !self.recorder.shutdown(self.timeout) {
            log::warn!(
                "X-Ray: some documents were not sent within {:?} of the end",
                self.timeout
            );
        }
    }
}

/// The process-wide recorder: the one [`install`]ed, or else one built from the environment on first use
/// (sending to `AWS_XRAY_DAEMON_ADDRESS`, or 127.0.0.1:2000). If that environment is invalid, the default
/// recorder is disabled and says why in the log, rather than failing the host.
pub fn global() -> &'static Recorder {
    GLOBAL.get_or_init(default_recorder)
}

/// The process-wide recorder if one is installed or built, without building one.
pub(crate) fn installed() -> Option<&'static Recorder> {
    GLOBAL.get()
}

fn default_recorder() -> Recorder {
    match Recorder::builder().build() {
        Ok(r) => r,
        Err(e) => {
            log::error!("X-Ray: the default recorder cannot start ({e}); tracing is disabled");
            Recorder::disabled()
        }
    }
}
