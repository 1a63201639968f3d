//! Rule matchers, prepared once so that a decision does the least work.
//!
//! `*` matches without looking; a pattern without wildcards is a case-insensitive comparison; a pattern with one
//! run of `*` and no `?` (`/api/*`, `*.example.com`, `/v1/*/items`) compares its two ends; anything else uses
//! [`wildcard_match`](xray_sdk_types::rules::wildcard_match). Every form gives exactly the result of
//! `wildcard_match`: the fast forms apply only when both pattern and text are ASCII.

use std::cell::Cell;

use xray_sdk_types::rules::wildcard_match;

/// A request field, with whether it is ASCII and, once a literal pattern asks for it, a hash of its lower-case
/// form: both are computed at most once per decision, so that rules with a literal pattern are told apart by
/// comparing two integers.
#[derive(Debug, Clone)]
pub(crate) struct Text<'a> {
    text: &'a str,
    ascii: bool,
    /// 0 until computed; a computed hash is never 0.
    hash: Cell<u64>,
}

impl<'a> Text<'a> {
    #[inline]
    pub(crate) fn new(text: &'a str) -> Self {
        Text {
            text,
            ascii: text.is_ascii(),
            hash: Cell::new(0),
        }
    }

    /// The hash of the ASCII text in lower case.
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
    /// No wildcard, ASCII: the text itself, ignoring ASCII case.
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

/// A hash of ASCII `bytes` in lower case, eight bytes at a time (FxHash-like; not for untrusted hashing).
#[inline]
fn hash_lower(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517C_C1B7_2722_0A95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ lower8(w)).wrapping_mul(K);
    }
    let mut tail = 0u64;
    for (i, &b) in chunks.remainder().iter().enumerate() {
        tail |= u64::from(b) << (8 * i);
    }
    (h.rotate_left(5) ^ lower8(tail)).wrapping_mul(K) | 1
}

/// Whether ASCII `text` equals `lower` (ASCII, already lower case), ignoring ASCII case; eight bytes at a time.
#[inline]
fn eq_lower(text: &[u8], lower: &[u8]) -> bool {
    if text.len() != lower.len() {
        return false;
    }
    let mut t = text.chunks_exact(8);
    let mut l = lower.chunks_exact(8);
    for (a, b) in (&mut t).zip(&mut l) {
        let a = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
        let b = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        if lower8(a) != b {
            return false;
        }
    }
    t.remainder()
        .iter()
        .zip(l.remainder())
        .all(|(a, b)| a.to_ascii_lowercase() == *b)
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

    /// Whether `text` matches.
    #[inline(always)]
    pub(crate) fn matches(&self, text: &Text<'_>) -> bool {
        match self.kind {
            Kind::Any => true,
            Kind::Literal if text.ascii => {
                self.hash == text.hash() && eq_lower(text.text.as_bytes(), &self.lower)
            }
            Kind::Affix { prefix, suffix } if text.ascii => {
                let (p, t) = (&*self.lower, text.text.as_bytes());
                t.len() >= prefix + suffix
                    && eq_lower(&t[..prefix], &p[..prefix])
                    && eq_lower(&t[t.len() - suffix..], &p[p.len() - suffix..])
            }
            _ => self.matches_slow(text),
        }
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
        assert!(Pattern::new("x").matches_field(&None));
        assert!(Pattern::new("x").matches_field(&Text::field(Some(""))));
        assert!(!Pattern::new("x").matches_field(&Text::field(Some("y"))));
    }
}

/// The fields of a request, prepared once per decision.
#[derive(Debug, Clone)]
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
