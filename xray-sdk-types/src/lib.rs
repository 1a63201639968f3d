//! The AWS X-Ray wire model, shared by the `xray-sdk` crates and the `xray` daemon.
//!
//! - [`id`]: [`TraceId`] and [`EntityId`], parsed strictly, generated fast, mapped to and from W3C ids.
//! - [`header`]: the `X-Amzn-Trace-Id` [`TraceHeader`] and the W3C `traceparent` mapping.
//! - [`document`]: segment and subsegment [`Document`]s, with serde.
//! - [`rules`]: X-Ray's rules for names, annotation keys, metadata namespaces and status codes.
//! - [`validate`](mod@validate): whole-document validation, schema rules and more.
//! - [`framing`]: the UDP datagram format of the daemon protocol.
//! - [`time`]: timestamps in epoch seconds.
//!
//! This crate does no I/O and holds no global state.
//!
//! ```
//! use xray_sdk_types::{Document, EntityId, TraceHeader, TraceId};
//!
//! let header = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").unwrap();
//! let mut doc = Document::new(EntityId::new(), "checkout", 1_500_000_000.25);
//! doc.trace_id = header.root;
//! doc.end_time = Some(1_500_000_001.5);
//! let json = doc.to_json().unwrap();
//! assert!(xray_sdk_types::validate::validate_bytes(json.as_bytes()).is_ok());
//! ```

pub mod document;
pub mod framing;
// The checks of the fuzz targets (`fuzz/`), for them and for the tests that replay what they found.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod id;
mod name_chars;
pub mod rules;
pub mod sampling;
pub mod time;
pub mod validate;

pub use compact_str::CompactString;
pub use document::{AnnotationValue, Document, Namespace};
pub use header::{SamplingFlag, TraceHeader};
pub use id::{EntityId, TraceId};
