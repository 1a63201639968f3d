//! Who may talk to the daemon's HTTP listeners from a browser: defences against DNS rebinding and cross-site
//! requests.
//!
//! - The JSON API and the viewer answer only requests whose `Host` is an IP address, `localhost`, or a name given
//!   in [`crate::Config::allowed_hosts`]. A page on another site that rebinds its name to 127.0.0.1 sends its own
//!   name as `Host`, and gets a 421 instead of the traces.
//! - The sampling API takes only JSON bodies (`Content-Type: application/json`, as the SDKs send) and no request
//!   that carries an `Origin` (which browsers add to every `POST`, and SDKs never send): a web page can neither
//!   post a form-like `text/plain` body nor a JSON one.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Whether `host` (a `Host` header: a name or address, with an optional port) may be answered: an IP address,
/// `localhost`, or one of `allowed` (compared without case).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((address, port)) if port.is_empty() || port.starts_with(':') => address,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// A middleware that answers 421 Misdirected Request, with a JSON error, to requests whose `Host` is not allowed
/// ([`host_allowed`]). Requests without `Host` (HTTP/1.0 clients) pass: browsers always send it.
pub async fn check_host(
    State(allowed): State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(host) = request.headers().get(HOST) {
        let ok = host.to_str().is_ok_and(|h| host_allowed(h, &allowed));
        if !ok {
            return ApiError {
                status: StatusCode::MISDIRECTED_REQUEST,
                message: format!(
                    "this daemon does not answer for host {:?}: use an IP address or localhost, or start it with \
                     --allow-host",
                    String::from_utf8_lossy(host.as_bytes())
                ),
            }
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether a `Content-Type` value names JSON: `application/json`, a `+json` type or AWS's
/// `application/x-amz-json-1.x`, with or without parameters.
pub fn is_json_content_type(value: &str) -> bool {
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
        || media.starts_with("application/x-amz-json-")
}

/// Why a sampling API request is refused before its body is read: it carries an `Origin` (it comes from a web
/// page), or its body is declared as something other than JSON (the form and text types a page can post without
/// asking first). A request that declares no type is let through: browsers always send `Origin` on the
/// cross-origin requests a page makes, and an SDK that leaves the type out must keep working. `None` when it may
/// go on.
pub fn browser_request(headers: &HeaderMap) -> Option<(StatusCode, String)> {
    if let Some(origin) = headers.get(ORIGIN) {
        return Some((
            StatusCode::FORBIDDEN,
            format!(
                "requests from web pages are refused (Origin: {:?})",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        ));
    }
    match headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
        Some(Ok(value)) if is_json_content_type(value) => None,
        Some(value) => Some((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "the body must be JSON (Content-Type: application/json), not {:?}",
                value.unwrap_or("?")
            ),
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let allowed = vec!["xray-daemon".to_owned()];
        for ok in [
            "127.0.0.1:2001",
            "127.0.0.1",
            "[::1]:2001",
            "[::1]",
            "localhost:2001",
            "LOCALHOST",
            "10.0.0.7:2001",
            "XRAY-daemon:2001",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "evil.example:2001",
            "evil.example",
            "localhost.evil.example:2001",
            "127.0.0.1.evil.example",
            "[::1",
            "[::1]x",
            "",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/x-amz-json-1.1"));
        assert!(is_json_content_type("application/vnd.x+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type("multipart/form-data; boundary=x"));
        // An SDK that declares no type is not a web page: it goes on.
        assert_eq!(browser_request(&HeaderMap::new()), None);
    }
}
