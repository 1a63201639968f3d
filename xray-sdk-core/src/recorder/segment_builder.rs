//! Segments and subsegments with options.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use xray_sdk_types::rules::sanitize_name;
use xray_sdk_types::{Namespace, TraceHeader};

use super::Recorder;
use crate::ContextMissingError;
use crate::context::{self, SegmentGuard, SubsegmentGuard};
use crate::entity::{Entity, SegmentStart};
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
        if !inner.enabled.load(Ordering::Relaxed) {
            return Entity::passthrough_segment(header);
        }
        let incoming_root = header.and_then(|h| h.root);
        let forwarded = header.map(|h| h.data.as_slice()).unwrap_or_default();

        // The name is worked out only when something needs it: the sampler, or a sampled segment.
        let name = || {
            let name = sanitize_name(self.name);
            if name.is_empty() {
                self.recorder.segment_name(None).into()
            } else {
                name
            }
        };
        // What the plugins found, once they have; an origin set on the builder wins. Read only by the sampler and
        // by a sampled segment.
        let platform = || inner.platform.get();
        let origin = || {
            inner
                .config
                .origin
                .as_deref()
                .or(platform().map(|p| p.platform.origin))
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
                    request.service_type = origin();
                    inner.sampler.should_sample(&request)
                }
            },
        };

        let trace_id = incoming_root.unwrap_or_default();
        if !decision.sampled {
            return Entity::unsampled_segment(trace_id, inner.pipeline.noop_id(), forwarded);
        }

        let name = sanitized.unwrap_or_else(name);
        let mut aws = platform()
            .map_or(&inner.aws_template, |p| &p.aws_template)
            .clone();
        if let (Some(rule), Some(xray)) = (decision.rule_name, aws.xray.as_mut()) {
            xray.sampling_rule_name = Some((*rule).into());
        }
        Entity::sampled_segment(
            &inner.pipeline,
            SegmentStart {
                name: &name,
                trace_id,
                parent_id: header.and_then(|h| h.parent),
                start_time: self.start_time.map(xray_sdk_types::time::epoch_seconds),
                origin: origin().map(Into::into),
                aws,
                service: inner.service_template.clone(),
                forwarded,
            },
        )
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
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no parent.
    #[inline]
    pub fn begin(self) -> Result<SubsegmentGuard, ContextMissingError> {
        let (entity, inherits) = self.begin_entity()?;
        // A child of an unsampled entity is unsampled too and propagates exactly what its parent does, so
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
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no parent.
    pub fn begin_detached(self) -> Result<SubsegmentGuard, ContextMissingError> {
        Ok(SubsegmentGuard::detached(self.begin_entity()?.0))
    }

    /// The new entity, and whether it merely inherits from an unsampled parent.
    #[inline]
    fn begin_entity(self) -> Result<(Entity, bool), ContextMissingError> {
        let start = self.start_time.map(xray_sdk_types::time::epoch_seconds);
        let current;
        let parent = match self.parent {
            Some(p) => p,
            None => match context::current() {
                Some(c) => {
                    current = c;
                    &current
                }
                None if !self.recorder.is_enabled() => {
                    return Ok((Entity::orphan_subsegment(), false));
                }
                None => {
                    let _: Option<()> = self
                        .recorder
                        .context_missing(&format!("cannot begin subsegment {:?}", self.name))?;
                    return Ok((Entity::orphan_subsegment(), false));
                }
            },
        };
        let inherits = !parent.is_sampled();
        let child = parent.child(self.name, self.namespace, start, self.without_sampling);
        Ok((child, inherits))
    }
}
