//! Annotation values.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::Number;

/// The value of an annotation: X-Ray indexes strings, numbers and booleans only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnnotationValue {
    /// A boolean.
    Bool(bool),
    /// An integer or a finite floating-point number.
    Number(Number),
    /// A string (stored inline up to 24 bytes).
    String(CompactString),
}

impl From<bool> for AnnotationValue {
    fn from(v: bool) -> Self {
        AnnotationValue::Bool(v)
    }
}

impl From<&str> for AnnotationValue {
    fn from(v: &str) -> Self {
        AnnotationValue::String(CompactString::new(v))
    }
}

impl From<String> for AnnotationValue {
    fn from(v: String) -> Self {
        AnnotationValue::String(CompactString::from(v))
    }
}

macro_rules! annotation_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for AnnotationValue {
            fn from(v: $t) -> Self {
                AnnotationValue::Number(Number::from(v))
            }
        }
    )*};
}
annotation_from_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for AnnotationValue {
    /// A finite number is kept; NaN and the infinities, which JSON cannot hold, become their text (`"NaN"`).
    fn from(v: f64) -> Self {
        match Number::from_f64(v) {
            Some(n) => AnnotationValue::Number(n),
            None => AnnotationValue::String(compact_str::format_compact!("{v}")),
        }
    }
}

impl From<f32> for AnnotationValue {
    fn from(v: f32) -> Self {
        AnnotationValue::from(f64::from(v))
    }
}
