//! Metadata values.

use std::cell::RefCell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A metadata value, kept as the JSON text it serializes to: recorded once, copied into the document as is.
#[derive(Clone)]
pub struct MetadataValue(Box<str>);

thread_local! {
    /// Where values are serialized before being copied out at their exact length.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl MetadataValue {
    /// Serializes `value`.
    ///
    /// # Errors
    /// When `value`'s `Serialize` implementation fails (a map with non-string keys, for example).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let reused = SCRATCH.try_with(|scratch| {
            let mut buf = scratch.try_borrow_mut().ok()?;
            buf.clear();
            let result = serde_json::to_writer(&mut *buf, value).map(|()| text(&buf));
            // A one-off large value does not stay allocated.
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            Some(result)
        });
        match reused {
            Ok(Some(result)) => result.map(MetadataValue),
            // Serializing a value whose `Serialize` records metadata itself, or during thread teardown.
            _ => serde_json::to_string(value).map(|json| MetadataValue(json.into_boxed_str())),
        }
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The value, parsed.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// serde_json writes UTF-8 only; a failure here would be a bug in it, and gives `null` rather than a panic.
fn text(json: &[u8]) -> Box<str> {
    std::str::from_utf8(json).unwrap_or("null").into()
}

impl From<&Value> for MetadataValue {
    fn from(value: &Value) -> Self {
        // A `Value` always serializes.
        MetadataValue::new(value).unwrap_or_else(|_| MetadataValue("null".into()))
    }
}

impl From<Value> for MetadataValue {
    fn from(value: Value) -> Self {
        MetadataValue::from(&value)
    }
}

impl PartialEq for MetadataValue {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MetadataValue {
    /// As the JSON it holds, unchanged (borrowed as a raw value: checked, not copied).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MetadataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through `Value`, so that this works inside flattened and buffered structures too.
        let value = Value::deserialize(deserializer)?;
        MetadataValue::new(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value whose serialization records metadata itself, as a user's `Serialize` might.
    struct Nested;

    impl Serialize for Nested {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let inner = MetadataValue::new(&[1, 2, 3]).map_err(serde::ser::Error::custom)?;
            inner.serialize(serializer)
        }
    }

    #[test]
    fn values_keep_their_json_whatever_serializes_them() {
        assert_eq!(MetadataValue::new(&Nested).unwrap().json(), "[1,2,3]");
        let big = "x".repeat(100_000);
        let value = MetadataValue::new(&big).unwrap();
        assert_eq!(value.json().len(), big.len() + 2);
        assert_eq!(MetadataValue::new(&("a", 1)).unwrap().json(), r#"["a",1]"#);
        let map: std::collections::HashMap<(i32, i32), i32> = [((1, 2), 3)].into();
        assert!(
            MetadataValue::new(&map).is_err(),
            "non-string keys are refused"
        );
        // After the refusal the buffer is reused cleanly.
        assert_eq!(MetadataValue::new(&true).unwrap().json(), "true");
        assert_eq!(
            serde_json::to_string(&MetadataValue::new(&Nested).unwrap()).unwrap(),
            "[1,2,3]"
        );
    }
}
