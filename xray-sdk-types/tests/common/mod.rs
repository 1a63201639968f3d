//! Helpers shared by the integration tests: the fixture files, and what each fixture is.
//!
//! Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::Path;

use xray_sdk_types::validate::DocumentKind;

/// Every data file under `testdata/fixtures`, as paths relative to
/// `fixtures/`, sorted.
pub fn fixture_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let relative = path.strip_prefix(base).unwrap_or(&path);
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let base = xray_sdk_testdata::path("fixtures");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

/// What our [`Document`](xray_sdk_types::Document) type and
/// [`validate`](xray_sdk_types::validate::validate) make of a fixture.
#[derive(Debug, Clone, Copy)]
pub enum Ours {
    /// Parses into a `Document`, serializes back to the same JSON value, and passes `validate` as this kind.
    Valid(DocumentKind),
    /// An embedded subsegment body (no `trace_id`): round-trips and passes `validate_subsegment`.
    Fragment,
    /// Round-trips through `Document`, but `validate` fails with this reason code at this path.
    Invalid {
        /// The [`Reason::code`](xray_sdk_types::validate::Reason::code).
        code: &'static str,
        /// The path of the first problem.
        path: &'static str,
    },
    /// `Document` refuses it (the error text contains `error`), and `validate` fails with `code` at `path`.
    Unparsable {
        /// A piece of the serde error message.
        error: &'static str,
        /// The [`Reason::code`](xray_sdk_types::validate::Reason::code).
        code: &'static str,
        /// The path of the first problem.
        path: &'static str,
    },
    /// Not a segment document: an API body, header vectors, or a list of datagrams (tested on its own).
    NotADocument,
}

/// Why our verdict differs from the JSON schema's, where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stricter {
    /// We and the schema agree.
    No,
    /// Ids must be 16 lower-case hex digits; the schema only checks a length of 16.
    HexIds,
    /// A document needs `end_time` or `in_progress: true`; the schema requires neither.
    EndTimeOrInProgress,
}

/// One fixture file: our verdict, the JSON schema's (`None` where the schema does not apply), and why they differ.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// The path under `fixtures/`.
    pub path: &'static str,
    /// What our types make of it.
    pub ours: Ours,
    /// Whether the segment-document schema accepts it (fragments: against `#/definitions/subsegment`).
    pub schema_valid: Option<bool>,
    /// Why `ours` and `schema_valid` disagree, if they do.
    pub stricter: Stricter,
}

const fn fixture(path: &'static str, ours: Ours, schema_valid: bool) -> Fixture {
    Fixture {
        path,
        ours,
        schema_valid: Some(schema_valid),
        stricter: Stricter::No,
    }
}

const fn not_a_document(path: &'static str) -> Fixture {
    Fixture {
        path,
        ours: Ours::NotADocument,
        schema_valid: None,
        stricter: Stricter::No,
    }
}

const SEGMENT: Ours = Ours::Valid(DocumentKind::Segment);
const SUBSEGMENT: Ours = Ours::Valid(DocumentKind::Subsegment);

/// Every file under `testdata/fixtures/`, with the verdict each gets (see `testdata/SOURCES.md` for its origin).
pub const FIXTURES: &[Fixture] = &[
    // AWS X-Ray Developer Guide examples.
    not_a_document("awsdocs/api/GetSamplingRules.response.json"),
    not_a_document("awsdocs/api/GetSamplingTargets.request.cli-form.json"),
    not_a_document("awsdocs/api/GetSamplingTargets.response.json"),
    fixture("awsdocs/ec2-http-segment.json", SEGMENT, true),
    // The guide's trace id `1-5880168b-fd515828bs07678a3bb5a78c` holds a non-hex `s`.
    fixture(
        "awsdocs/ec2-segment-with-annotations.json",
        Ours::Unparsable {
            error: "invalid trace id \"1-5880168b-fd515828bs07678a3bb5a78c\"",
            code: "invalid_trace_id",
            path: "$.trace_id",
        },
        false,
    ),
    fixture("awsdocs/in-progress-segment.json", SEGMENT, true),
    fixture("awsdocs/independent-subsegment.json", SUBSEGMENT, true),
    // `inferred: true` is kept in `Document::extra`.
    fixture("awsdocs/inferred-segment-http.json", SEGMENT, true),
    fixture("awsdocs/minimal-segment.json", SEGMENT, true),
    fixture(
        "awsdocs/segment-with-embedded-subsegment.json",
        SEGMENT,
        true,
    ),
    fixture(
        "awsdocs/subsegment-fragments/custom-subsegment-with-metadata-dynamodb.json",
        Ours::Fragment,
        true,
    ),
    fixture(
        "awsdocs/subsegment-fragments/downstream-http-subsegment.json",
        Ours::Fragment,
        true,
    ),
    fixture(
        "awsdocs/subsegment-fragments/dynamodb-subsegment.json",
        Ours::Fragment,
        true,
    ),
    fixture(
        "awsdocs/subsegment-fragments/sql-subsegment.json",
        Ours::Fragment,
        true,
    ),
    // OpenTelemetry collector awsxrayreceiver test data: edge cases and invalid documents.
    fixture(
        "otel-collector-contrib/edge-or-invalid/indepSubsegmentWithContentLengthString.json",
        Ours::Unparsable {
            error: "invalid type: string \"861\", expected i64",
            code: "wrong_type",
            path: "$.http.response.content_length",
        },
        false,
    ),
    fixture(
        "otel-collector-contrib/edge-or-invalid/indepSubsegmentWithInvalidSqlUrl.json",
        SUBSEGMENT,
        true,
    ),
    // ddbSample with `namespace: "invalidNs"`; the first problem `validate` meets is ddbSample's annotation key.
    fixture(
        "otel-collector-contrib/edge-or-invalid/invalidNamespace.json",
        Ours::Unparsable {
            error: "unknown variant `invalidNs`",
            code: "invalid_annotation_key",
            path: "$.subsegments[0].annotations.DDB.DescribeExistingTableAndPutToMissingTable.Annotation",
        },
        false,
    ),
    fixture(
        "otel-collector-contrib/edge-or-invalid/minCauseIsInvalid.json",
        Ours::Unparsable {
            error: "data did not match any variant of untagged enum Cause",
            code: "wrong_type",
            path: "$.cause",
        },
        false,
    ),
    fixture(
        "otel-collector-contrib/edge-or-invalid/segmentValidationFailed.json",
        Ours::Unparsable {
            error: "missing field `start_time`",
            code: "missing_field",
            path: "$.start_time",
        },
        false,
    ),
    // A segment with neither `end_time` nor `in_progress`: the schema lets it through, moto and we do not.
    Fixture {
        path: "otel-collector-contrib/edge-or-invalid/segmentWithParentId.json",
        ours: Ours::Invalid {
            code: "not_ended_nor_in_progress",
            path: "$.end_time",
        },
        schema_valid: Some(true),
        stricter: Stricter::EndTimeOrInProgress,
    },
    // OpenTelemetry collector awsxrayreceiver test data: valid documents.
    fixture(
        "otel-collector-contrib/valid/awsMissingAwsField.json",
        SEGMENT,
        true,
    ),
    fixture(
        "otel-collector-contrib/valid/awsValidAwsFields.json",
        SEGMENT,
        true,
    ),
    // The Go SDK did not sanitize the dotted annotation key; the schema and we both refuse it.
    fixture(
        "otel-collector-contrib/valid/ddbSample.json",
        Ours::Invalid {
            code: "invalid_annotation_key",
            path: "$.subsegments[0].annotations.DDB.DescribeExistingTableAndPutToMissingTable.Annotation",
        },
        false,
    ),
    fixture(
        "otel-collector-contrib/valid/indepSubsegment.json",
        SUBSEGMENT,
        true,
    ),
    fixture(
        "otel-collector-contrib/valid/indepSubsegmentWithLocalNamespace.json",
        SUBSEGMENT,
        true,
    ),
    fixture(
        "otel-collector-contrib/valid/indepSubsegmentWithSql.json",
        SUBSEGMENT,
        true,
    ),
    // `"cause": "abcdefghijklmnop"` has the length of an exception id, but not its hex digits.
    Fixture {
        path: "otel-collector-contrib/valid/minCauseIsExceptionId.json",
        ours: Ours::Unparsable {
            error: "data did not match any variant of untagged enum Cause",
            code: "invalid_id",
            path: "$.cause",
        },
        schema_valid: Some(true),
        stricter: Stricter::HexIds,
    },
    fixture(
        "otel-collector-contrib/valid/minInProgress.json",
        SEGMENT,
        true,
    ),
    fixture(
        "otel-collector-contrib/valid/minOtherFields.json",
        SUBSEGMENT,
        true,
    ),
    fixture(
        "otel-collector-contrib/valid/serverSample.json",
        SEGMENT,
        true,
    ),
    // Produced by the Python SDK.
    fixture(
        "python-sdk-generated/ecs-segment-ddb-sqs-sqlite.datagram",
        SEGMENT,
        true,
    ),
    fixture(
        "python-sdk-generated/ecs-segment-ddb-sqs-sqlite.json",
        SEGMENT,
        true,
    ),
    // A JSON list of three datagrams, each an independent subsegment; `fixtures.rs` checks each.
    not_a_document("python-sdk-generated/lambda-streamed-subsegments.datagrams.json"),
    fixture(
        "python-sdk-generated/lambda-subsegment-1.json",
        SUBSEGMENT,
        true,
    ),
    fixture(
        "python-sdk-generated/lambda-subsegment-2.json",
        SUBSEGMENT,
        true,
    ),
    fixture(
        "python-sdk-generated/lambda-subsegment-3.json",
        SUBSEGMENT,
        true,
    ),
    not_a_document("python-sdk-generated/sampling-wire-requests.json"),
    // Header vectors; `fixtures.rs` runs them against `TraceHeader`.
    not_a_document("trace-header/vectors.json"),
];

/// The document bytes of a fixture: the file itself, or the body of a `.datagram` file.
pub fn document_bytes(path: &str) -> Vec<u8> {
    let bytes = xray_sdk_testdata::read(&format!("fixtures/{path}"));
    if path.ends_with(".datagram") {
        let body = xray_sdk_types::framing::split_datagram(&bytes)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        return body.to_vec();
    }
    bytes
}
