//! The process-wide recorder that integrations and `#[capture]` use by default.

use std::sync::OnceLock;

use super::Recorder;

static GLOBAL: OnceLock<Recorder> = OnceLock::new();

/// Installs `recorder` as the process-wide recorder.
///
/// # Errors
/// Hands `recorder` back if a global recorder was already installed (or [`global`] already built the
/// default one).
pub fn set_global(recorder: Recorder) -> Result<(), Recorder> {
    let mut recorder = Some(recorder);
    GLOBAL.get_or_init(|| recorder.take().unwrap_or_else(default_recorder));
    match recorder {
        None => Ok(()),
        Some(r) => Err(r),
    }
}

/// The process-wide recorder: the one installed with [`set_global`], or else one built from the environment
/// on first use (sending to `AWS_XRAY_DAEMON_ADDRESS`, or 127.0.0.1:2000). If that environment is invalid, the
/// default recorder is disabled and says why in the log, rather than failing the host.
pub fn global() -> &'static Recorder {
    GLOBAL.get_or_init(default_recorder)
}

fn default_recorder() -> Recorder {
    match Recorder::builder().build() {
        Ok(r) => r,
        Err(e) => {
            log::error!("X-Ray: the default recorder cannot start ({e}); tracing is disabled");
            disabled()
        }
    }
}

/// A recorder that records nothing: no socket, no environment, nothing that can fail.
fn disabled() -> Recorder {
    Recorder {
        inner: std::sync::Arc::new(super::Inner {
            config: crate::config::Config {
                enabled: false,
                ..Default::default()
            },
            sampler: std::sync::Arc::new(crate::sampling::NeverSample),
            emitter: std::sync::Arc::new(crate::emitter::NoopEmitter),
            clock: std::sync::Arc::new(crate::clock::SystemClock),
            aws_template: Default::default(),
            service_template: Default::default(),
        }),
    }
}
