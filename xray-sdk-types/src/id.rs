//! Trace ids and entity ids.
//!
//! A trace id reads `1-<8 hex epoch seconds>-<24 hex random>`; segment, subsegment and exception ids are
//! 16 hex digits. Both are kept as plain integers, so that they are `Copy`, compare cheaply and format without
//! allocation. Parsing accepts lower-case hex only, which is what X-Ray itself produces (the
//! trace header reader also takes upper case: see [`crate::header`]).

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text does not have the expected length.
    #[error("expected {expected} characters, found {found}")]
    Length {
        /// The length a valid id has.
        expected: usize,
        /// The length that was given.
        found: usize,
    },
    /// The text holds something other than lower-case hex digits where they are expected.
    #[error("expected lower-case hex digits")]
    NotHex,
    /// A trace id that does not start with version `1-` or lacks the `-` separators.
    #[error("expected the form 1-XXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX")]
    Format,
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Parses exactly `bytes.len()` lower-case hex digits (at most 32) into an integer.
fn parse_hex(bytes: &[u8]) -> Result<u128, IdError> {
    bytes.iter().try_fold(0u128, |acc, &b| {
        hex_value(b)
            .map(|v| (acc << 4) | u128::from(v))
            .ok_or(IdError::NotHex)
    })
}

/// The 8 lower-case hex digits of `value`, most significant first, computed a word at a time: ids are written
/// for every entity sent and every response header.
fn hex8(value: u32) -> [u8; 8] {
    // One nibble per byte, the most significant nibble in the most significant byte.
    let x = u64::from(value);
    let x = ((x & 0xffff_0000) << 16) | (x & 0xffff);
    let x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    let x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // 0x01 in each byte whose nibble is 10 or more, which then moves from '0' + n to 'a' + n - 10.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * 0x27).to_be_bytes()
}

/// The 16 lower-case hex digits of `value`.
fn hex16(value: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hex8((value >> 32) as u32));
    out[8..].copy_from_slice(&hex8(value as u32));
    out
}

/// `Display`, `Debug`, `FromStr` and serde for an id type with `LEN`, `write_to` and `parse`.
macro_rules! text_impls {
    ($ty:ident, $debug:literal, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; Self::LEN];
                self.write_to(&mut buf);
                // The buffer holds ASCII hex digits and dashes only.
                f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($debug, "({})"), self)
            }
        }

        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; Self::LEN];
                self.write_to(&mut buf);
                serializer
                    .serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $ty::parse(&text).map_err(|e| {
                    serde::de::Error::custom(format_args!(
                        concat!("invalid ", $what, " {:?}: {}"),
                        text, e
                    ))
                })
            }
        }
    };
}

/// An X-Ray trace id: version 1, the epoch second at which the trace began, and 96 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    // The epoch seconds in the high 32 bits and the top 32 random bits below them, then the low 64 random bits:
    // two whole words, so that the id is copied as it was written (and orders as epoch, then random).
    hi: u64,
    lo: u64,
}

const RANDOM_MASK: u128 = (1u128 << 96) - 1;

impl TraceId {
    /// The length of the text form, `1-XXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX`.
    pub const LEN: usize = 35;

    /// The trace id that unsampled entities carry when no real id is known: `1-00000000-000000000000000000000000`.
    pub const NOOP: TraceId = TraceId { hi: 0, lo: 0 };

    /// A new trace id stamped with the current time, with 96 bits from the thread's cryptographically secure
    /// generator (seeded once per thread; no system call per id).
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes[4..]);
        Self::from_parts(
            u32::try_from(crate::time::current_second()).unwrap_or(u32::MAX),
            u128::from_be_bytes(bytes),
        )
    }

    /// Builds a trace id from its epoch seconds and its random part (only the low 96 bits are used).
    pub const fn from_parts(epoch: u32, random: u128) -> Self {
        let random = random & RANDOM_MASK;
        TraceId {
            hi: ((epoch as u64) << 32) | ((random >> 64) as u64),
            lo: random as u64,
        }
    }

    /// The epoch seconds part.
    pub const fn epoch(&self) -> u32 {
        (self.hi >> 32) as u32
    }

    /// The 96-bit random part.
    pub const fn random(&self) -> u128 {
        (((self.hi & 0xffff_ffff) as u128) << 64) | self.lo as u128
    }

    /// Whether this is [`TraceId::NOOP`].
    pub const fn is_noop(&self) -> bool {
        self.hi == 0 && self.lo == 0
    }

    /// The 32-hex-digit W3C trace id with the same bits (`4efaaf4d1e8720b39541901950019ee5` for
    /// `1-4efaaf4d-1e8720b39541901950019ee5`).
    pub fn to_w3c(&self) -> String {
        let mut out = [0u8; 32];
        // The epoch then the random bits: the two words as they are stored.
        out[..16].copy_from_slice(&hex16(self.hi));
        out[16..].copy_from_slice(&hex16(self.lo));
        out.iter().map(|&b| char::from(b)).collect()
    }

    /// Parses a 32-hex-digit W3C trace id: its first 8 digits become the epoch part.
    ///
    /// # Errors
    /// [`IdError`] unless the text is 32 lower-case hex digits. The all-zero id, which W3C declares invalid, is
    /// rejected as [`IdError::Format`].
    pub fn from_w3c(text: &str) -> Result<Self, IdError> {
        let bytes = text.as_bytes();
        if bytes.len() != 32 {
            return Err(IdError::Length {
                expected: 32,
                found: bytes.len(),
            });
        }
        let epoch = parse_hex(&bytes[..8])? as u32;
        let random = parse_hex(&bytes[8..])?;
        let id = Self::from_parts(epoch, random);
        if id.is_noop() {
            return Err(IdError::Format);
        }
        Ok(id)
    }

    /// Writes the 35-byte text form into `out`.
    pub fn write_to(&self, out: &mut [u8; Self::LEN]) {
        out[0] = b'1';
        out[1] = b'-';
        out[2..10].copy_from_slice(&hex8((self.hi >> 32) as u32));
        out[10] = b'-';
        out[11..19].copy_from_slice(&hex8(self.hi as u32));
        out[19..27].copy_from_slice(&hex8((self.lo >> 32) as u32));
        out[27..].copy_from_slice(&hex8(self.lo as u32));
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// [`IdError`] for anything but `1-` followed by 8 and 24 lower-case hex digits separated by `-`.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let b = text.as_bytes();
        if b.len() != Self::LEN {
            return Err(IdError::Length {
                expected: Self::LEN,
                found: b.len(),
            });
        }
        if b[0] != b'1' || b[1] != b'-' || b[10] != b'-' {
            return Err(IdError::Format);
        }
        let epoch = parse_hex(&b[2..10])? as u32;
        let random = parse_hex(&b[11..])?;
        Ok(Self::from_parts(epoch, random))
    }
}

impl Default for TraceId {
    fn default() -> Self {
        Self::new()
    }
}

text_impls!(TraceId, "TraceId", "trace id");

/// A 64-bit id of a segment, subsegment or exception, written as 16 lower-case hex digits. It is also the W3C
/// span id form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(u64);

impl EntityId {
    /// The length of the text form.
    pub const LEN: usize = 16;

    /// The id unsampled entities carry: `0000000000000000`.
    pub const NOOP: EntityId = EntityId(0);

    /// A new random id from the thread's cryptographically secure generator. Never [`EntityId::NOOP`].
    pub fn new() -> Self {
        let mut rng = rand::rng();
        loop {
            let v = rng.next_u64();
            if v != 0 {
                return EntityId(v);
            }
        }
    }

    /// The id with these bits.
    pub const fn from_u64(value: u64) -> Self {
        EntityId(value)
    }

    /// The bits of this id.
    pub const fn as_u64(&self) -> u64 {
        self.0
    }

    /// Whether this is [`EntityId::NOOP`].
    pub const fn is_noop(&self) -> bool {
        self.0 == 0
    }

    /// Writes the 16-byte text form into `out`.
    pub fn write_to(&self, out: &mut [u8; Self::LEN]) {
        *out = hex16(self.0);
    }

    /// Parses 16 lower-case hex digits (the X-Ray id and the W3C span id have the same form).
    ///
    /// # Errors
    /// [`IdError`] for any other text.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let b = text.as_bytes();
        if b.len() != Self::LEN {
            return Err(IdError::Length {
                expected: Self::LEN,
                found: b.len(),
            });
        }
        Ok(EntityId(parse_hex(b)? as u64))
    }
}

impl Default for EntityId {
    fn default() -> Self {
        Self::new()
    }
}

text_impls!(EntityId, "EntityId", "id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_the_formatter_for_every_nibble_and_edge() {
        let mut values = vec![
            0,
            1,
            9,
            10,
            15,
            16,
            0x0123_4567,
            0x89ab_cdef,
            u32::MAX,
            0xa0a0_9f9f,
        ];
        // Every nibble value in every position.
        for shift in (0..32).step_by(4) {
            values.extend((0..16u32).map(|n| n << shift));
        }
        for v in values {
            assert_eq!(hex8(v), format!("{v:08x}").as_bytes(), "{v:#x}");
            let wide = (u64::from(v) << 32) | u64::from(!v);
            assert_eq!(hex16(wide), format!("{wide:016x}").as_bytes(), "{wide:#x}");
        }
    }

    #[test]
    fn trace_id_round_trips_and_rejects_bad_text() {
        let text = "1-5759e988-bd862e3fe1be46a994272793";
        let id = TraceId::parse(text).unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.epoch(), 0x5759e988);
        for bad in [
            "",
            "1-5759e988-bd862e3fe1be46a99427279",
            "1-5759E988-bd862e3fe1be46a994272793",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1_5759e988-bd862e3fe1be46a994272793",
            "1-5759e988_bd862e3fe1be46a994272793",
            "1-5759e98g-bd862e3fe1be46a994272793",
            "1-5759e988-bd862e3fe1be46a99427279é",
        ] {
            assert!(TraceId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn generated_ids_have_the_documented_shape() {
        let a = TraceId::new();
        let b = TraceId::new();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), TraceId::LEN);
        assert_eq!(TraceId::parse(&text), Ok(a));
        let now = crate::time::current_second();
        assert!(now - u64::from(a.epoch()) <= 1);
        let e = EntityId::new();
        assert_eq!(EntityId::parse(&e.to_string()), Ok(e));
        assert!(!e.is_noop());
    }

    #[test]
    fn noop_ids() {
        assert_eq!(
            TraceId::NOOP.to_string(),
            "1-00000000-000000000000000000000000"
        );
        assert_eq!(EntityId::NOOP.to_string(), "0000000000000000");
    }

    #[test]
    fn w3c_mapping() {
        let id = TraceId::from_w3c("4efaaf4d1e8720b39541901950019ee5").unwrap();
        assert_eq!(id.to_string(), "1-4efaaf4d-1e8720b39541901950019ee5");
        assert_eq!(id.to_w3c(), "4efaaf4d1e8720b39541901950019ee5");
        assert!(TraceId::from_w3c("00000000000000000000000000000000").is_err());
        assert!(TraceId::from_w3c("4efaaf4d1e8720b39541901950019ee").is_err());
        assert!(TraceId::from_w3c("4EFAAF4D1E8720B39541901950019EE5").is_err());
        let span = EntityId::parse("53995c3f42cd8ad8").unwrap();
        assert_eq!(span.as_u64(), 0x53995c3f42cd8ad8);
    }
}
