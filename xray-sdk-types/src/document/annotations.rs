//! Annotation values.

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
    /// A string.
    String(String),
}

impl From<bool> for AnnotationValue {
    fn from(v: bool) -> Self {
        AnnotationValue::Bool(v)
    }
}

impl From<&str> for AnnotationValue {
    fn from(v: &str) -> Self {
        AnnotationValue::String(v.to_owned())
    }
}

impl From<String> for AnnotationValue {
    fn from(v: String) -> Self {
        AnnotationValue::String(v)
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
            None => AnnotationValue::String(v.to_string()),
        }
    }
}

impl From<f32> for AnnotationValue {
    fn from(v: f32) -> Self {
        AnnotationValue::from(f64::from(v))
    }
}
