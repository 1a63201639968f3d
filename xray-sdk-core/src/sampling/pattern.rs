//! Rule matchers, prepared once so that a decision does the least work.
//!
//! `*` matches without looking; a pattern without wildcards is a case-insensitive comparison; a pattern with one
//! run of `*` and no `?` (`/api/*`, `*.example.com`, `/v1/*/items`) compares its two ends; anything else uses
//! [`wildcard_match`](xray_sdk_types::rules::wildcard_match). Every form gives exactly the result of
//! `wildcard_match`. The fast forms are for ASCII patterns, and compare bytes ignoring ASCII case: when they
//! find a match it is one; when they find none, the text is checked for non-ASCII characters (once per field
//! and decision, and only then), since a character such as the Kelvin sign matches `k` ignoring case.

use std::cell::Cell;

use xray_sdk_types::rules::wildcard_match;

/// A request field, with what the patterns learn about it, computed at most once per decision: a hash of its
/// lower-case form, once a literal pattern asks for it (so that rules with a literal pattern are told apart
/// by comparing two integers), and whether it is ASCII, once a fast comparison fails.
#[derive(Debug, Clone)]
pub(crate) struct Text<'a> {
    text: &'a str,
    /// `None` until computed.
    ascii: Cell<Option<bool>>,
    /// 0 until computed; a computed hash is never 0.
    hash: Cell<u64>,
}

impl<'a> Text<'a> {
    #[inline]
    pub(crate) fn new(text: &'a str) -> Self {
        Text {
            text,
            ascii: Cell::new(None),
            hash: Cell::new(0),
        }
    }

    /// The hash of the text in ASCII lower case (for ASCII text; any value otherwise).
    #[inline]
    fn hash(&self) -> u64 {
        let h = self.hash.get();
        if h != 0 {
            return h;
        }
        let h = hash_lower(self.text.as_bytes());
        self.hash.set(h);
        h
    }

    /// Whether the text is ASCII.
    #[inline]
    fn is_ascii(&self) -> bool {
        if let Some(ascii) = self.ascii.get() {
            return ascii;
        }
        let ascii = is_ascii(self.text.as_bytes());
        self.ascii.set(Some(ascii));
        ascii
    }

    /// The key to compare with [`Pattern::literal_key`]: the hash, for an ASCII text.
    #[inline]
    #[cfg_attr(not(feature = "centralized-sampling"), allow(dead_code))]
    pub(crate) fn literal_key(&self) -> Option<u64> {
        self.is_ascii().then(|| self.hash())
    }

    /// A field the request may lack: `None` for a missing or empty one, which matches every pattern.
    #[inline]
    pub(crate) fn field(text: Option<&'a str>) -> Option<Self> {
        text.filter(|t| !t.is_empty()).map(Text::new)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `*` (or `**`…): matches anything.
    Any,
    /// No wildcard, ASCII: the text itself, ignoring case.
    Literal,
    /// ASCII `prefix*suffix` with one run of `*` and no `?`.
    Affix { prefix: usize, suffix: usize },
    /// Anything else.
    Glob,
}

/// A prepared `*` / `?` pattern, matched ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    source: Box<str>,
    /// `source` in ASCII lower case, for the fast forms.
    lower: Box<[u8]>,
    /// For [`Kind::Literal`], the [`Text`] hash of the pattern.
    hash: u64,
    kind: Kind,
}

/// ASCII-lowercases the eight ASCII bytes of `w` at once.
#[inline(always)]
fn lower8(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // For bytes below 0x80 no addition carries into the next byte.
    let at_least_a = w.wrapping_add(ONES * (0x80 - u64::from(b'A')));
    let above_z = w.wrapping_add(ONES * (0x80 - u64::from(b'Z') - 1));
    let upper = at_least_a & !above_z & (ONES * 0x80);
    w | (upper >> 2)
}

/// The eight bytes of `b` from `at`, as a little-endian word.
#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The bytes of `b`, at most eight, in one word, read with two overlapping loads rather than byte by byte. Two
/// slices of the same length give the same word exactly when they are equal.
#[inline(always)]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(lo) | (u64::from(hi) << 32)
    } else if n > 0 {
        u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16)
    } else {
        0
    }
}

/// Whether `bytes` are all ASCII, eight at a time (the standard library's test goes byte by byte on short
/// strings).
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = bytes.len();
    if n <= 8 {
        return short_word(bytes) & HIGH == 0;
    }
    let mut any = word(bytes, n - 8);
    let mut at = 0;
    while at + 8 < n {
        any |= word(bytes, at);
        at += 8;
    }
    any & HIGH == 0
}

/// A hash of ASCII `bytes` in lower case, eight bytes at a time (FxHash-like; not for untrusted hashing).
#[inline]
fn hash_lower(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517C_C1B7_2722_0A95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ lower8(w)).wrapping_mul(K);
    let n = bytes.len();
    let h = n as u64;
    if n <= 8 {
        return mix(h, short_word(bytes)) | 1;
    }
    // Whole words, then the last eight bytes (which may overlap the last whole word).
    let mut h = h;
    let mut at = 0;
    while at + 8 < n {
        h = mix(h, word(bytes, at));
        at += 8;
    }
    mix(h, word(bytes, n - 8)) | 1
}

/// Whether `text` equals `lower` (ASCII, already lower case), ignoring ASCII case; eight bytes at a time. A
/// non-ASCII byte never compares equal: [`lower8`] only sets bits, so it keeps the high bit of such a byte.
#[inline]
fn eq_lower(text: &[u8], lower: &[u8]) -> bool {
    let n = text.len();
    if n != lower.len() {
        return false;
    }
    if n <= 8 {
        return lower8(short_word(text)) == short_word(lower);
    }
    // Whole words, then the last eight bytes (which may overlap the last whole word).
    let mut at = 0;
    while at + 8 < n {
        if lower8(word(text, at)) != word(lower, at) {
            return false;
        }
        at += 8;
    }
    lower8(word(text, n - 8)) == word(lower, n - 8)
}

impl Pattern {
    pub(crate) fn new(pattern: &str) -> Self {
        let b = pattern.as_bytes();
        let kind = if !b.is_empty() && b.iter().all(|&c| c == b'*') {
            Kind::Any
        } else if !pattern.is_ascii() || b.contains(&b'?') {
            Kind::Glob
        } else if let (Some(first), Some(last)) = (
            b.iter().position(|&c| c == b'*'),
            b.iter().rposition(|&c| c == b'*'),
        ) {
            if b[first..=last].iter().all(|&c| c == b'*') {
                Kind::Affix {
                    prefix: first,
                    suffix: b.len() - last - 1,
                }
            } else {
                Kind::Glob
            }
        } else {
            Kind::Literal
        };
        Pattern {
            source: pattern.into(),
            lower: pattern.to_ascii_lowercase().into_bytes().into(),
            hash: if pattern.is_ascii() {
                hash_lower(pattern.as_bytes())
            } else {
                0
            },
            kind,
        }
    }

    /// For a literal pattern, a key that an ASCII text must have to match ([`Text::literal_key`]); 0 for the
    /// other patterns.
    #[cfg_attr(not(feature = "centralized-sampling"), allow(dead_code))]
    pub(crate) fn literal_key(&self) -> u64 {
        if self.kind == Kind::Literal {
            self.hash
        } else {
            0
        }
    }

    /// Whether `text` matches.
    #[inline(always)]
    pub(crate) fn matches(&self, text: &Text<'_>) -> bool {
        match self.kind {
            Kind::Any => true,
            Kind::Literal => {
                (self.hash == text.hash() && eq_lower(text.text.as_bytes(), &self.lower))
                    || self.matches_non_ascii(text)
            }
            Kind::Affix { prefix, suffix } => {
                let (p, t) = (&*self.lower, text.text.as_bytes());
                (t.len() >= prefix + suffix
                    && eq_lower(&t[..prefix], &p[..prefix])
                    && eq_lower(&t[t.len() - suffix..], &p[p.len() - suffix..]))
                    || self.matches_non_ascii(text)
            }
            Kind::Glob => self.matches_slow(text),
        }
    }

    /// Whether `text`, which the byte comparison of an ASCII pattern did not match, matches all the same: only
    /// a text with non-ASCII characters can.
    #[inline(always)]
    fn matches_non_ascii(&self, text: &Text<'_>) -> bool {
        !text.is_ascii() && self.matches_slow(text)
    }

    /// Non-ASCII text or pattern, or a pattern with `?` or several runs of `*`.
    #[inline(never)]
    fn matches_slow(&self, text: &Text<'_>) -> bool {
        wildcard_match(&self.source, text.text)
    }

    /// Whether a request field matches: a field the request lacks matches any pattern, as in every X-Ray SDK.
    #[inline(always)]
    pub(crate) fn matches_field(&self, field: &Option<Text<'_>>) -> bool {
        field.as_ref().is_none_or(|t| self.matches(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercasing_eight_at_a_time() {
        for b in 0u8..128 {
            let w = u64::from_le_bytes([b, b'A', b'z', b'@', b'[', b'Z', b'`', b'{']);
            let want = u64::from_le_bytes([
                b.to_ascii_lowercase(),
                b'a',
                b'z',
                b'@',
                b'[',
                b'z',
                b'`',
                b'{',
            ]);
            assert_eq!(lower8(w), want, "{b}");
        }
        assert!(eq_lower(
            b"Service-18-LONGER-NAME",
            b"service-18-longer-name"
        ));
        assert!(!eq_lower(
            b"Service-18-LONGER-NAMF",
            b"service-18-longer-name"
        ));
        assert!(!eq_lower(b"service-17", b"service-18"));
        assert_eq!(hash_lower(b"Service-18"), hash_lower(b"sERVICE-18"));
        assert_ne!(hash_lower(b"service-18"), hash_lower(b"service-17"));
        assert_ne!(hash_lower(b"a"), hash_lower(b"a\0"));
        // Every length up to three words, each byte changed in turn.
        assert!(is_ascii(b""));
        let upper: Vec<u8> = (0..24).map(|i| b'A' + i).collect();
        for n in 0..upper.len() {
            let lower = upper[..n].to_ascii_lowercase();
            assert!(eq_lower(&upper[..n], &lower), "{n}");
            assert_eq!(hash_lower(&upper[..n]), hash_lower(&lower), "{n}");
            for i in 0..n {
                let mut other = lower.clone();
                other[i] = b'_';
                assert!(!eq_lower(&upper[..n], &other), "{n} {i}");
                assert_ne!(hash_lower(&upper[..n]), hash_lower(&other), "{n} {i}");
                let mut non_ascii = upper[..n].to_vec();
                non_ascii[i] = 0xC1;
                assert!(!eq_lower(&non_ascii, &lower), "{n} {i}");
                assert!(is_ascii(&upper[..n]) && !is_ascii(&non_ascii), "{n} {i}");
            }
        }
    }

    #[test]
    fn every_form_agrees_with_wildcard_match() {
        let patterns = [
            "*",
            "**",
            "",
            "GET",
            "get",
            "/api/*",
            "*.example.com",
            "/v1/*/items",
            "a**b",
            "*a*",
            "?",
            "a?c",
            "Émile",
            "*mile",
            "k",
            "/API/v?/*",
            "ab*ab",
            "Service-Name-Longer-Than-8",
            "*-than-8",
            "/api/VERY/long/prefix/*",
            "k*",
            "*k",
            "ok",
            "*.ok.com",
        ];
        let texts = [
            "",
            "GET",
            "gEt",
            "GETS",
            "/api/",
            "/API/x",
            "/ap",
            "api.example.com",
            "example.com",
            "api.example.com:8080",
            "/v1/x/items",
            "/v1/items",
            "ab",
            "aXb",
            "a*xb",
            "abab",
            "aba",
            "émile",
            "ÉMILE",
            "\u{212A}",
            "a?c",
            "abc",
            "service-name-longer-than-8",
            "SERVICE-NAME-LONGER-THAN-9",
            "/api/very/LONG/prefix/x",
            "/api/very/long/prefi",
            "@[`{",
            "\u{212A}\u{212A}",
            "o\u{212A}",
            "\u{212A}a",
            "a.o\u{212A}.com",
            "/v1/é/items",
            "/api/é",
        ];
        for p in patterns {
            let prepared = Pattern::new(p);
            for t in texts {
                assert_eq!(
                    prepared.matches(&Text::new(t)),
                    wildcard_match(p, t),
                    "{p:?} {t:?} ({:?})",
                    prepared.kind
                );
            }
        }
        assert_eq!(Pattern::new("**").kind, Kind::Any);
        assert_eq!(Pattern::new("GET").kind, Kind::Literal);
        assert_eq!(
            Pattern::new("*.example.com").kind,
            Kind::Affix {
                prefix: 0,
                suffix: 12
            }
        );
        assert_eq!(Pattern::new("a*b*c").kind, Kind::Glob);
        for (p, t, may_match) in [
            ("GET", "get", true),
            ("GET", "POST", false),
            ("*", "x", true),
            ("k", "\u{212A}", true),
        ] {
            let (key, text) = (Pattern::new(p).literal_key(), Text::new(t));
            let skip = key != 0 && text.literal_key().is_some_and(|k| k != key);
            assert_eq!(!skip, may_match, "{p:?} {t:?}");
        }
        assert!(Pattern::new("x").matches_field(&None));
        assert!(Pattern::new("x").matches_field(&Text::field(Some(""))));
        assert!(!Pattern::new("x").matches_field(&Text::field(Some("y"))));
    }
}

/// The fields of a request, prepared once per decision.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "centralized-sampling"), allow(dead_code))]
pub(crate) struct Fields<'a> {
    pub(crate) service: Option<Text<'a>>,
    pub(crate) service_type: Option<Text<'a>>,
    pub(crate) host: Option<Text<'a>>,
    pub(crate) method: Option<Text<'a>>,
    pub(crate) path: Option<Text<'a>>,
    pub(crate) resource_arn: Option<Text<'a>>,
}

impl<'a> Fields<'a> {
    #[inline]
    pub(crate) fn new(req: &crate::sampling::SamplingRequest<'a>) -> Self {
        Fields {
            service: Text::field(Some(req.service_name)),
            service_type: Text::field(req.service_type),
            host: Text::field(req.host),
            method: Text::field(req.method),
            path: Text::field(req.url_path),
            resource_arn: Text::field(req.resource_arn),
        }
    }
}
