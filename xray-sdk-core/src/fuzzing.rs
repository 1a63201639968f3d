//! The check that the `http_response` fuzz target of `fuzz/` runs on each input: the HTTP/1.1 response parser of
//! the SDK's own client (the sampling API, metadata services), which reads whatever the other end sends.
//!
//! Built only for this crate's tests and under `--cfg fuzzing` (as `cargo fuzz` builds): not part of the API. The
//! tests replay every input kept in `testdata/fuzz-regressions/http_response/` through the same function, so that a
//! crash the fuzzer found once is checked by every `cargo test`.

use crate::net::http1::{Response, parse_response};

/// `http_response`: the bytes received so far, whole or in part.
///
/// The client parses after each read and stops at the first complete response: a response complete in a prefix
/// is the same once more bytes arrive and once the stream ends; a status is in 100..600; and the body parsed
/// reads back the same when framed again by `Content-Length` and by chunks.
pub fn http_response(data: &[u8]) {
    let complete = parse_response(data, false);
    if let Ok(Some(response)) = &complete {
        assert!((100..600).contains(&response.status));
        assert!(response.body.len() <= data.len());
        assert_eq!(
            parse_response(data, true).ok().flatten().as_ref(),
            Some(response)
        );
        reframed(response);
    }
    if let Ok(Some(response)) = parse_response(data, true) {
        reframed(&response);
    }
    // The first byte chooses where the stream is cut.
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) * data.len() / 256);
    if let Ok(Some(early)) = parse_response(&data[..cut], false) {
        assert_eq!(
            complete.ok().flatten(),
            Some(early),
            "more bytes changed a complete response"
        );
    }
}

/// `response` sent again, framed by `Content-Length`, then in chunks of up to 7 bytes, parses to itself.
fn reframed(response: &Response) {
    let head = format!("HTTP/1.1 {} X\r\n", response.status);
    let mut sized = format!("{head}Content-Length: {}\r\n\r\n", response.body.len()).into_bytes();
    sized.extend_from_slice(&response.body);
    assert_eq!(
        parse_response(&sized, false).ok().flatten().as_ref(),
        Some(response)
    );
    let mut chunked = format!("{head}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    for chunk in response.body.chunks(7) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        parse_response(&chunked, false).ok().flatten().as_ref(),
        Some(response)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_response_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("http_response", http_response);
    }
}
