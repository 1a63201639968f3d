//! Continuing a trace that arrived with a message (SQS's `AWSTraceHeader`).

use xray_sdk_types::TraceHeader;

/// The name of the SQS message system attribute that carries the trace header (also the key in an
/// SQS-triggered Lambda event's `attributes`).
pub const AWS_TRACE_HEADER_ATTRIBUTE: &str = "AWSTraceHeader";

/// Parses the value of an `AWSTraceHeader` attribute (as found in a received SQS message, or in the `attributes`
/// of a record of an SQS-triggered Lambda event). A malformed value gives `None`, logged at debug level.
///
/// Begin the consumer's segment with it to continue the producer's trace:
/// ```
/// use xray_sdk_core::Recorder;
///
/// # fn handle(recorder: &Recorder, attribute: &str) {
/// let header = xray_sdk_aws::trace_header_from_attribute(attribute);
/// let mut segment = recorder.segment("consumer");
/// if let Some(header) = &header {
///     segment = segment.trace_header(header);
/// }
/// let _guard = segment.begin();
/// // … process the message …
/// # }
/// ```
pub fn trace_header_from_attribute(value: &str) -> Option<TraceHeader> {
    match TraceHeader::parse(value) {
        Ok(header) if header.root.is_some() => Some(header),
        Ok(_) => {
            log::debug!("X-Ray: AWSTraceHeader {value:?} has no Root; a new trace begins");
            None
        }
        Err(e) => {
            log::debug!("X-Ray: AWSTraceHeader {value:?} is malformed ({e}); a new trace begins");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_attributes() {
        let h = trace_header_from_attribute(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        );
        assert!(h.is_some_and(|h| h.parent.is_some()));
        assert!(trace_header_from_attribute("").is_none());
        assert!(trace_header_from_attribute("Parent=53995c3f42cd8ad8").is_none());
        assert!(trace_header_from_attribute("Root=garbage").is_none());
    }
}
