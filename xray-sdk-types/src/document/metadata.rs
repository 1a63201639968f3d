//! Metadata values.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A metadata value, kept as the JSON text it serializes to: recorded once, copied into the document as is.
#[derive(Clone)]
pub struct MetadataValue(Box<RawValue>);

impl MetadataValue {
    /// Serializes `value`.
    ///
    /// # Errors
    /// When `value`'s `Serialize` implementation fails (a map with non-string keys, for example).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(MetadataValue)
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The value, parsed.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<&Value> for MetadataValue {
    fn from(value: &Value) -> Self {
        // A `Value` always serializes.
        MetadataValue::new(value).unwrap_or_else(|_| MetadataValue(null()))
    }
}

impl From<Value> for MetadataValue {
    fn from(value: Value) -> Self {
        MetadataValue::from(&value)
    }
}

fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

impl PartialEq for MetadataValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get() || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MetadataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through `Value`, so that this works inside flattened and buffered structures too.
        let value = Value::deserialize(deserializer)?;
        MetadataValue::new(&value).map_err(serde::de::Error::custom)
    }
}
