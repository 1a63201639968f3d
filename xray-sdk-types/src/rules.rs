//! X-Ray's rules for names, annotations, metadata and status codes.
//!
//! These are the rules the segment-document schema and the X-Ray service apply. The SDK applies them while
//! recording, so that what it sends is valid: names are sanitized rather than rejected, and invalid
//! annotations and metadata namespaces are refused (the recorder drops them with a log line).

use std::borrow::Cow;

/// The longest segment or subsegment name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// The longest annotation key, in characters.
pub const MAX_ANNOTATION_KEY_LEN: usize = 500;
/// The longest annotation string value, in characters.
pub const MAX_ANNOTATION_VALUE_LEN: usize = 1000;
/// The longest `user`, and most other strings, in characters.
pub const MAX_STRING_LEN: usize = 250;
/// The prefix of metadata namespaces reserved for AWS.
pub const RESERVED_METADATA_PREFIX: &str = "AWS.";

/// Whether `c` may appear in a segment or subsegment name: a Unicode letter, number or space of the Basic
/// Multilingual Plane, or one of `_ . : / % & # = + - @`. This is exactly the character class of the schema's
/// `name` pattern (so, unlike Rust's `char::is_alphanumeric`, it excludes combining marks such as Devanagari vowel
/// signs, letter-like symbols such as `Ⓐ`, and letters outside the BMP, all of which the schema refuses).
pub fn is_name_char(c: char) -> bool {
    crate::name_chars::contains(c)
}

/// Whether `name` is a valid entity name: 1 to 200 allowed characters.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= MAX_NAME_LEN && name.chars().all(is_name_char)
}

/// Makes `name` valid by removing the characters X-Ray does not accept and keeping at most 200 characters.
/// Valid names are returned as they are, without allocation. The result may be empty.
///
/// Every character that the Python SDK removes (`?;*()!$~^<>`) is removed here too; so are the other characters
/// the schema forbids (`,`, quotes, brackets, `\`, control characters, combining marks, …), which Python lets
/// through to be rejected later by the service. See [`is_name_char`].
pub fn sanitize_name(name: &str) -> Cow<'_, str> {
    let fast_ok = name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _.:/%&#=+-@".contains(&b));
    if fast_ok || is_valid_name(name) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(
        name.chars()
            .filter(|&c| is_name_char(c))
            .take(MAX_NAME_LEN)
            .collect(),
    )
}

/// Whether `key` is a valid annotation key: 1 to 500 ASCII letters, digits and underscores.
///
/// Python accepts the empty key, which the schema rejects; here it is invalid.
pub fn is_valid_annotation_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_ANNOTATION_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a metadata namespace is reserved for AWS (it starts with `AWS.`, case-sensitive).
pub fn is_reserved_metadata_namespace(namespace: &str) -> bool {
    namespace.starts_with(RESERVED_METADATA_PREFIX)
}

/// The error flags an HTTP status sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusFlags {
    /// 4xx: a client error.
    pub error: bool,
    /// 429: throttled.
    pub throttle: bool,
    /// 5xx: a server error.
    pub fault: bool,
}

/// The flags X-Ray expects for an HTTP status: 429 → throttle and error, other 4xx → error, 5xx and above →
/// fault, anything else → none.
pub const fn status_flags(status: u16) -> StatusFlags {
    StatusFlags {
        error: status >= 400 && status < 500,
        throttle: status == 429,
        fault: status >= 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches!(
            sanitize_name("ok-name_1.2:3/4@5"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(sanitize_name("名前 サービス"), Cow::Borrowed(_)));
        assert_eq!(sanitize_name("a,b\"c<script>"), "abcscript");
        assert_eq!(sanitize_name("C:\\dir\\file"), "C:dirfile");
        // Devanagari vowel signs are marks, not letters.
        assert_eq!(sanitize_name("नमस्ते"), "नमसत");
        assert_eq!(
            sanitize_name(&"x".repeat(300)).chars().count(),
            MAX_NAME_LEN
        );
        assert_eq!(sanitize_name("\u{0}\n"), "");
        assert!(!is_valid_name(""));
    }

    #[test]
    fn annotation_keys() {
        assert!(is_valid_annotation_key("A_1"));
        assert!(!is_valid_annotation_key(""));
        assert!(!is_valid_annotation_key("dot.key"));
        assert!(!is_valid_annotation_key(&"k".repeat(501)));
    }
}
