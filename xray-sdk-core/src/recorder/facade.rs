//! Facade segments: the parent of subsegments whose segment another party sends (AWS Lambda sends the
//! function's segment itself).

use xray_sdk_types::TraceHeader;

use super::Recorder;
use crate::entity::Entity;

impl Recorder {
    /// Begins a facade segment for the trace context of `header`: a segment that stands for one that someone
    /// else sends (in AWS Lambda, the function's segment, which Lambda sends), so that the work recorded under
    /// it has a parent. The facade takes its trace id from `Root` and its id from `Parent`; it is never sent and
    /// ignores what is recorded on it (annotations, metadata, errors). Each of its subsegments leaves as soon as
    /// it ends with all its own subsegments, as an independent subsegment (`type: subsegment`, `trace_id` =
    /// `Root`, `parent_id` = `Parent`).
    ///
    /// Only a header with `Root`, `Parent` and `Sampled=1` gives a recorded facade. With `Sampled=0` the facade
    /// and everything under it are unrecorded, and calls made under it propagate `Root` and `Sampled=0`. Without
    /// `Root`, `Parent` or a decision (`Sampled=?` or none), nothing can be attached to the caller's segment,
    /// so the facade is unrecorded as well (under a new trace id when `Root` is missing). With the SDK disabled,
    /// the header is passed on unchanged. The recorder's sampler is never asked.
    ///
    /// The facade needs no ending: drop its handles when the invocation is over.
    ///
    /// ```
    /// use xray_sdk_core::{FutureExt, Recorder};
    /// use xray_sdk_core::types::TraceHeader;
    /// # use xray_sdk_core::emitter::MemoryEmitter;
    /// # let emitter = MemoryEmitter::new();
    /// # let recorder = Recorder::builder().emitter(emitter.clone())
    /// #     .env(xray_sdk_core::config::MapEnv::default()).build()?;
    ///
    /// let header = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")?;
    /// let facade = recorder.facade(&header);
    /// {
    ///     let _in_facade = xray_sdk_core::context::enter(facade);
    ///     let handler = recorder.begin_subsegment("handler")?;
    ///     handler.put_annotation("order_id", "A-1");
    /// } // `handler` is sent here, with parent_id 53995c3f42cd8ad8
    /// # let docs = emitter.documents();
    /// # assert_eq!(docs[0].parent_id.unwrap().to_string(), "53995c3f42cd8ad8");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn facade(&self, header: &TraceHeader) -> Entity {
        let inner = &self.inner;
        if !self.is_enabled() {
            return Entity::passthrough_segment(Some(header));
        }
        let decision = header.sampled.and_then(|s| s.decision());
        match (header.root, header.parent, decision) {
            (Some(root), Some(parent), Some(true)) => {
                Entity::facade(&inner.pipeline, root, parent, &header.data)
            }
            (root, _, _) => Entity::unsampled_segment(
                root.unwrap_or_default(),
                inner.pipeline.noop_id(),
                &header.data,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::MapEnv;
    use crate::context;
    use crate::emitter::MemoryEmitter;
    use xray_sdk_types::document::DocumentType;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:fe460cdd:0";

    fn recorder() -> (Recorder, MemoryEmitter) {
        let emitter = MemoryEmitter::new();
        let recorder = Recorder::builder()
            .env(MapEnv::new([("AWS_LAMBDA_FUNCTION_NAME", "f")]))
            .emitter(emitter.clone())
            .build()
            .unwrap();
        (recorder, emitter)
    }

    #[test]
    fn each_child_of_the_facade_leaves_alone_when_complete() {
        let (recorder, emitter) = recorder();
        let facade = recorder.facade(&TraceHeader::parse(HEADER).unwrap());
        assert!(facade.is_sampled());
        assert_eq!(facade.id().to_string(), "53995c3f42cd8ad8");
        facade.put_annotation("ignored", 1);
        let _in = context::enter(facade.clone());
        {
            let handler = recorder.begin_subsegment("handler").unwrap();
            assert_eq!(
                handler.trace_header().unwrap().to_string(),
                format!(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1;Lineage=1:fe460cdd:0",
                    handler.id()
                )
            );
            let _inner = recorder.begin_subsegment("inner").unwrap();
        }
        {
            let _second = recorder.begin_subsegment("second").unwrap();
        }
        facade.end();
        let docs = emitter.documents();
        assert_eq!(docs.len(), 2);
        for (doc, name) in docs.iter().zip(["handler", "second"]) {
            assert_eq!(doc.name, name);
            assert_eq!(doc.kind, Some(DocumentType::Subsegment));
            assert_eq!(doc.trace_id, TraceHeader::parse(HEADER).unwrap().root);
            assert_eq!(doc.parent_id.unwrap().to_string(), "53995c3f42cd8ad8");
            assert!(doc.annotations.get("ignored").is_none());
        }
        assert_eq!(docs[0].subsegments[0].name, "inner");
    }

    #[test]
    fn unsampled_or_incomplete_headers_record_nothing() {
        let (recorder, emitter) = recorder();
        for text in [
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Parent=53995c3f42cd8ad8;Sampled=1",
        ] {
            let facade = recorder.facade(&TraceHeader::parse(text).unwrap());
            assert!(!facade.is_sampled(), "{text}");
            let _in = context::enter(facade);
            let _sub = recorder.begin_subsegment("handler").unwrap();
        }
        let facade = recorder.facade(
            &TraceHeader::parse(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            )
            .unwrap(),
        );
        assert_eq!(
            facade.trace_header().unwrap().to_string(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
        );
        assert!(emitter.documents().is_empty());
    }

    #[test]
    fn lambda_recorders_record_no_segment_of_their_own() {
        let (recorder, emitter) = recorder();
        assert!(recorder.config().lambda);
        drop(recorder.begin_segment("own"));
        assert!(emitter.documents().is_empty());
    }
}

#[cfg(test)]
mod python_vectors {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::MapEnv;
    use crate::emitter::MemoryEmitter;

    /// The Python SDK's facade decisions: recorded only for `Root`, `Parent` and `Sampled=1`. Where Python
    /// falls back to a dummy segment with the no-op trace id, the facade here keeps the incoming `Root`.
    #[test]
    fn facades_are_recorded_as_in_the_python_sdk() {
        let vectors: serde_json::Value =
            serde_json::from_str(&xray_sdk_testdata::read_text("python-sdk-vectors.json")).unwrap();
        let recorder = Recorder::builder()
            .env(MapEnv::default())
            .emitter(MemoryEmitter::new())
            .build()
            .unwrap();
        for case in vectors["lambda_facade"]["cases"].as_array().unwrap() {
            let header = case["_X_AMZN_TRACE_ID"]
                .as_str()
                .map(|text| TraceHeader::parse(text).unwrap())
                .unwrap_or_default();
            let facade = recorder.facade(&header);
            assert_eq!(
                facade.is_sampled(),
                case["sampled"] == true && case["subsegment_attached"] == true,
                "{case}"
            );
            if facade.is_sampled() {
                assert_eq!(facade.id().to_string(), case["id"]);
            }
            if let Some(root) = header.root {
                assert_eq!(facade.trace_id(), root);
            }
        }
    }
}
