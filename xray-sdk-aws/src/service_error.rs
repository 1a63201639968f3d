//! A service's error, read from its response: the error code and message that every AWS protocol carries.

use serde_json::Value;

/// The error codes that AWS services use for throttling (the AWS SDKs' shared list).
pub const THROTTLING_ERROR_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// The code and message of an error response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

impl ServiceError {
    /// Reads the error from the `x-amzn-errortype` / `x-amzn-query-error` headers and the body: `__type` (or
    /// `code`) and `message` of a JSON body, `<Code>` and `<Message>` of an XML one. A body is read only when
    /// it is held in memory.
    pub(crate) fn from_response(
        header: &dyn Fn(&str) -> Option<String>,
        body: Option<&[u8]>,
    ) -> Self {
        let mut error = ServiceError::default();
        if let Some(text) = body.and_then(|b| std::str::from_utf8(b).ok()) {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') {
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed) {
                    let field = |names: &[&str]| {
                        names
                            .iter()
                            .find_map(|n| map.get(*n).and_then(Value::as_str).map(str::to_owned))
                    };
                    error.code = field(&["__type", "code", "Code"]);
                    error.message = field(&["message", "Message", "errorMessage"]);
                }
            } else if trimmed.starts_with('<') {
                error.code = xml_element(trimmed, "Code");
                error.message = xml_element(trimmed, "Message");
            }
        }
        if let Some(code) = header("x-amzn-errortype") {
            error.code = Some(code);
        }
        error.code = error.code.map(|c| clean_code(&c)).filter(|c| !c.is_empty());
        error
    }

    /// Whether the code says the request was throttled.
    pub(crate) fn is_throttling(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| THROTTLING_ERROR_CODES.contains(&c))
    }
}

/// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` → `ResourceNotFoundException`;
/// `ResourceNotFoundException:http://internal.amazon.com/…` → `ResourceNotFoundException`.
fn clean_code(code: &str) -> String {
    let code = code.rsplit_once('#').map_or(code, |(_, c)| c);
    let code = code.split_once(':').map_or(code, |(c, _)| c);
    code.trim().to_owned()
}

/// The text of the first `<name>…</name>` element, with the five XML entities decoded.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn json_xml_and_header_forms() {
        let e = ServiceError::from_response(
            &none,
            Some(br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#),
        );
        assert_eq!(e.code.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(e.message.as_deref(), Some("Requested resource not found"));
        let e = ServiceError::from_response(
            &none,
            Some(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &amp; more</Message></Error>"),
        );
        assert_eq!(e.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(e.message.as_deref(), Some("The key & more"));
        let header =
            |n: &str| (n == "x-amzn-errortype").then(|| "ThrottlingException:http://x".to_owned());
        let e = ServiceError::from_response(&header, None);
        assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
        assert!(e.is_throttling());
    }

    #[test]
    fn unreadable_bodies_give_nothing() {
        for body in [&b"{oops"[..], b"<Error><Code>", b"\xff\xfe", b""] {
            assert_eq!(
                ServiceError::from_response(&none, Some(body)),
                ServiceError::default()
            );
        }
    }
}
