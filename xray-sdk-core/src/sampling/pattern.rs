//! Rule matchers, prepared once so that a decision does the least work: `*` matches without looking, a
//! pattern without wildcards is a case-insensitive comparison, and the rest use
//! [`wildcard_match`](xray_sdk_types::rules::wildcard_match).

use xray_sdk_types::rules::wildcard_match;

/// A prepared `*` / `?` pattern, matched ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*` (or `**`…): matches anything.
    Any,
    /// No wildcard: the text itself, ignoring case.
    Literal(Box<str>),
    /// Anything else.
    Glob(Box<str>),
}

impl Pattern {
    pub(crate) fn new(pattern: &str) -> Self {
        if !pattern.is_empty() && pattern.bytes().all(|b| b == b'*') {
            Pattern::Any
        } else if pattern.bytes().any(|b| b == b'*' || b == b'?') {
            Pattern::Glob(pattern.into())
        } else {
            Pattern::Literal(pattern.into())
        }
    }

    /// Whether `text` matches.
    #[inline]
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Literal(lit) => {
                if lit.len() == text.len() && lit.eq_ignore_ascii_case(text) {
                    true
                } else if lit.is_ascii() && text.is_ascii() {
                    false
                } else {
                    wildcard_match(lit, text)
                }
            }
            Pattern::Glob(glob) => wildcard_match(glob, text),
        }
    }

    /// Whether a request field matches: a field the request does not have (or that is empty) matches any
    /// pattern, as in every X-Ray SDK.
    #[inline]
    pub(crate) fn matches_field(&self, field: Option<&str>) -> bool {
        match field {
            None | Some("") => true,
            Some(text) => self.matches(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_agree_with_wildcard_match() {
        for (p, t) in [
            ("*", ""),
            ("**", "abc"),
            ("GET", "get"),
            ("GET", "GETS"),
            ("Émile", "émile"),
            ("/api/*", "/API/x"),
            ("?", ""),
            ("", ""),
            ("", "a"),
        ] {
            assert_eq!(
                Pattern::new(p).matches(t),
                wildcard_match(p, t),
                "{p:?} {t:?}"
            );
        }
        assert_eq!(Pattern::new("**"), Pattern::Any);
        assert!(matches!(Pattern::new("GET"), Pattern::Literal(_)));
        assert!(Pattern::new("x").matches_field(None));
        assert!(Pattern::new("x").matches_field(Some("")));
        assert!(!Pattern::new("x").matches_field(Some("y")));
    }
}
