//! The `X-Amzn-Trace-Id` trace header, and its mapping to the W3C `traceparent` header.
//!
//! The same text travels in the HTTP header `X-Amzn-Trace-Id`, in the Lambda environment variable
//! `_X_AMZN_TRACE_ID` and in the SQS system attribute `AWSTraceHeader`:
//! `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a87bd80c:0`.
//!
//! # How parsing differs from the Python SDK, on purpose
//! - Whitespace around `;` and `=` is ignored (`Root=…; Parent=…` keeps its `Parent`), where Python stores
//!   `" Parent"` as an unknown key and loses the parent.
//! - Empty fields, such as the one a trailing `;` leaves, are skipped, where Python rejects the whole header.
//!   So is an unknown field with an empty value (`Lineage=`), which Python keeps and passes on.
//! - A value keeps everything after the first `=` (`Foo=bar=baz` → `bar=baz`), where Python keeps `bar`.
//! - `Root` and `Parent` must be well-formed ids, so that a garbage id never reaches a segment document (Python
//!   accepts any text, and the daemon later rejects the document). Their hex digits may be upper-case, as the
//!   segment document schema allows; ids are numbers here, written back in lower case as X-Ray writes them.
//! - A malformed field costs that field only: [`TraceHeader::parse_lossy`], which the SDK uses on incoming
//!   requests, keeps every well-formed field (a bad `Parent` leaves `Root` and `Sampled` in place) and reports
//!   the fields it dropped. [`TraceHeader::parse`] is the strict form, an error at the first malformed field.
//! - A header longer than [`MAX_HEADER_LEN`] is an error (and read as empty), so that memory stays bounded.
//!
//! As in every X-Ray SDK, keys are case-sensitive (`root=` is an unknown key), `Self` (added by load balancers) is
//! dropped, and `Lineage` and other unknown keys are kept in their order and written back unchanged.

use std::fmt;
use std::str::FromStr;

use crate::id::{EntityId, IdError, TraceId};

/// The HTTP header name.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";
/// The environment variable through which Lambda passes the header of the current invocation.
pub const LAMBDA_ENV_VAR: &str = "_X_AMZN_TRACE_ID";
/// The SQS message system attribute that carries the header.
pub const SQS_ATTRIBUTE: &str = "AWSTraceHeader";
/// The W3C trace-context header name.
pub const TRACEPARENT_HEADER_NAME: &str = "traceparent";
/// The longest header text that [`TraceHeader::parse`] accepts, in bytes.
pub const MAX_HEADER_LEN: usize = 8192;

/// The `Sampled` field of a trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamplingFlag {
    /// `Sampled=1`: the caller sampled the request.
    Sampled,
    /// `Sampled=0`: the caller did not sample the request.
    NotSampled,
    /// `Sampled=?`: the caller asks the callee to decide, and to report its decision in the response header.
    Requested,
}

impl SamplingFlag {
    /// The header text of the flag: `1`, `0` or `?`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SamplingFlag::Sampled => "1",
            SamplingFlag::NotSampled => "0",
            SamplingFlag::Requested => "?",
        }
    }

    /// The flag for a decision.
    pub const fn from_decision(sampled: bool) -> Self {
        if sampled {
            SamplingFlag::Sampled
        } else {
            SamplingFlag::NotSampled
        }
    }

    /// `Some(true)` or `Some(false)` for a made decision, `None` for [`SamplingFlag::Requested`].
    pub const fn decision(&self) -> Option<bool> {
        match self {
            SamplingFlag::Sampled => Some(true),
            SamplingFlag::NotSampled => Some(false),
            SamplingFlag::Requested => None,
        }
    }
}

/// Why a trace header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The header is longer than [`MAX_HEADER_LEN`].
    #[error("trace header is {0} bytes long, more than the {MAX_HEADER_LEN} accepted")]
    TooLong(usize),
    /// A field has no `=`, or an empty key.
    #[error("trace header field {0:?} is not of the form Key=Value")]
    MalformedField(String),
    /// The `Root` field is not a valid trace id.
    #[error("trace header Root {value:?} is not a valid trace id: {source}")]
    InvalidRoot {
        /// The text given.
        value: String,
        /// What is wrong with it.
        source: IdError,
    },
    /// The `Parent` field is not a valid entity id.
    #[error("trace header Parent {value:?} is not a valid id: {source}")]
    InvalidParent {
        /// The text given.
        value: String,
        /// What is wrong with it.
        source: IdError,
    },
    /// A `traceparent` header that does not follow the W3C format.
    #[error("traceparent header is malformed: {0}")]
    Traceparent(&'static str),
}

/// A parsed `X-Amzn-Trace-Id` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeader {
    /// `Root`: the trace id.
    pub root: Option<TraceId>,
    /// `Parent`: the id of the caller's segment or subsegment.
    pub parent: Option<EntityId>,
    /// `Sampled`: the caller's decision, or its request that the callee decide.
    pub sampled: Option<SamplingFlag>,
    /// Every other field (`Lineage` among them), in the order received, without `Self`.
    pub data: Vec<(String, String)>,
}

impl TraceHeader {
    /// A header with a root, an optional parent and a sampling flag, and no other fields.
    pub fn new(root: TraceId, parent: Option<EntityId>, sampled: Option<SamplingFlag>) -> Self {
        TraceHeader {
            root: Some(root),
            parent,
            sampled,
            data: Vec::new(),
        }
    }

    /// Parses the header text strictly. Surrounding whitespace and empty fields are ignored; see the
    /// [module documentation](self) for the exact rules, and [`TraceHeader::parse_lossy`] for the form that
    /// keeps the well-formed fields of a header with a malformed one.
    ///
    /// # Errors
    /// [`HeaderError`] for text longer than [`MAX_HEADER_LEN`], a field that is not `Key=Value`, or an invalid
    /// `Root` or `Parent`: the first of them.
    pub fn parse(text: &str) -> Result<Self, HeaderError> {
        let mut first = None;
        let header = Self::parse_fields(text, |e| {
            first.get_or_insert(e);
        });
        match first {
            Some(e) => Err(e),
            None => Ok(header),
        }
    }

    /// Parses the header text, keeping every well-formed field and dropping each malformed one (a field that
    /// is not `Key=Value`, an invalid `Root` or `Parent`), which it returns beside the header so that the
    /// caller can log them. Text longer than [`MAX_HEADER_LEN`] gives an empty header.
    ///
    /// ```
    /// use xray_sdk_types::header::{HeaderError, SamplingFlag, TraceHeader};
    ///
    /// let (header, dropped) =
    ///     TraceHeader::parse_lossy("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=xyz;Sampled=1");
    /// assert_eq!(header.to_string(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
    /// assert!(matches!(dropped.as_slice(), [HeaderError::InvalidParent { .. }]));
    /// ```
    pub fn parse_lossy(text: &str) -> (Self, Vec<HeaderError>) {
        let mut dropped = Vec::new();
        let header = Self::parse_fields(text, |e| dropped.push(e));
        (header, dropped)
    }

    /// The well-formed fields of `text`; `dropped` hears of each malformed one.
    fn parse_fields(text: &str, mut dropped: impl FnMut(HeaderError)) -> Self {
        let mut header = TraceHeader::default();
        if text.len() > MAX_HEADER_LEN {
            dropped(HeaderError::TooLong(text.len()));
            return header;
        }
        for field in text.split(';') {
            let field = field.trim();
            if field.is_empty() {
                continue;
            }
            let Some((key, value)) = field.split_once('=') else {
                dropped(HeaderError::MalformedField(field.to_owned()));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "" => dropped(HeaderError::MalformedField(field.to_owned())),
                "Root" => match any_case(value, TraceId::parse) {
                    Ok(id) => header.root = Some(id),
                    Err(source) => dropped(HeaderError::InvalidRoot {
                        value: value.to_owned(),
                        source,
                    }),
                },
                "Parent" => match any_case(value, EntityId::parse) {
                    Ok(id) => header.parent = Some(id),
                    Err(source) => dropped(HeaderError::InvalidParent {
                        value: value.to_owned(),
                        source,
                    }),
                },
                "Sampled" => {
                    header.sampled = match value {
                        "1" => Some(SamplingFlag::Sampled),
                        "0" => Some(SamplingFlag::NotSampled),
                        "?" => Some(SamplingFlag::Requested),
                        _ => None,
                    };
                }
                "Self" => {}
                // Nothing worth passing on, and `Lineage=` is malformed.
                _ if value.is_empty() => {}
                _ => match header.data.iter_mut().find(|(k, _)| k == key) {
                    Some(slot) => value.clone_into(&mut slot.1),
                    None => header.data.push((key.to_owned(), value.to_owned())),
                },
            }
        }
        header
    }

    /// The value of an unknown field such as `Lineage`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the header carries nothing.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
            && self.parent.is_none()
            && self.sampled.is_none()
            && self.data.is_empty()
    }

    /// Parses a W3C `traceparent` header (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`) into the
    /// equivalent X-Ray header: `Root=1-<first 8 hex>-<last 24 hex>`, `Parent=<parent id>`, and `Sampled` from the
    /// low bit of the flags.
    ///
    /// # Errors
    /// [`HeaderError::Traceparent`] for any text that is not a valid `traceparent` of version 00 (or a later
    /// version with the same leading fields).
    pub fn from_traceparent(text: &str) -> Result<Self, HeaderError> {
        let text = text.trim();
        let mut parts = text.split('-');
        let (Some(version), Some(trace), Some(parent), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HeaderError::Traceparent(
                "expected four '-'-separated fields",
            ));
        };
        if version.len() != 2 || !version.bytes().all(is_lower_hex) {
            return Err(HeaderError::Traceparent("version is not two hex digits"));
        }
        if version == "ff" {
            return Err(HeaderError::Traceparent("version ff is invalid"));
        }
        if version == "00" && parts.next().is_some() {
            return Err(HeaderError::Traceparent(
                "version 00 has exactly four fields",
            ));
        }
        let root = TraceId::from_w3c(trace)
            .map_err(|_| HeaderError::Traceparent("trace id is not 32 lower-case hex digits"))?;
        let parent = EntityId::parse(parent)
            .map_err(|_| HeaderError::Traceparent("parent id is not 16 lower-case hex digits"))?;
        if parent.is_noop() {
            return Err(HeaderError::Traceparent("parent id is all zeros"));
        }
        // `from_str_radix` alone would take a sign (`+1`) and upper case.
        if flags.len() != 2 || !flags.bytes().all(is_lower_hex) {
            return Err(HeaderError::Traceparent("flags are not two hex digits"));
        }
        let flags = u8::from_str_radix(flags, 16)
            .map_err(|_| HeaderError::Traceparent("flags are not two hex digits"))?;
        Ok(TraceHeader::new(
            root,
            Some(parent),
            Some(SamplingFlag::from_decision(flags & 1 == 1)),
        ))
    }

    /// The W3C `traceparent` form of this header, when it has a root and a parent.
    pub fn to_traceparent(&self) -> Option<String> {
        let root = self.root?;
        let parent = self.parent?;
        let flags = if self.sampled == Some(SamplingFlag::Sampled) {
            "01"
        } else {
            "00"
        };
        Some(format!("00-{}-{}-{}", root.to_w3c(), parent, flags))
    }
}

/// Parses an id of the trace header with `parse`, which takes lower-case hex digits only, after putting
/// upper-case ones in lower case; the error is the one the text as given had.
fn any_case<T>(value: &str, parse: impl Fn(&str) -> Result<T, IdError>) -> Result<T, IdError> {
    match parse(value) {
        Err(e) if value.bytes().any(|b| b.is_ascii_uppercase()) => {
            parse(&value.to_ascii_lowercase()).map_err(|_| e)
        }
        other => other,
    }
}

/// Whether `b` is a lower-case hex digit, the only kind W3C trace context allows.
fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

impl fmt::Display for TraceHeader {
    /// Writes `Root=…;Parent=…;Sampled=…` followed by the other fields in order; absent fields are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(root) = &self.root {
            write!(f, "Root={root}")?;
            sep = ";";
        }
        if let Some(parent) = &self.parent {
            write!(f, "{sep}Parent={parent}")?;
            sep = ";";
        }
        if let Some(sampled) = &self.sampled {
            write!(f, "{sep}Sampled={}", sampled.as_str())?;
            sep = ";";
        }
        for (k, v) in &self.data {
            write!(f, "{sep}{k}={v}")?;
            sep = ";";
        }
        Ok(())
    }
}

impl FromStr for TraceHeader {
    type Err = HeaderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn parses_and_formats_a_full_header() {
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a87bd80c:0");
        let h = TraceHeader::parse(&text).unwrap();
        assert_eq!(h.root.unwrap().to_string(), ROOT);
        assert_eq!(h.parent.unwrap().to_string(), "53995c3f42cd8ad8");
        assert_eq!(h.sampled, Some(SamplingFlag::Sampled));
        assert_eq!(h.get("Lineage"), Some("1:a87bd80c:0"));
        assert_eq!(h.to_string(), text);
    }

    #[test]
    fn tolerates_whitespace_and_empty_fields() {
        let h = TraceHeader::parse(&format!(
            " Root = {ROOT} ; Parent=53995c3f42cd8ad8;;Sampled=?; "
        ))
        .unwrap();
        assert_eq!(
            h.to_string(),
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=?")
        );
    }

    #[test]
    fn drops_unknown_fields_without_a_value() {
        let h = TraceHeader::parse(&format!("Root={ROOT};Lineage=;k= ;x=1")).unwrap();
        assert_eq!(h.data, vec![("x".to_owned(), "1".to_owned())]);
        assert_eq!(h.to_string(), format!("Root={ROOT};x=1"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(matches!(
            TraceHeader::parse("some invalid string"),
            Err(HeaderError::MalformedField(_))
        ));
        assert!(matches!(
            TraceHeader::parse("Root=a"),
            Err(HeaderError::InvalidRoot { .. })
        ));
        assert!(matches!(
            TraceHeader::parse(&format!("Root={ROOT};Parent=xyz")),
            Err(HeaderError::InvalidParent { .. })
        ));
        assert!(matches!(
            TraceHeader::parse("=v"),
            Err(HeaderError::MalformedField(_))
        ));
        let long = "a=b;".repeat(MAX_HEADER_LEN);
        assert!(matches!(
            TraceHeader::parse(&long),
            Err(HeaderError::TooLong(_))
        ));
    }

    #[test]
    fn a_malformed_field_costs_that_field_only() {
        let (h, dropped) = TraceHeader::parse_lossy(&format!(
            "Root={ROOT};Parent=xyz;Sampled=1;Lineage=1:a87bd80c:0"
        ));
        assert_eq!(
            h.to_string(),
            format!("Root={ROOT};Sampled=1;Lineage=1:a87bd80c:0")
        );
        assert_eq!(
            dropped,
            [HeaderError::InvalidParent {
                value: "xyz".to_owned(),
                source: IdError::Length {
                    expected: 16,
                    found: 3
                },
            }]
        );
        let (h, dropped) =
            TraceHeader::parse_lossy("Root=1-zz;junk;=v;Parent=53995c3f42cd8ad8;Sampled=0");
        assert_eq!(h.to_string(), "Parent=53995c3f42cd8ad8;Sampled=0");
        assert_eq!(dropped.len(), 3);
        assert!(matches!(dropped[0], HeaderError::InvalidRoot { .. }));
        assert_eq!(dropped[1], HeaderError::MalformedField("junk".to_owned()));
        assert_eq!(dropped[2], HeaderError::MalformedField("=v".to_owned()));
        // The strict form reports the first.
        assert_eq!(
            TraceHeader::parse("Root=1-zz;junk;=v;Parent=53995c3f42cd8ad8"),
            Err(dropped[0].clone())
        );
        let long = "a=b;".repeat(MAX_HEADER_LEN);
        let (h, dropped) = TraceHeader::parse_lossy(&long);
        assert!(h.is_empty());
        assert_eq!(dropped, [HeaderError::TooLong(long.len())]);
    }

    #[test]
    fn upper_case_ids_are_read_and_written_in_lower_case() {
        let text = "Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1";
        let h = TraceHeader::parse(text).unwrap();
        assert_eq!(
            h,
            TraceHeader::parse(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")).unwrap()
        );
        assert_eq!(
            h.to_string(),
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
        );
        // Still not hex, in either case: the error names the text as given.
        assert_eq!(
            TraceHeader::parse("Root=1-5759E988-BD862E3FE1BE46A99427279G"),
            Err(HeaderError::InvalidRoot {
                value: "1-5759E988-BD862E3FE1BE46A99427279G".to_owned(),
                source: IdError::NotHex,
            })
        );
    }

    #[test]
    fn traceparent_mapping() {
        let h = TraceHeader::from_traceparent(
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01",
        )
        .unwrap();
        assert_eq!(
            h.to_string(),
            "Root=1-4efaaf4d-1e8720b39541901950019ee5;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        assert_eq!(
            h.to_traceparent().unwrap(),
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01"
        );
        for bad in [
            "",
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8",
            "ff-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01",
            "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
            "00-4efaaf4d1e8720b39541901950019ee5-0000000000000000-01",
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-1",
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01-extra",
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-+1",
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-0A",
            "0A-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01",
        ] {
            assert!(
                TraceHeader::from_traceparent(bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
