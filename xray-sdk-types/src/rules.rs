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
    let fast_ok =
        name.len() <= MAX_NAME_LEN && name.bytes().all(|b| ASCII_NAME_BYTES[usize::from(b)]);
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
        && key.bytes().all(|b| KEY_BYTES[usize::from(b)])
}

/// A table of the bytes that are ASCII letters or digits, or in `others`: one load per byte where names and
/// keys are checked, on every entity.
const fn ascii_class(others: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
}

/// The ASCII bytes of the name pattern (letters, digits, space and `_ . : / % & # = + - @`).
static ASCII_NAME_BYTES: [bool; 256] = ascii_class(b" _.:/%&#=+-@");

/// The bytes of an annotation key.
static KEY_BYTES: [bool; 256] = ascii_class(b"_");

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

/// Glob matching as X-Ray sampling rules and dynamic naming use it: `*` matches any run of characters (the
/// empty one too), `?` exactly one character, and everything else itself, ignoring case.
///
/// Unlike the Python SDK, a `*` or `?` in the text is an ordinary character (Python compares it to the pattern
/// first, so that `a*b` fails to match `a*xb`). Runs in O(pattern × text) at worst, without allocation when both
/// are ASCII.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if pattern.is_ascii() && text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), |p, t| {
            p.eq_ignore_ascii_case(t)
        });
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob(&p, &t, |a, b| {
        a == b || a.to_lowercase().eq(b.to_lowercase())
    })
}

trait GlobChar: Copy {
    const STAR: Self;
    const ANY: Self;
}
impl GlobChar for u8 {
    const STAR: u8 = b'*';
    const ANY: u8 = b'?';
}
impl GlobChar for char {
    const STAR: char = '*';
    const ANY: char = '?';
}

fn glob<C: GlobChar + PartialEq>(p: &[C], t: &[C], eq: impl Fn(&C, &C) -> bool) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == C::STAR {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == C::ANY || eq(&p[pi], &t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == C::STAR)
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
    fn every_ascii_character_is_classed_as_the_schema_classes_it() {
        for c in (0u8..128).map(char::from) {
            let text = c.to_string();
            assert_eq!(
                is_valid_annotation_key(&text),
                c.is_ascii_alphanumeric() || c == '_',
                "{c:?}"
            );
            let kept = sanitize_name(&text);
            assert_eq!(kept == text, is_name_char(c), "{c:?}");
            assert_eq!(matches!(kept, Cow::Borrowed(_)), is_name_char(c), "{c:?}");
        }
    }

    #[test]
    fn annotation_keys() {
        assert!(is_valid_annotation_key("A_1"));
        assert!(!is_valid_annotation_key(""));
        assert!(!is_valid_annotation_key("dot.key"));
        assert!(!is_valid_annotation_key(&"k".repeat(501)));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "a"));
        assert!(wildcard_match("*.Example.com", "api.example.COM"));
        assert!(!wildcard_match("*.example.com", "api.example.com:8080"));
        assert!(wildcard_match(
            "a*b*a*b*a*b*a*b*a*",
            "akljd9gsdfbkjhaabajkhbbyiaahkjbjhbuykjakjhabkjhbabjhkaabbabbaaakljdfsjklababkjbsdabab"
        ));
        assert!(!wildcard_match("a*na*ha", "anananahahanahana"));
        assert!(wildcard_match("a*b", "a*xb"));
        assert!(wildcard_match("É?", "éa"));
        assert!(!wildcard_match("????", "chevy"));
    }
}
