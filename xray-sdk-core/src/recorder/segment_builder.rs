//! Segments and subsegments with options.

use std::sync::Arc;
use std::time::SystemTime;

use xray_sdk_types::rules::sanitize_name;
use xray_sdk_types::{EntityId, Namespace, TraceHeader, TraceId};

use super::{Recorder, begin_child};
use crate::Error;
use crate::context;
use crate::entity::trace::Trace;
use crate::entity::{Entity, Repr, SegmentGuard, SubsegmentGuard};
use crate::sampling::{SamplingDecision, SamplingRequest};

/// A segment about to begin. Made by [`Recorder::segment`].
#[derive(Debug)]
#[must_use = "call begin() to start the segment"]
pub struct SegmentBuilder<'a> {
    recorder: &'a Recorder,
    name: &'a str,
    header: Option<&'a TraceHeader>,
    request: SamplingRequest<'a>,
    decision: Option<SamplingDecision>,
    start_time: Option<SystemTime>,
}

impl<'a> SegmentBuilder<'a> {
    #[inline]
    pub(super) fn new(recorder: &'a Recorder, name: &'a str) -> Self {
        SegmentBuilder {
            recorder,
            name,
            header: None,
            request: SamplingRequest::default(),
            decision: None,
            start_time: None,
        }
    }

    /// Continues the trace of an incoming header: its `Root` becomes the trace id, its `Parent` the
    /// segment's `parent_id`, its `Sampled=1`/`Sampled=0` the decision (`?` or none asks the sampler), and its
    /// other fields are forwarded downstream.
    pub fn trace_header(mut self, header: &'a TraceHeader) -> Self {
        self.header = Some(header);
        self
    }

    /// The HTTP request, for the sampler's rules.
    pub fn http_request(
        mut self,
        host: Option<&'a str>,
        method: Option<&'a str>,
        path: Option<&'a str>,
    ) -> Self {
        self.request.host = host;
        self.request.method = method;
        self.request.url_path = path;
        self
    }

    /// Decides sampling instead of asking the header and the sampler.
    #[inline]
    pub fn decision(mut self, decision: SamplingDecision) -> Self {
        self.decision = Some(decision);
        self
    }

    /// Records the trace, or not, whatever the header and the sampler say.
    #[inline]
    pub fn sampled(self, sampled: bool) -> Self {
        self.decision(SamplingDecision {
            sampled,
            rule_name: None,
        })
    }

    /// An explicit start time.
    pub fn start_time(mut self, start: SystemTime) -> Self {
        self.start_time = Some(start);
        self
    }

    /// Begins the segment and makes it the current entity until the guard drops.
    #[inline]
    pub fn begin(self) -> SegmentGuard {
        SegmentGuard::attached(self.begin_entity())
    }

    /// Begins the segment without touching the current context (for async code that instruments a future
    /// with it).
    pub fn begin_detached(self) -> SegmentGuard {
        SegmentGuard::detached(self.begin_entity())
    }

    #[inline]
    fn begin_entity(self) -> Entity {
        let inner = &self.recorder.inner;
        let header = self.header;
        let incoming_root = header.and_then(|h| h.root);
        let origin_data = header.map(|h| h.data.as_slice()).unwrap_or_default();

        if !inner.config.enabled {
            return Entity::not_recorded(
                incoming_root.unwrap_or(TraceId::NOOP),
                EntityId::NOOP,
                true,
                None,
            );
        }

        // The name is worked out only when something needs it: the sampler, or a recorded segment.
        let name = || {
            let name = sanitize_name(self.name);
            if name.is_empty() {
                self.recorder.segment_name(None).to_owned().into()
            } else {
                name
            }
        };
        let mut sanitized = None;
        let decision = match self.decision {
            Some(d) => d,
            None => match header.and_then(|h| h.sampled).and_then(|s| s.decision()) {
                Some(sampled) => SamplingDecision {
                    sampled,
                    rule_name: None,
                },
                None => {
                    let name = sanitized.insert(name());
                    let mut request = self.request;
                    request.service_name = name;
                    request.service_type = inner.config.origin.as_deref();
                    inner.sampler.should_sample(&request)
                }
            },
        };

        let trace_id = incoming_root.unwrap_or_default();
        if !decision.sampled {
            let data = (!origin_data.is_empty()).then(|| Arc::new(origin_data.to_vec()));
            return Entity::not_recorded(trace_id, inner.noop_id(), true, data);
        }

        let id = EntityId::new();
        let start = match self.start_time {
            Some(t) => xray_sdk_types::time::epoch_seconds(t),
            None => inner.now(),
        };
        let name = sanitized.unwrap_or_else(name);
        let mut doc = crate::entity::recycle::document(id, &name, start);
        doc.trace_id = Some(trace_id);
        doc.parent_id = header.and_then(|h| h.parent);
        doc.origin = inner.config.origin.clone();
        let mut aws = inner.aws_template.clone();
        if let (Some(rule), Some(xray)) = (decision.rule_name, aws.xray.as_mut()) {
            xray.sampling_rule_name = Some((*rule).into());
        }
        doc.aws = Some(Box::new(aws));
        doc.service = Some(Box::new(inner.service_template.clone()));
        let trace = Trace::new(Arc::clone(inner), trace_id, origin_data.to_vec(), doc);
        Entity {
            repr: Repr::Recorded {
                trace,
                node: 0,
                id,
                segment_id: id,
            },
        }
    }
}

/// A subsegment about to begin. Made by [`Recorder::subsegment`].
#[derive(Debug)]
#[must_use = "call begin() to start the subsegment"]
pub struct SubsegmentBuilder<'a> {
    recorder: &'a Recorder,
    name: &'a str,
    namespace: Option<Namespace>,
    start_time: Option<SystemTime>,
    without_sampling: bool,
    parent: Option<&'a Entity>,
}

impl<'a> SubsegmentBuilder<'a> {
    #[inline]
    pub(super) fn new(recorder: &'a Recorder, name: &'a str) -> Self {
        SubsegmentBuilder {
            recorder,
            name,
            namespace: None,
            start_time: None,
            without_sampling: false,
            parent: None,
        }
    }

    /// The namespace: `remote` for calls to other services, `aws` for AWS calls, `local` (or none) otherwise.
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// An explicit start time.
    pub fn start_time(mut self, start: SystemTime) -> Self {
        self.start_time = Some(start);
        self
    }

    /// Never sample this subsegment (nor its descendants).
    pub fn without_sampling(mut self) -> Self {
        self.without_sampling = true;
        self
    }

    /// A subsegment of `parent` rather than of the current entity.
    pub fn parent(mut self, parent: &'a Entity) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Begins the subsegment and makes it current until the guard drops.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no parent.
    #[inline]
    pub fn begin(self) -> Result<SubsegmentGuard, Error> {
        let (entity, inherits) = self.begin_entity()?;
        // A child of an unrecorded entity is unrecorded too and propagates exactly what its parent does, so
        // the context is left alone: the unsampled path stays nearly free.
        Ok(if inherits {
            SubsegmentGuard::detached(entity)
        } else {
            SubsegmentGuard::attached(entity)
        })
    }

    /// Begins the subsegment without touching the current context.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no parent.
    pub fn begin_detached(self) -> Result<SubsegmentGuard, Error> {
        Ok(SubsegmentGuard::detached(self.begin_entity()?.0))
    }

    /// The new entity, and whether it merely inherits from an unrecorded parent.
    #[inline]
    fn begin_entity(self) -> Result<(Entity, bool), Error> {
        let inner = &self.recorder.inner;
        if !inner.config.enabled {
            return Ok((
                Entity::not_recorded(TraceId::NOOP, EntityId::NOOP, false, None),
                true,
            ));
        }
        let start = self.start_time.map(xray_sdk_types::time::epoch_seconds);
        let current;
        let parent = match self.parent {
            Some(p) => p,
            None => match context::current() {
                Some(c) => {
                    current = c;
                    &current
                }
                None => {
                    let missing: Option<()> = self
                        .recorder
                        .context_missing(&format!("cannot begin subsegment {:?}", self.name))?;
                    let _ = missing;
                    return Ok((
                        Entity::not_recorded(TraceId::NOOP, EntityId::NOOP, false, None),
                        false,
                    ));
                }
            },
        };
        let inherits = !parent.is_sampled();
        Ok((
            begin_child(
                parent,
                self.name,
                self.namespace,
                start,
                self.without_sampling,
            ),
            inherits,
        ))
    }
}
