//! From a datagram to a [`Record`] or a [`Rejected`] document.

use serde_json::Value;
use xray_sdk_types::framing::{FramingError, split_datagram};
use xray_sdk_types::validate::{Reason, validate};

use super::budget::MAX_MESSAGE_BYTES;
use super::extract::Record;

/// A document kept aside: why it was refused, and what it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The stable reason code (as counted in the stats).
    pub code: &'static str,
    /// A readable message, with the JSON path of the problem where there is one (cut to
    /// [`MAX_MESSAGE_BYTES`]).
    pub message: String,
    /// The datagram or document, as received (cut to [`MAX_KEPT_BYTES`]).
    pub body: Vec<u8>,
    /// When the daemon received it, epoch seconds.
    pub received_at: f64,
}

/// The most bytes of a rejected datagram kept for inspection.
pub const MAX_KEPT_BYTES: usize = 4096;

/// The outcome of one datagram.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A valid document.
    Valid(Record),
    /// An invalid datagram or document.
    Invalid(Rejected),
}

/// The reason code of a framing problem.
pub fn framing_code(error: &FramingError) -> &'static str {
    match error {
        FramingError::MissingHeader => "missing_header",
        FramingError::InvalidHeader(_) => "invalid_header",
        FramingError::EmptyDocument => "empty_document",
        FramingError::TooLarge(_) => "datagram_too_large",
    }
}

/// Checks a datagram's header line and validates its document.
pub fn process_datagram(datagram: &[u8], received_at: f64) -> Item {
    let reject = |code, mut message: String| {
        let body = datagram[..datagram.len().min(MAX_KEPT_BYTES)].to_vec();
        cut(&mut message, MAX_MESSAGE_BYTES);
        Item::Invalid(Rejected {
            code,
            message,
            body,
            received_at,
        })
    };
    let document = match split_datagram(datagram) {
        Ok(document) => document,
        Err(e) => return reject(framing_code(&e), e.to_string()),
    };
    process_document(document, received_at).unwrap_or_else(|(code, message)| reject(code, message))
}

/// Validates a document (without header line).
///
/// # Errors
/// The reason code and message of the first problem found.
pub fn process_document(document: &[u8], received_at: f64) -> Result<Item, (&'static str, String)> {
    if document.len() > xray_sdk_types::validate::MAX_DOCUMENT_BYTES {
        let reason = Reason::TooLarge(document.len());
        return Err((reason.code(), format!("$: {reason}")));
    }
    let value: Value = serde_json::from_slice(document).map_err(|e| {
        let reason = Reason::NotJson(e.to_string());
        (reason.code(), format!("$: {reason}"))
    })?;
    validate(&value).map_err(|e| (e.reason.code(), e.to_string()))?;
    let body = trim(document).to_vec();
    Record::from_valid(&value, body, received_at)
        .map(Item::Valid)
        .ok_or(("missing_field", "$: required field is missing".to_owned()))
}

/// Cuts `text` to at most `max` bytes, at a character boundary, ending with `…` when cut; gives back the room.
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text.shrink_to_fit();
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"53995c3f42cd8ad8","name":"a","start_time":1,"end_time":2}"#;

    fn code(item: &Item) -> &'static str {
        match item {
            Item::Valid(_) => "valid",
            Item::Invalid(r) => r.code,
        }
    }

    #[test]
    fn classifies_datagrams() {
        let ok = format!("{{\"format\":\"json\",\"version\":1}}\n{DOC}\n");
        let Item::Valid(record) = process_datagram(ok.as_bytes(), 5.0) else {
            panic!("expected a valid document");
        };
        assert_eq!(record.body, DOC.as_bytes());
        assert_eq!(record.received_at, 5.0);
        assert_eq!(
            code(&process_datagram(DOC.as_bytes(), 0.0)),
            "missing_header"
        );
        assert_eq!(
            code(&process_datagram(b"{\"format\":\"xml\"}\n{}", 0.0)),
            "invalid_header"
        );
        assert_eq!(
            code(&process_datagram(
                b"{\"format\":\"json\",\"version\":1}\n",
                0.0
            )),
            "empty_document"
        );
        assert_eq!(
            code(&process_datagram(
                b"{\"format\":\"json\",\"version\":1}\n{nope",
                0.0
            )),
            "not_json"
        );
        assert_eq!(
            code(&process_datagram(
                b"{\"format\":\"json\",\"version\":1}\n{\"id\":\"x\"}",
                0.0
            )),
            "missing_field"
        );
        assert_eq!(
            code(&process_datagram(&vec![b'x'; 70_000], 0.0)),
            "datagram_too_large"
        );
        let Item::Invalid(rejected) = process_datagram(&vec![b'x'; 70_000], 0.0) else {
            panic!("expected an invalid datagram");
        };
        assert_eq!(rejected.body.len(), MAX_KEPT_BYTES);
        assert_eq!(
            rejected.message,
            "datagram of 70000 bytes exceeds the 65507-byte limit"
        );
    }
}
