//! The trace viewer: web pages served by the daemon's HTTP server, built on the JSON API.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | the trace list: newest first, live, with filters (kept in the query string) |
//! | `GET /traces/{trace_id}` | one trace: the waterfall of its segments and subsegments, and each entity's details |
//! | `GET /map` | the service map over a time range |
//! | `GET /invalid` | the documents the daemon refused, with their reasons |
//! | `GET /assets/{file}` | the scripts, style sheet and icon |
//!
//! Every page is the same HTML shell; the scripts (ES modules, no build step) read the path and draw the page.
//! The assets are embedded in the binary from the crate's `viewer/` folder, so the viewer works offline.
//!
//! # Security
//! Everything the pages show comes from the network (segment names, annotations, metadata, URLs, error
//! messages) and is untrusted: the scripts build the DOM with `textContent` and DOM methods only, never with
//! HTML strings. Every response of the viewer carries a strict [`CONTENT_SECURITY_POLICY`] (scripts and styles
//! from the daemon itself only, no inline code), `X-Content-Type-Options: nosniff` and `Referrer-Policy:
//! no-referrer`, and the pages cannot be framed.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The Content-Security-Policy of the viewer's responses.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The HTML shell of every page.
const INDEX_HTML: &str = include_str!("../../viewer/index.html");

/// An embedded file: its name under `/assets/`, its media type, its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// An embedded file of `viewer/`, served under `/assets/` by the same relative name.
macro_rules! asset {
    ($name:literal, $media_type:expr) => {
        Asset {
            name: $name,
            media_type: $media_type,
            body: include_bytes!(concat!("../../viewer/", $name)),
        }
    };
}

/// The embedded files, served under `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("viewer.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/traces.js", JS),
    asset!("js/trace.js", JS),
    asset!("js/details.js", JS),
    asset!("js/map.js", JS),
    asset!("js/invalid.js", JS),
];

/// The viewer's routes, to merge into the API's router.
pub fn router() -> Router {
    Router::new()
        .route("/", get(page))
        .route("/traces/{trace_id}", get(page))
        .route("/map", get(page))
        .route("/invalid", get(page))
        .route("/assets/{*file}", get(asset))
}

fn secured(media_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The assets change with the binary; revalidating costs little on loopback.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Any page: the HTML shell.
async fn page() -> Response {
    secured("text/html; charset=utf-8", INDEX_HTML.as_bytes())
}

/// `GET /assets/{file}`.
async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(asset) => secured(asset.media_type, asset.body),
        None => {
            let mut response = secured("text/plain; charset=utf-8", b"no such asset\n");
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

/// The names of the embedded assets, for tests and diagnostics.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_loads_only_embedded_assets() {
        for reference in INDEX_HTML
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/"))
        {
            let name = &reference["/assets/".len()..];
            assert!(
                asset_names().any(|a| a == name),
                "{reference} is not embedded"
            );
        }
        assert!(!INDEX_HTML.contains("<script>"), "inline script");
        assert!(!INDEX_HTML.contains("style="), "inline style");
        assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
    }

    #[test]
    fn scripts_never_parse_html() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = String::from_utf8_lossy(asset.body);
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!text.contains(sink), "{} uses {sink}", asset.name);
            }
            // Module imports name embedded files only.
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit(['"', '\'']).nth(1).unwrap_or("");
                let name = target.trim_start_matches("./");
                assert!(
                    asset_names().any(|a| a == format!("js/{name}")),
                    "{}: {line}",
                    asset.name
                );
            }
        }
    }
}
