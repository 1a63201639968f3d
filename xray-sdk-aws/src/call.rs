//! The state of one traced AWS call, kept in the call's config bag.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::{Map, Value};
use xray_sdk_core::Entity;
use xray_sdk_types::EntityId;
use xray_sdk_types::document::{Aws, Cause, CauseDetails, Exception};

/// One AWS call's subsegment and what is known of it so far. It lives in the call's own config bag (the
/// interceptor holds none of it), so concurrent calls on one client never see each other's state.
///
/// If the bag is dropped before the call's last hook ran (the operation timeout fired, or the caller dropped the
/// future), the subsegment ends there as a fault.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) entity: Entity,
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) region: Option<String>,
    attempts: AtomicU32,
    finished: AtomicBool,
    /// The whitelisted request parameters, recorded at the end with the rest.
    pub(crate) request_parameters: Mutex<Map<String, Value>>,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

impl Call {
    pub(crate) fn new(
        entity: Entity,
        service: &str,
        operation: &str,
        region: Option<String>,
    ) -> Self {
        Call {
            entity,
            service: service.to_owned(),
            operation: operation.to_owned(),
            region,
            attempts: AtomicU32::new(0),
            finished: AtomicBool::new(false),
            request_parameters: Mutex::new(Map::new()),
        }
    }

    /// Counts one attempt.
    pub(crate) fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the current attempt is the first.
    pub(crate) fn is_first_attempt(&self) -> bool {
        self.attempts.load(Ordering::Relaxed) <= 1
    }

    /// How many times the call was retried.
    pub(crate) fn retries(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Takes the request parameters (empty if already taken, or if a panic poisoned the lock).
    pub(crate) fn take_request_parameters(&self) -> Map<String, Value> {
        self.request_parameters
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Marks the call finished; true the first time only.
    pub(crate) fn finish(&self) -> bool {
        !self.finished.swap(true, Ordering::AcqRel)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.finish() {
            self.entity.set_fault();
            self.entity.set_aws(aws_block(
                &self.operation,
                self.region.take(),
                Some(self.retries()),
                self.take_request_parameters(),
            ));
            add_exception(
                &self.entity,
                "OperationIncomplete",
                "the call ended before a response: the operation timeout elapsed or the caller stopped waiting",
                false,
            );
            self.entity.end();
        }
    }
}

/// An `aws` block: the operation, the region, the retries, and parameters (of which `table_name` and `queue_url`
/// have fields of their own).
pub(crate) fn aws_block(
    operation: &str,
    region: Option<String>,
    retries: Option<u32>,
    mut parameters: Map<String, Value>,
) -> Aws {
    let mut take_string = |key: &str| match parameters.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            parameters.insert(key.to_owned(), other);
            None
        }
        None => None,
    };
    let table_name = take_string("table_name");
    let queue_url = take_string("queue_url");
    Aws {
        operation: Some(operation.to_owned()),
        region,
        retries,
        table_name,
        queue_url,
        extra: parameters,
        ..Aws::default()
    }
}

/// Records an exception without touching the fault, error and throttle flags (the caller sets those).
pub(crate) fn add_exception(entity: &Entity, type_name: &str, message: &str, remote: bool) {
    entity.with_document(|doc| {
        let exception = Exception {
            id: EntityId::new(),
            message: Some(message.to_owned()),
            type_name: Some(type_name.to_owned()),
            remote: Some(remote),
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        };
        match &mut doc.cause {
            Some(Cause::Details(details)) if details.exceptions.len() < 32 => {
                details.exceptions.push(exception);
            }
            Some(Cause::Details(_)) => {}
            _ => {
                doc.cause = Some(Cause::Details(CauseDetails {
                    exceptions: vec![exception],
                    ..CauseDetails::default()
                }));
            }
        }
    });
}
