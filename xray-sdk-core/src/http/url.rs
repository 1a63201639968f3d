//! URLs as they are recorded: without credentials, and without the query string unless asked for.

/// `url` without `user:password@`, and without its query string and fragment unless `keep_query`.
///
/// Works on any text: an absolute URL (`https://user:pw@host:8443/p?q#f` → `https://host:8443/p`), a URL
/// without a scheme, or a bare path.
pub fn sanitize_url(url: &str, keep_query: bool) -> String {
    let end = if keep_query {
        url.find('#').unwrap_or(url.len())
    } else {
        url.find(['?', '#']).unwrap_or(url.len())
    };
    let url = &url[..end];
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let mut out = String::with_capacity(url.len());
            out.push_str(scheme);
            out.push_str(&authority[at + 1..]);
            out.push_str(&rest[authority_end..]);
            out
        }
        None => url.to_owned(),
    }
}

/// The host of an absolute URL, without credentials, port or IPv6 brackets; `None` when there is none.
pub fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_without_port(host_port);
    (!host.is_empty()).then_some(host)
}

/// A `Host` header value without its port (and without the brackets of an IPv6 address), and without
/// surrounding whitespace.
pub fn host_without_port(host: &str) -> &str {
    // Read byte by byte: a host is a few bytes long and is read on every request, sampled or not, where the
    // general string searches cost several times more. Whitespace other than ASCII's (a vertical tab, or
    // beyond ASCII) is rare enough to be trimmed the general way.
    let trimmed = host.trim_ascii();
    let unusual = |b: &u8| !b.is_ascii() || *b == 0x0b;
    let host = if trimmed.as_bytes().first().is_some_and(unusual)
        || trimmed.as_bytes().last().is_some_and(unusual)
    {
        host.trim()
    } else {
        trimmed
    };
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    let bytes = host.as_bytes();
    match bytes.iter().rposition(|&b| b == b':') {
        // One colon: `host:port`. More than one without brackets: a bare IPv6 address.
        Some(colon)
            if !bytes[..colon].contains(&b':')
                && bytes[colon + 1..].iter().all(u8::is_ascii_digit) =>
        {
            host.get(..colon).unwrap_or(host)
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn credentials_query_and_fragment_are_removed() {
        assert_eq!(sanitize_url("http://u:p@h:1/p?q#f", false), "http://h:1/p");
        assert_eq!(sanitize_url("http://u:p@h:1/p?q#f", true), "http://h:1/p?q");
        assert_eq!(
            sanitize_url(
                "https://amazon.com/page?getdata=response&stuff=morestuff",
                false
            ),
            "https://amazon.com/page"
        );
        assert_eq!(
            sanitize_url("aws.google.com/index.html?field=data&suchcool=data", false),
            "aws.google.com/index.html"
        );
        assert_eq!(sanitize_url("INVALID_URL", false), "INVALID_URL");
        assert_eq!(sanitize_url("", false), "");
        assert_eq!(sanitize_url("http://h/p#frag", false), "http://h/p");
        assert_eq!(
            sanitize_url("https://user@example.com/a@b", false),
            "https://example.com/a@b"
        );
        assert_eq!(sanitize_url("/just/a/path?x=1", false), "/just/a/path");
    }

    #[test]
    fn hosts() {
        assert_eq!(url_host("https://amazon.com/"), Some("amazon.com"));
        assert_eq!(
            url_host("http://user:pw@Host.Example.com:8080/x"),
            Some("Host.Example.com")
        );
        assert_eq!(url_host("http://[::1]:80/"), Some("::1"));
        assert_eq!(url_host("https://amazon.com?x=1"), Some("amazon.com"));
        assert_eq!(url_host("INVALID_URL"), None);
        assert_eq!(url_host("http:///path"), None);
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:3000"), "::1");
        assert_eq!(host_without_port("::1"), "::1");
        assert_eq!(host_without_port(" \texample.com:80\r\n"), "example.com");
        assert_eq!(host_without_port("\u{b}a:1"), "a");
        assert_eq!(
            host_without_port("\u{a0} \u{a0}a.example:8080\u{3000}"),
            "a.example"
        );
        assert_eq!(host_without_port("é.example:1"), "é.example");
    }
}
