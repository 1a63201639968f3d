//! Where an invocation's trace context comes from.

use lambda_runtime::{Context, LambdaEvent};
use xray_sdk_core::config::EnvSource;
use xray_sdk_core::config::lambda::TRACE_ID;
use xray_sdk_core::types::TraceHeader;

/// A request that carries a Lambda invocation's [`Context`]: what [`XrayLambdaLayer`](crate::XrayLambdaLayer)
/// reads the trace context and the function's name from.
///
/// Implemented for [`LambdaEvent`] (services run by `lambda_runtime::run` and `run_concurrent`) and for
/// [`http::Request`] (services run by `lambda_http::run`, which keeps the context in the request's
/// extensions).
pub trait XrayInvocation {
    /// The invocation's context, when the request carries one.
    fn lambda_context(&self) -> Option<&Context>;
}

impl<T> XrayInvocation for LambdaEvent<T> {
    fn lambda_context(&self) -> Option<&Context> {
        Some(&self.context)
    }
}

impl<B> XrayInvocation for http::Request<B> {
    fn lambda_context(&self) -> Option<&Context> {
        self.extensions().get::<Context>()
    }
}

/// The invocation's trace header: the context's `xray_trace_id` (the `Lambda-Runtime-Trace-Id` header of the
/// invocation), else `_X_AMZN_TRACE_ID` from `fallback` (given only where the runtime sets that variable: one
/// invocation at a time). A malformed header counts as none, with a log line.
pub(crate) fn trace_header(
    context: Option<&Context>,
    fallback: Option<&dyn EnvSource>,
) -> TraceHeader {
    let from_env;
    let text = match context.and_then(|c| c.xray_trace_id.as_deref()) {
        Some(text) => text,
        None => match fallback.and_then(|env| env.var(TRACE_ID)) {
            Some(text) => {
                from_env = text;
                from_env.as_str()
            }
            None => return TraceHeader::default(),
        },
    };
    TraceHeader::parse(text).unwrap_or_else(|e| {
        log::warn!("X-Ray: the invocation's trace header {text:?} is malformed ({e}); nothing is recorded for it");
        TraceHeader::default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use xray_sdk_core::config::MapEnv;

    const FROM_CONTEXT: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const FROM_ENV: &str =
        "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=1";

    fn context(trace: Option<&str>) -> Context {
        let mut context = Context::default();
        context.xray_trace_id = trace.map(str::to_owned);
        context
    }

    #[test]
    fn the_context_wins_and_the_environment_is_the_fallback() {
        let env = MapEnv::new([(TRACE_ID, FROM_ENV)]);
        let header = trace_header(Some(&context(Some(FROM_CONTEXT))), Some(&env));
        assert_eq!(header.to_string(), FROM_CONTEXT);
        let header = trace_header(Some(&context(None)), Some(&env));
        assert_eq!(header.to_string(), FROM_ENV);
        let header = trace_header(None, Some(&env));
        assert_eq!(header.to_string(), FROM_ENV);
    }

    #[test]
    fn without_fallback_or_with_bad_text_there_is_no_context() {
        let env = MapEnv::new([(TRACE_ID, FROM_ENV)]);
        assert_eq!(
            trace_header(Some(&context(None)), None),
            TraceHeader::default()
        );
        let bad = context(Some("Root=not-a-trace-id;Parent=zz"));
        assert_eq!(trace_header(Some(&bad), Some(&env)), TraceHeader::default());
    }
}
