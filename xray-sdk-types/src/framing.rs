//! The UDP framing of the daemon protocol: a header line, `\n`, then one JSON document.

use serde::Deserialize;

/// The header line SDKs send, without its newline.
pub const PROTOCOL_HEADER: &str = r#"{"format":"json","version":1}"#;
/// The header line and its newline: the prefix of every datagram.
pub const DATAGRAM_PREFIX: &str = "{\"format\":\"json\",\"version\":1}\n";
/// The largest UDP payload over IPv4, and so the largest datagram an SDK may send: 65,507 bytes.
pub const MAX_DATAGRAM_SIZE: usize = 65_507;
/// The largest document that fits in one datagram after [`DATAGRAM_PREFIX`].
pub const MAX_DOCUMENT_SIZE: usize = MAX_DATAGRAM_SIZE - DATAGRAM_PREFIX.len();

/// Why a datagram could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// No newline separates a header from a document.
    #[error("missing header line")]
    MissingHeader,
    /// The header line is not the JSON object `{"format":"json","version":1}`.
    #[error("invalid header line: {0}")]
    InvalidHeader(String),
    /// Nothing follows the header line.
    #[error("empty document after the header line")]
    EmptyDocument,
    /// The datagram is larger than [`MAX_DATAGRAM_SIZE`].
    #[error("datagram of {0} bytes exceeds the {MAX_DATAGRAM_SIZE}-byte limit")]
    TooLarge(usize),
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: serde_json::Value,
}

/// Splits a datagram into its document bytes, after checking its header line as JSON (so that the spaced
/// `{"format": "json", "version": 1}` of other SDKs is accepted, like the exact form).
///
/// # Errors
/// [`FramingError`] for a datagram over the size limit, without a header line, with a header other than format
/// `json` (any case) and version 1, or with nothing after the header.
pub fn split_datagram(datagram: &[u8]) -> Result<&[u8], FramingError> {
    if datagram.len() > MAX_DATAGRAM_SIZE {
        return Err(FramingError::TooLarge(datagram.len()));
    }
    let newline = datagram
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(FramingError::MissingHeader)?;
    let (header, rest) = (&datagram[..newline], &datagram[newline + 1..]);
    if header != PROTOCOL_HEADER.as_bytes() {
        let parsed: Header = serde_json::from_slice(header).map_err(|e| {
            FramingError::InvalidHeader(format!("{}: {e}", String::from_utf8_lossy(header)))
        })?;
        let version_ok = parsed.version.as_u64() == Some(1);
        if !parsed.format.eq_ignore_ascii_case("json") || !version_ok {
            return Err(FramingError::InvalidHeader(
                String::from_utf8_lossy(header).into_owned(),
            ));
        }
    }
    if rest.iter().all(u8::is_ascii_whitespace) {
        return Err(FramingError::EmptyDocument);
    }
    Ok(rest)
}

/// Appends a datagram for `document` to `out`: the header line, then the document.
pub fn write_datagram(out: &mut Vec<u8>, document: &[u8]) {
    out.reserve(DATAGRAM_PREFIX.len() + document.len());
    out.extend_from_slice(DATAGRAM_PREFIX.as_bytes());
    out.extend_from_slice(document);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_header_spellings() {
        assert_eq!(
            split_datagram(b"{\"format\":\"json\",\"version\":1}\n{}"),
            Ok(&b"{}"[..])
        );
        assert_eq!(
            split_datagram(b"{\"format\": \"JSON\", \"version\": 1}\n{\"a\":1}"),
            Ok(&b"{\"a\":1}"[..])
        );
    }

    #[test]
    fn rejects_bad_datagrams() {
        assert_eq!(split_datagram(b"{}"), Err(FramingError::MissingHeader));
        assert!(matches!(
            split_datagram(b"{\"format\":\"xml\",\"version\":1}\n{}"),
            Err(FramingError::InvalidHeader(_))
        ));
        assert!(matches!(
            split_datagram(b"{\"format\":\"json\",\"version\":2}\n{}"),
            Err(FramingError::InvalidHeader(_))
        ));
        assert!(matches!(
            split_datagram(b"garbage\n{}"),
            Err(FramingError::InvalidHeader(_))
        ));
        assert_eq!(
            split_datagram(b"{\"format\":\"json\",\"version\":1}\n \n"),
            Err(FramingError::EmptyDocument)
        );
        let big = vec![b' '; MAX_DATAGRAM_SIZE + 1];
        assert_eq!(
            split_datagram(&big),
            Err(FramingError::TooLarge(MAX_DATAGRAM_SIZE + 1))
        );
    }

    #[test]
    fn writes_the_exact_prefix() {
        let mut out = Vec::new();
        write_datagram(&mut out, b"{}");
        assert_eq!(out, b"{\"format\":\"json\",\"version\":1}\n{}");
        assert_eq!(MAX_DOCUMENT_SIZE, 65_477);
    }
}
