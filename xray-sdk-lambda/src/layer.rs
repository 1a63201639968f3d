//! The layer and the service it makes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;
use xray_sdk_core::config::{EnvSource, ProcessEnv};
use xray_sdk_core::{FutureExt, Recorder, context};

use crate::future::XrayLambdaFuture;
use crate::invocation::{self, XrayInvocation};

/// The annotation that tells the first invocation of a process (`true`) from the others (`false`).
pub const COLD_START_ANNOTATION: &str = "ColdStart";

/// `AWS_LAMBDA_MAX_CONCURRENCY`: above 1, the runtime runs invocations at once and leaves `_X_AMZN_TRACE_ID`
/// unset.
const MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";

/// A tower layer that traces each invocation of a Lambda function: see the [crate documentation](crate).
///
/// Cheap to clone; clones share the cold-start flag.
#[derive(Clone)]
pub struct XrayLambdaLayer {
    recorder: Option<Recorder>,
    env: Arc<dyn EnvSource>,
    name: Option<Arc<str>>,
    cold_start: Arc<AtomicBool>,
}

impl fmt::Debug for XrayLambdaLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayLambdaLayer")
            .field("recorder", &self.recorder)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Default for XrayLambdaLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayLambdaLayer {
    /// A layer recording with the global recorder (built from the environment on first use, in Lambda mode
    /// with no configuration: see [`xray_sdk_core::RecorderBuilder`]).
    pub fn new() -> Self {
        XrayLambdaLayer {
            recorder: None,
            env: Arc::new(ProcessEnv),
            name: None,
            cold_start: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Records with `recorder` instead of the global recorder.
    pub fn recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Reads `AWS_LAMBDA_MAX_CONCURRENCY` and `_X_AMZN_TRACE_ID` from `env` instead of the process environment.
    pub fn env(mut self, env: impl EnvSource + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Names each invocation's subsegment `name` instead of after the function (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }
}

impl<S> Layer<S> for XrayLambdaLayer {
    type Service = XrayLambdaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // Only a runtime that runs one invocation at a time sets `_X_AMZN_TRACE_ID`.
        let sequential = self
            .env
            .var(MAX_CONCURRENCY)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .is_none_or(|n| n <= 1);
        XrayLambdaService {
            inner,
            shared: Arc::new(Shared {
                recorder: self.recorder.clone(),
                fallback: sequential.then(|| Arc::clone(&self.env)),
                name: self.name.clone(),
                cold_start: Arc::clone(&self.cold_start),
            }),
        }
    }
}

struct Shared {
    recorder: Option<Recorder>,
    /// Where `_X_AMZN_TRACE_ID` is read from, when the runtime sets it.
    fallback: Option<Arc<dyn EnvSource>>,
    name: Option<Arc<str>>,
    cold_start: Arc<AtomicBool>,
}

/// The service made by [`XrayLambdaLayer`]. Clones (one per concurrent worker of `run_concurrent`) share
/// their settings and never their invocations.
#[derive(Clone)]
pub struct XrayLambdaService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: fmt::Debug> fmt::Debug for XrayLambdaService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayLambdaService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, R> Service<R> for XrayLambdaService<S>
where
    S: Service<R>,
    S::Error: fmt::Display,
    R: XrayInvocation,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = XrayLambdaFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let shared = &*self.shared;
        let recorder = shared
            .recorder
            .as_ref()
            .unwrap_or_else(|| xray_sdk_core::global());
        let lambda_context = request.lambda_context();
        let header = invocation::trace_header(lambda_context, shared.fallback.as_deref());
        let facade = recorder.facade(&header);
        let cold_start = shared.cold_start.swap(false, Ordering::Relaxed);
        let name = shared
            .name
            .as_deref()
            .or_else(|| {
                lambda_context
                    .map(|c| c.env_config.function_name.as_str())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or("handler");
        let invocation = facade.begin_subsegment(name);
        invocation.put_annotation(COLD_START_ANNOTATION, cold_start);
        let entity = invocation.entity().clone();
        // Work the service does in `call` itself belongs to the invocation too.
        let future = {
            let _in_invocation = context::enter(entity.clone());
            self.inner.call(request)
        };
        XrayLambdaFuture::new(future.in_entity(entity), invocation)
    }
}
