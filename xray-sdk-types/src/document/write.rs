//! A fast JSON writer for documents: the same bytes as `serde_json::to_writer`, in a fraction of the time.
//!
//! Field names are written as literals and strings are copied unless they need escaping; the rare and
//! nested blocks (`http`, `aws`, `sql`, `service`, `cause`, unknown fields) go through serde. The test suite
//! checks that the output is byte-for-byte what serde produces.

use serde::Serialize;

use super::{AnnotationValue, Document, Metadata, OrderedMap};

/// Appends `value` serialized by serde_json (numbers, nested blocks).
fn serde_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, value)
}

/// Appends a JSON string, copying it whole when nothing in it needs escaping.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_into(out, s)
    }
}

/// Appends a time the way [`Document`]'s serde implementation writes it.
fn seconds(out: &mut Vec<u8>, t: f64) -> Result<(), serde_json::Error> {
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if t.fract() == 0.0 && t.abs() < EXACT_INTEGERS {
        serde_into(out, &(t as i64))
    } else {
        serde_into(out, &t)
    }
}

struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes `"key":`; `key` is a literal that needs no escaping.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
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

    fn end(self) {
        self.out.push(b'}');
    }
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
        let mut obj = Object::new(out);
        let mut id = [0u8; 16];
        self.id.write_to(&mut id);
        let o = obj.key("id");
        o.push(b'"');
        o.extend_from_slice(&id);
        o.push(b'"');
        string(obj.key("name"), &self.name)?;
        seconds(obj.key("start_time"), self.start_time)?;
        if let Some(end) = self.end_time {
            seconds(obj.key("end_time"), end)?;
        }
        if let Some(b) = self.in_progress {
            obj.key("in_progress")
                .extend_from_slice(if b { b"true" } else { b"false" });
        }
        if let Some(trace_id) = &self.trace_id {
            let mut buf = [0u8; 35];
            trace_id.write_to(&mut buf);
            let o = obj.key("trace_id");
            o.push(b'"');
            o.extend_from_slice(&buf);
            o.push(b'"');
        }
        if let Some(parent) = &self.parent_id {
            parent.write_to(&mut id);
            let o = obj.key("parent_id");
            o.push(b'"');
            o.extend_from_slice(&id);
            o.push(b'"');
        }
        if self.kind.is_some() {
            obj.key("type").extend_from_slice(b"\"subsegment\"");
        }
        if let Some(ns) = &self.namespace {
            let o = obj.key("namespace");
            o.push(b'"');
            o.extend_from_slice(ns.as_str().as_bytes());
            o.push(b'"');
        }
        for (key, value) in [
            ("origin", &self.origin),
            ("user", &self.user),
            ("resource_arn", &self.resource_arn),
        ] {
            if let Some(v) = value {
                string(obj.key(key), v)?;
            }
        }
        if let Some(b) = self.traced {
            obj.key("traced")
                .extend_from_slice(if b { b"true" } else { b"false" });
        }
        if !self.precursor_ids.is_empty() {
            serde_into(obj.key("precursor_ids"), &self.precursor_ids)?;
        }
        if let Some(http) = &self.http {
            serde_into(obj.key("http"), http)?;
        }
        if let Some(aws) = &self.aws {
            serde_into(obj.key("aws"), aws)?;
        }
        if let Some(sql) = &self.sql {
            serde_into(obj.key("sql"), sql)?;
        }
        if let Some(service) = &self.service {
            serde_into(obj.key("service"), service)?;
        }
        if !self.annotations.is_empty() {
            annotations(obj.key("annotations"), &self.annotations)?;
        }
        if !self.metadata.is_empty() {
            metadata(obj.key("metadata"), &self.metadata)?;
        }
        for (key, flag) in [
            ("error", self.error),
            ("throttle", self.throttle),
            ("fault", self.fault),
        ] {
            if let Some(b) = flag {
                obj.key(key)
                    .extend_from_slice(if b { b"true" } else { b"false" });
            }
        }
        if let Some(cause) = &self.cause {
            serde_into(obj.key("cause"), cause)?;
        }
        if !self.subsegments.is_empty() {
            let o = obj.key("subsegments");
            o.push(b'[');
            for (i, sub) in self.subsegments.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                sub.write_json(o)?;
            }
            o.push(b']');
        }
        for (k, v) in &self.extra {
            serde_into(obj.escaped_key(k)?, v)?;
        }
        obj.end();
        Ok(())
    }
}
