//! A fast JSON writer for documents: the same bytes as `serde_json::to_writer`, in a fraction of the time.
//!
//! Field names are written as literals and strings are copied unless they need escaping. The blocks every
//! server segment carries (`http`, `aws` with its `xray` part, `service`) are written here too; the rarer ones
//! (`sql`, `cause`, the `aws` resource blocks, unknown fields) go through serde. The test suite checks that the
//! output is byte-for-byte what serde produces.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    AnnotationValue, Aws, Document, Http, HttpRequest, HttpResponse, Metadata, OrderedMap, Service,
    XraySdk,
};

/// Appends `value` serialized by serde_json (numbers, nested blocks).
fn serde_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, value)
}

/// Whether the 8 bytes of `x` include one that JSON escapes: a control character, `"` or `\`. Bytes of
/// multi-byte characters (0x80 and above) never match.
#[inline]
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `x` is below `n` (for `n` up to 0x80): exact as a yes or no.
    let any_below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0;
    any_below(x, 0x20)
        || any_below(x ^ (ONES * u64::from(b'"')), 1)
        || any_below(x ^ (ONES * u64::from(b'\\')), 1)
}

/// The `N` bytes of `s` from `at` (none if `s` is shorter).
fn load<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
    s.get(at..at + N)?.try_into().ok()
}

/// Whether `s` holds a byte that JSON escapes, checked a word at a time: names, keys and values are mostly a
/// few bytes long, so the last word overlaps the one before it rather than ending in a loop over bytes.
fn needs_escape(s: &[u8]) -> bool {
    let special = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    let n = s.len();
    if n >= 8 {
        let whole = (0..n / 8)
            .any(|i| load::<8>(s, 8 * i).is_none_or(|w| word_needs_escape(u64::from_le_bytes(w))));
        whole || load::<8>(s, n - 8).is_none_or(|w| word_needs_escape(u64::from_le_bytes(w)))
    } else if n >= 4 {
        // The first four bytes and the last four, which may overlap, in one word.
        match (load::<4>(s, 0), load::<4>(s, n - 4)) {
            (Some(first), Some(last)) => word_needs_escape(
                u64::from(u32::from_le_bytes(first)) | (u64::from(u32::from_le_bytes(last)) << 32),
            ),
            _ => s.iter().any(special),
        }
    } else {
        s.iter().any(special)
    }
}

/// Appends a JSON string, copying it whole when nothing in it needs escaping.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_into(out, s)
    }
}

/// The digits of the last whole second written: the times of one segment tree mostly share their second.
#[derive(Default)]
struct Seconds {
    second: u64,
    /// The digits of `second`; none until a time has been written.
    digits: [u8; 20],
    len: usize,
}

/// `"00"` to `"99"`.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends a time the way [`Document`]'s serde implementation writes it.
fn seconds(out: &mut Vec<u8>, t: f64, last: &mut Seconds) -> Result<(), serde_json::Error> {
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if let Some(micros) = whole_micros(t) {
        let second = micros / 1_000_000;
        if last.len == 0 || last.second != second {
            let mut buf = itoa::Buffer::new();
            let digits = buf.format(second).as_bytes();
            last.second = second;
            last.len = digits.len();
            last.digits[..digits.len()].copy_from_slice(digits);
        }
        out.extend_from_slice(&last.digits[..last.len]);
        let fraction = (micros % 1_000_000) as usize;
        if fraction != 0 {
            let pair = |p: usize| [PAIRS[2 * p], PAIRS[2 * p + 1]];
            let [a, b] = pair(fraction / 10_000);
            let [c, d] = pair(fraction / 100 % 100);
            let [e, f] = pair(fraction % 100);
            let text = [b'.', a, b, c, d, e, f];
            // Not all six digits are zeros: the fraction is not zero.
            let zeros = text.iter().rev().take_while(|&&d| d == b'0').count();
            out.extend_from_slice(&text[..text.len() - zeros]);
        }
        return Ok(());
    }
    if t.fract() == 0.0 && t.abs() < EXACT_INTEGERS {
        serde_into(out, &(t as i64))
    } else {
        serde_into(out, &t)
    }
}

/// The whole number of microseconds `t` is, when `t` is exactly what [`crate::time::epoch_seconds`] makes of
/// that number (`micros as f64 / 1e6`) and lies between 1 second and 2^33 seconds (the year 2242).
///
/// Such a time is written as its seconds and up to six decimals, which is what the shortest round-trip form
/// serde writes comes to: the division rounds correctly, so these decimals round to `t`; and in that range
/// `t`'s neighbours are less than a microsecond apart, so no other decimal of six places or fewer does.
fn whole_micros(t: f64) -> Option<u64> {
    if !(1.0..8_589_934_592.0).contains(&t) {
        return None;
    }
    // The nearest whole microsecond (`t` is positive: adding a half and truncating rounds), then checked.
    let micros = (t * 1e6 + 0.5) as u64;
    (micros as f64 / 1e6 == t).then_some(micros)
}

/// A field name as written, quotes and colon included: `q!("name")` is `"name":`, made at compile time.
macro_rules! q {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}

struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    #[inline(always)]
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes a key given as `"key":` (see [`q!`]): a literal that needs no escaping.
    // Always inlined, so that each literal is copied at its known length rather than by a call.
    #[inline(always)]
    fn key(&mut self, quoted: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(quoted.as_bytes());
        self.out
    }

    /// Writes `"key":` for a key that may need escaping.
    fn escaped_key(&mut self, key: &str) -> Result<&mut Vec<u8>, serde_json::Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key)?;
        self.out.push(b':');
        Ok(self.out)
    }

    #[inline(always)]
    fn end(self) {
        self.out.push(b'}');
    }

    /// Writes `"key":"value"` when `value` is set.
    fn string(
        &mut self,
        key: &str,
        value: &Option<impl AsRef<str>>,
    ) -> Result<(), serde_json::Error> {
        match value.as_ref().map(AsRef::as_ref) {
            Some(v) => string(self.key(key), v),
            None => Ok(()),
        }
    }

    /// Writes `"key":true|false` when `value` is set.
    fn bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(b) = value {
            self.key(key)
                .extend_from_slice(if b { b"true" } else { b"false" });
        }
    }

    /// Writes `"key":value` through serde when `value` is set.
    fn serde<T: Serialize>(
        &mut self,
        key: &str,
        value: &Option<T>,
    ) -> Result<(), serde_json::Error> {
        match value {
            Some(v) => serde_into(self.key(key), v),
            None => Ok(()),
        }
    }

    /// Writes the fields of a flattened map of unknown fields.
    fn extra(&mut self, extra: &Map<String, Value>) -> Result<(), serde_json::Error> {
        for (k, v) in extra {
            serde_into(self.escaped_key(k)?, v)?;
        }
        Ok(())
    }
}

// Each block is destructured without `..`: a field added to a type fails to compile here until it is written.

fn http(out: &mut Vec<u8>, http: &Http) -> Result<(), serde_json::Error> {
    let Http { request, response } = http;
    let mut obj = Object::new(out);
    if let Some(request) = request {
        let HttpRequest {
            method,
            url,
            user_agent,
            client_ip,
            x_forwarded_for,
            traced,
        } = request;
        let mut o = Object::new(obj.key(q!("request")));
        o.string(q!("method"), method)?;
        o.string(q!("url"), url)?;
        o.string(q!("user_agent"), user_agent)?;
        o.string(q!("client_ip"), client_ip)?;
        o.bool(q!("x_forwarded_for"), *x_forwarded_for);
        o.bool(q!("traced"), *traced);
        o.end();
    }
    if let Some(response) = response {
        let HttpResponse {
            status,
            content_length,
        } = response;
        let mut o = Object::new(obj.key(q!("response")));
        o.serde(q!("status"), status)?;
        o.serde(q!("content_length"), content_length)?;
        o.end();
    }
    obj.end();
    Ok(())
}

fn aws(out: &mut Vec<u8>, aws: &Aws) -> Result<(), serde_json::Error> {
    let Aws {
        account_id,
        operation,
        region,
        request_id,
        retries,
        queue_url,
        table_name,
        resource_names,
        ec2,
        ecs,
        eks,
        elastic_beanstalk,
        cloudwatch_logs,
        xray,
        extra,
    } = aws;
    let mut obj = Object::new(out);
    obj.string(q!("account_id"), account_id)?;
    obj.string(q!("operation"), operation)?;
    obj.string(q!("region"), region)?;
    obj.string(q!("request_id"), request_id)?;
    obj.serde(q!("retries"), retries)?;
    obj.string(q!("queue_url"), queue_url)?;
    obj.string(q!("table_name"), table_name)?;
    obj.serde(q!("resource_names"), resource_names)?;
    obj.serde(q!("ec2"), ec2)?;
    obj.serde(q!("ecs"), ecs)?;
    obj.serde(q!("eks"), eks)?;
    obj.serde(q!("elastic_beanstalk"), elastic_beanstalk)?;
    obj.serde(q!("cloudwatch_logs"), cloudwatch_logs)?;
    if let Some(xray) = xray {
        xray_sdk(obj.key(q!("xray")), xray)?;
    }
    obj.extra(extra)?;
    obj.end();
    Ok(())
}

fn xray_sdk(out: &mut Vec<u8>, xray: &XraySdk) -> Result<(), serde_json::Error> {
    let XraySdk {
        sdk,
        sdk_version,
        auto_instrumentation,
        sampling_rule_name,
        extra,
    } = xray;
    let mut obj = Object::new(out);
    obj.string(q!("sdk"), sdk)?;
    obj.string(q!("sdk_version"), sdk_version)?;
    obj.bool(q!("auto_instrumentation"), *auto_instrumentation);
    obj.string(q!("sampling_rule_name"), sampling_rule_name)?;
    obj.extra(extra)?;
    obj.end();
    Ok(())
}

fn service(out: &mut Vec<u8>, service: &Service) -> Result<(), serde_json::Error> {
    let Service {
        version,
        runtime,
        runtime_version,
        compiler,
        compiler_version,
        extra,
    } = service;
    let mut obj = Object::new(out);
    obj.string(q!("version"), version)?;
    obj.string(q!("runtime"), runtime)?;
    obj.string(q!("runtime_version"), runtime_version)?;
    obj.string(q!("compiler"), compiler)?;
    obj.string(q!("compiler_version"), compiler_version)?;
    obj.extra(extra)?;
    obj.end();
    Ok(())
}

fn annotations(
    out: &mut Vec<u8>,
    map: &OrderedMap<AnnotationValue>,
) -> Result<(), serde_json::Error> {
    let mut obj = Object::new(out);
    for (k, v) in map.iter() {
        let out = obj.escaped_key(k)?;
        match v {
            AnnotationValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            AnnotationValue::Number(n) => serde_into(out, n)?,
            AnnotationValue::String(s) => string(out, s)?,
        }
    }
    obj.end();
    Ok(())
}

fn metadata(out: &mut Vec<u8>, map: &Metadata) -> Result<(), serde_json::Error> {
    let mut obj = Object::new(out);
    for (namespace, entries) in map.iter() {
        let out = obj.escaped_key(namespace)?;
        let mut inner = Object::new(out);
        for (k, v) in entries.iter() {
            inner.escaped_key(k)?.extend_from_slice(v.json().as_bytes());
        }
        inner.end();
    }
    obj.end();
    Ok(())
}

impl Document {
    /// Appends this document as compact JSON to `out`: exactly the bytes `serde_json::to_writer` would write,
    /// several times faster.
    ///
    /// # Errors
    /// Only when a nested block fails to serialize, which the types here never do.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.write_entity(out, &mut Seconds::default())
    }

    fn write_entity(&self, out: &mut Vec<u8>, last: &mut Seconds) -> Result<(), serde_json::Error> {
        // Every field, in serde's order; without `..`, so that a field added to `Document` fails to compile
        // here until it is written.
        let Document {
            id,
            name,
            start_time,
            end_time,
            in_progress,
            trace_id,
            parent_id,
            kind,
            namespace,
            origin,
            user,
            resource_arn,
            traced,
            precursor_ids,
            http: http_block,
            aws: aws_block,
            sql,
            service: service_block,
            annotations: annotation_map,
            metadata: metadata_map,
            error,
            throttle,
            fault,
            cause,
            subsegments,
            extra,
        } = self;
        let mut obj = Object::new(out);
        let mut id_text = [0u8; 16];
        id.write_to(&mut id_text);
        let o = obj.key(q!("id"));
        o.push(b'"');
        o.extend_from_slice(&id_text);
        o.push(b'"');
        string(obj.key(q!("name")), name)?;
        seconds(obj.key(q!("start_time")), *start_time, last)?;
        if let Some(end) = end_time {
            seconds(obj.key(q!("end_time")), *end, last)?;
        }
        obj.bool(q!("in_progress"), *in_progress);
        if let Some(trace_id) = trace_id {
            let mut buf = [0u8; 35];
            trace_id.write_to(&mut buf);
            let o = obj.key(q!("trace_id"));
            o.push(b'"');
            o.extend_from_slice(&buf);
            o.push(b'"');
        }
        if let Some(parent) = parent_id {
            parent.write_to(&mut id_text);
            let o = obj.key(q!("parent_id"));
            o.push(b'"');
            o.extend_from_slice(&id_text);
            o.push(b'"');
        }
        if kind.is_some() {
            obj.key(q!("type")).extend_from_slice(b"\"subsegment\"");
        }
        if let Some(ns) = namespace {
            let o = obj.key(q!("namespace"));
            o.push(b'"');
            o.extend_from_slice(ns.as_str().as_bytes());
            o.push(b'"');
        }
        obj.string(q!("origin"), origin)?;
        obj.string(q!("user"), user)?;
        obj.string(q!("resource_arn"), resource_arn)?;
        obj.bool(q!("traced"), *traced);
        if !precursor_ids.is_empty() {
            serde_into(obj.key(q!("precursor_ids")), precursor_ids)?;
        }
        if let Some(h) = http_block {
            http(obj.key(q!("http")), h)?;
        }
        if let Some(a) = aws_block {
            aws(obj.key(q!("aws")), a)?;
        }
        obj.serde(q!("sql"), sql)?;
        if let Some(s) = service_block {
            service(obj.key(q!("service")), s)?;
        }
        if !annotation_map.is_empty() {
            annotations(obj.key(q!("annotations")), annotation_map)?;
        }
        if !metadata_map.is_empty() {
            metadata(obj.key(q!("metadata")), metadata_map)?;
        }
        obj.bool(q!("error"), *error);
        obj.bool(q!("throttle"), *throttle);
        obj.bool(q!("fault"), *fault);
        obj.serde(q!("cause"), cause)?;
        if !subsegments.is_empty() {
            let o = obj.key(q!("subsegments"));
            o.push(b'[');
            for (i, sub) in subsegments.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                sub.write_entity(o, last)?;
            }
            o.push(b']');
        }
        obj.extra(extra)?;
        obj.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_found_at_every_position_and_only_there() {
        for len in 0..40 {
            let plain = "aé~ \u{7f}z".chars().cycle().take(len).collect::<String>();
            assert!(!needs_escape(plain.as_bytes()), "{plain:?}");
            for at in 0..=plain.len() {
                if !plain.is_char_boundary(at) {
                    continue;
                }
                for special in ['"', '\\', '\n', '\0', '\u{1f}'] {
                    let mut text = plain.clone();
                    text.insert(at, special);
                    assert!(needs_escape(text.as_bytes()), "{text:?}");
                }
            }
        }
    }

    fn as_serde_writes(t: f64) -> String {
        let mut fast = Vec::new();
        seconds(&mut fast, t, &mut Seconds::default()).unwrap_or_default();
        // And again after another second, as in a tree.
        let mut after_another = Vec::new();
        let mut last = Seconds::default();
        seconds(&mut Vec::new(), t + 1.0, &mut last).unwrap_or_default();
        seconds(&mut after_another, t, &mut last).unwrap_or_default();
        assert_eq!(after_another, fast);
        let mut slow = Vec::new();
        // What `Document`'s serde implementation does with a time.
        if t.fract() == 0.0 && t.abs() < 9_007_199_254_740_992.0 {
            serde_into(&mut slow, &(t as i64)).unwrap_or_default();
        } else {
            serde_into(&mut slow, &t).unwrap_or_default();
        }
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow),
            "{t}"
        );
        String::from_utf8_lossy(&fast).into_owned()
    }

    #[test]
    fn microsecond_times_are_written_as_serde_writes_them() {
        assert_eq!(as_serde_writes(1_764_129_600.000_001), "1764129600.000001");
        assert_eq!(as_serde_writes(1_764_129_600.5), "1764129600.5");
        assert_eq!(as_serde_writes(1_764_129_600.0), "1764129600");
        // A spread of whole microseconds from 1 s to 2^33 s, from a fixed sequence, and their round figures.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let micros = 1_000_000 + (x >> 11) % (8_589_934_592_000_000 - 1_000_000);
            for m in [
                micros,
                micros / 10 * 10,
                micros / 1000 * 1000,
                micros / 100_000 * 100_000,
            ] {
                as_serde_writes(m as f64 / 1e6);
            }
            // Times that are not whole microseconds, and times outside the range, take the general path.
            as_serde_writes(f64::from_bits(x >> 2));
            as_serde_writes(micros as f64 / 1e6 + 1e-7);
        }
        for t in [
            0.5,
            0.999_999,
            8_589_934_591.999_999,
            8_589_934_592.000_001,
            1e16,
            1.000_000_1,
        ] {
            as_serde_writes(t);
        }
    }
}
