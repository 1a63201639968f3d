//! Segment names chosen from the `Host` of each request.

/// Names segments after the request's host when it matches a pattern, and after a fixed name otherwise.
///
/// The pattern uses X-Ray's wildcards (`*` and `?`, ignoring case): with `*.example.com` and fallback
/// `my-service`, a request to `api.example.com` makes a segment named `api.example.com`, one to `localhost`
/// a segment named `my-service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicNaming {
    /// The host pattern.
    pub pattern: String,
    /// The name for requests whose host does not match, or that have none.
    pub fallback: String,
}

impl DynamicNaming {
    /// The segment name for a request to `host`.
    pub fn name_for<'a>(&'a self, host: Option<&'a str>) -> &'a str {
        match host {
            Some(h) if xray_sdk_types::rules::wildcard_match(&self.pattern, h) => h,
            _ => &self.fallback,
        }
    }
}
