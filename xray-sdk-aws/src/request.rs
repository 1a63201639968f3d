//! Reading an operation's parameters from its serialized request and response.
//!
//! The interceptor sees the operation's input only as a type-erased value; what it can read reliably for every
//! service is the HTTP request the SDK serialized from it. So parameters come from:
//! - the JSON body of the `awsJson` protocols (DynamoDB, SQS, Kinesis, …) and of JSON responses;
//! - the form body of the `awsQuery` protocol (SNS): top-level parameters such as `TopicArn`;
//! - for S3, the URI: the bucket from the path (path-style) or from the host (virtual-hosted style), the key from
//!   the rest of the path, `VersionId` and `Prefix` from the query, `CopySource` from its header;
//! - for Lambda, the function name from the URI and the invocation options from their headers.
//!
//! A body is read only when the SDK holds it in memory (`SdkBody::bytes()`); a streaming body is never touched.

use serde_json::{Map, Value};

/// The parameters of a request, as a JSON object keyed by the API's (PascalCase) names.
pub(crate) fn request_parameters(
    service: &str,
    uri: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: Option<&[u8]>,
) -> Map<String, Value> {
    match service {
        "S3" => s3_parameters(uri, header),
        "Lambda" => lambda_parameters(uri, header),
        _ => {
            let content_type = header("content-type").unwrap_or_default();
            match body {
                Some(bytes) if content_type.contains("json") => json_object(bytes),
                Some(bytes) if content_type.starts_with("application/x-www-form-urlencoded") => {
                    form_object(bytes)
                }
                _ => Map::new(),
            }
        }
    }
}

/// The parameters of a response: its JSON body's top-level fields, plus (Lambda) the values its headers carry.
pub(crate) fn response_parameters(
    service: &str,
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    body: Option<&[u8]>,
) -> Map<String, Value> {
    if service == "Lambda" {
        let mut out = Map::new();
        out.insert("StatusCode".into(), Value::from(status));
        if let Some(error) = header("x-amz-function-error") {
            out.insert("FunctionError".into(), Value::String(error));
        }
        return out;
    }
    let content_type = header("content-type").unwrap_or_default();
    match body {
        Some(bytes) if content_type.contains("json") => json_object(bytes),
        _ => Map::new(),
    }
}

fn json_object(bytes: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn form_object(bytes: &[u8]) -> Map<String, Value> {
    let text = String::from_utf8_lossy(bytes);
    query_pairs(&text)
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// The decoded `key=value` pairs of a query string or form body.
fn query_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// Decodes the `%XX` escapes of a URL's path (a malformed escape is kept as it is).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits `scheme://authority/path?query` into host, path and query.
fn split_uri(uri: &str) -> (&str, &str, &str) {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let (authority, path_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
        None => host.split_once(':').map_or(host, |(h, _)| h),
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    (host, path, query)
}

/// S3: `Bucket` and `Key` from the URI, `VersionId` and `Prefix` from the query, `CopySource` from its header.
fn s3_parameters(uri: &str, header: &dyn Fn(&str) -> Option<String>) -> Map<String, Value> {
    let (host, path, query) = split_uri(uri);
    let path = path.strip_prefix('/').unwrap_or(path);
    let virtual_bucket = host
        .find(".s3.")
        .or_else(|| host.find(".s3-"))
        .map(|i| &host[..i])
        .filter(|b| !b.is_empty());
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket.to_owned()), path),
        None => match path.split_once('/') {
            Some((bucket, key)) => (Some(bucket.to_owned()), key),
            None if !path.is_empty() => (Some(path.to_owned()), ""),
            None => (None, ""),
        },
    };
    let mut out = Map::new();
    if let Some(bucket) = bucket {
        out.insert("Bucket".into(), Value::String(percent_decode(&bucket)));
    }
    if !key.is_empty() {
        out.insert("Key".into(), Value::String(percent_decode(key)));
    }
    for (name, value) in query_pairs(query) {
        match name.as_str() {
            "versionId" => out.insert("VersionId".into(), Value::String(value)),
            "prefix" => out.insert("Prefix".into(), Value::String(value)),
            _ => None,
        };
    }
    if let Some(source) = header("x-amz-copy-source") {
        out.insert("CopySource".into(), Value::String(percent_decode(&source)));
    }
    out
}

/// Lambda: `FunctionName` from `/…/functions/{name}/…`, `Qualifier` from the query, the invocation options from
/// their headers.
fn lambda_parameters(uri: &str, header: &dyn Fn(&str) -> Option<String>) -> Map<String, Value> {
    let (_, path, query) = split_uri(uri);
    let mut out = Map::new();
    let mut segments = path.split('/');
    while let Some(segment) = segments.next() {
        if segment == "functions" {
            if let Some(name) = segments.next().filter(|n| !n.is_empty()) {
                out.insert("FunctionName".into(), Value::String(percent_decode(name)));
            }
            break;
        }
    }
    for (name, value) in query_pairs(query) {
        if name == "Qualifier" {
            out.insert("Qualifier".into(), Value::String(value));
        }
    }
    for (name, header_name) in [
        ("InvocationType", "x-amz-invocation-type"),
        ("LogType", "x-amz-log-type"),
    ] {
        if let Some(value) = header(header_name) {
            out.insert(name.into(), Value::String(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn no_header(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn s3_path_style_and_virtual_hosted() {
        let p = s3_parameters(
            "http://127.0.0.1:5000/my-bucket/dir/hello%20world.txt?versionId=3&x-id=GetObject",
            &no_header,
        );
        assert_eq!(
            Value::Object(p),
            json!({"Bucket": "my-bucket", "Key": "dir/hello world.txt", "VersionId": "3"})
        );
        let p = s3_parameters(
            "https://my-bucket.s3.us-west-2.amazonaws.com/a/b?prefix=x%2Fy",
            &no_header,
        );
        assert_eq!(
            Value::Object(p),
            json!({"Bucket": "my-bucket", "Key": "a/b", "Prefix": "x/y"})
        );
        let p = s3_parameters("http://localhost:9000/only-bucket", &no_header);
        assert_eq!(Value::Object(p), json!({"Bucket": "only-bucket"}));
        let p = s3_parameters("http://localhost:9000/", &no_header);
        assert_eq!(Value::Object(p), json!({}));
    }

    #[test]
    fn bad_escapes_and_bodies_are_kept_or_ignored() {
        assert_eq!(percent_decode("a%zzb%"), "a%zzb%");
        assert_eq!(percent_decode("a%2"), "a%2");
        let pairs: Vec<_> = query_pairs("a=%e2%9c%93+x&&b&=v").collect();
        let expected = [("a", "✓ x"), ("b", ""), ("", "v")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert!(json_object(b"{not json").is_empty());
        assert!(json_object(b"[1,2]").is_empty());
    }

    #[test]
    fn query_protocol_and_lambda() {
        let ct = |name: &str| {
            (name == "content-type")
                .then(|| "application/x-www-form-urlencoded; charset=utf-8".to_owned())
        };
        let p = request_parameters(
            "SNS",
            "http://127.0.0.1/",
            &ct,
            Some(b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi"),
        );
        assert_eq!(p["TopicArn"], json!("arn:aws:sns:us-east-1:1:t"));
        let h = |name: &str| (name == "x-amz-invocation-type").then(|| "Event".to_owned());
        let p = request_parameters(
            "Lambda",
            "http://h/2015-03-31/functions/my-fn/invocations?Qualifier=v2",
            &h,
            None,
        );
        assert_eq!(
            Value::Object(p),
            json!({"FunctionName": "my-fn", "Qualifier": "v2", "InvocationType": "Event"})
        );
    }
}
