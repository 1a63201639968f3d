//! The response future: ends the invocation's subsegment, recording errors and panics, before the runtime
//! posts the response.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use xray_sdk_core::context::Instrumented;
use xray_sdk_core::types::EntityId;
use xray_sdk_core::types::document::Exception;
use xray_sdk_core::{Entity, SubsegmentGuard};

pin_project_lite::pin_project! {
    /// The future of [`XrayLambdaService`](crate::XrayLambdaService): the handler's future, run with the
    /// invocation's subsegment as its current entity. When it completes, the subsegment ends (with a fault for
    /// an error or a panic) and is sent, before the output reaches the runtime. Dropped before completion, it
    /// ends the subsegment as a fault with metadata `xray.cancelled`.
    #[must_use = "futures do nothing unless polled"]
    pub struct XrayLambdaFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        invocation: Option<SubsegmentGuard>,
    }

    impl<F> PinnedDrop for XrayLambdaFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(invocation) = this.project().invocation.take() {
                invocation.set_fault();
                invocation.put_metadata_in("xray", "cancelled", &true);
                invocation.end();
            }
        }
    }
}

impl<F> XrayLambdaFuture<F> {
    pub(crate) fn new(inner: Instrumented<F>, invocation: SubsegmentGuard) -> Self {
        XrayLambdaFuture {
            inner,
            invocation: Some(invocation),
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for XrayLambdaFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayLambdaFuture")
            .field("inner", &self.inner)
            .field("invocation", &self.invocation)
            .finish()
    }
}

impl<F, T, E> Future for XrayLambdaFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: fmt::Display,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // A panic is recorded, the subsegment sent, and the panic carries on unchanged to the runtime.
        let polled = catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                if let Some(invocation) = this.invocation.take() {
                    if let Err(error) = &result {
                        record_fault(&invocation, error.to_string(), short_type_name::<E>());
                    }
                    invocation.end();
                }
                Poll::Ready(result)
            }
            Err(payload) => {
                if let Some(invocation) = this.invocation.take() {
                    record_fault(&invocation, panic_message(&*payload), "panic".to_owned());
                    invocation.end();
                }
                resume_unwind(payload)
            }
        }
    }
}

fn record_fault(entity: &Entity, message: String, type_name: String) {
    if !entity.is_sampled() {
        return;
    }
    entity.add_exception(Exception {
        id: EntityId::new(),
        message: Some(message),
        type_name: Some(type_name),
        remote: Some(false),
        truncated: None,
        skipped: None,
        cause: None,
        stack: Vec::new(),
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "panicked".to_owned(),
    }
}

/// `E`'s name with every path shortened to its last segment: `Box<dyn Error + Send + Sync>` rather than
/// `alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>`.
fn short_type_name<E>() -> String {
    let full = std::any::type_name::<E>();
    let mut out = String::with_capacity(full.len());
    let mut path = String::new();
    for c in full.chars().chain(std::iter::once('\0')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
            continue;
        }
        out.push_str(path.rsplit("::").next().unwrap_or(&path));
        path.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(
            short_type_name::<lambda_runtime::Error>(),
            "Box<dyn Error + Send + Sync>"
        );
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
        assert_eq!(short_type_name::<String>(), "String");
    }
}
