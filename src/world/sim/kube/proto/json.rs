//! The Kubernetes JSON form of k8s-pb messages: the trait `generated.rs` implements for every
//! message the world serves, its impls for scalars and containers, and the few messages whose
//! JSON is not an object of their fields (Time, Quantity, IntOrString, RawExtension, …).

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{Duration, FieldsV1, MicroTime, Time};
use k8s_pb::apimachinery::pkg::runtime::RawExtension;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Map, Value, json};

/// A JSON value that does not fit the message: the path to it and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError(pub String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(what: &str, v: &Value) -> JsonError {
    let shown = match v {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => other.to_string(),
    };
    JsonError(format!("expected {what}, got {shown}"))
}

fn at(name: &str, e: JsonError) -> JsonError {
    JsonError(format!("{name}: {}", e.0))
}

/// Kubernetes JSON ↔ message.
pub trait Json: Sized {
    fn to_json(&self) -> Value;
    fn from_json(v: &Value) -> Result<Self, JsonError>;
    /// Whether the value is left out of JSON output (absent, empty list or map).
    fn is_empty(&self) -> bool {
        false
    }
}

pub fn object(v: &Value) -> Result<&Map<String, Value>, JsonError> {
    v.as_object().ok_or_else(|| err("an object", v))
}

/// Add a field unless it is absent or empty.
pub fn put<T: Json>(m: &mut Map<String, Value>, name: &str, v: &T) {
    if !v.is_empty() {
        m.insert(name.to_string(), v.to_json());
    }
}

/// Read a field; absent and `null` are the message's default.
pub fn field<T: Json + Default>(m: &Map<String, Value>, name: &str) -> Result<T, JsonError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => T::from_json(v).map_err(|e| at(name, e)),
    }
}

/// Merge an embedded (`json:",inline"`) message's fields into this object.
pub fn put_inline<T: Json>(m: &mut Map<String, Value>, _name: &str, v: &Option<T>) {
    if let Some(Value::Object(inner)) = v.as_ref().map(Json::to_json) {
        m.extend(inner);
    }
}

/// Read an embedded message from this object's own fields; absent when none of them is set.
pub fn field_inline<T: Json + Default + PartialEq>(
    m: &Map<String, Value>,
    _name: &str,
) -> Result<Option<T>, JsonError> {
    let inner = T::from_json(&Value::Object(m.clone()))?;
    Ok((inner != T::default()).then_some(inner))
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn unb64(v: &Value) -> Result<Vec<u8>, JsonError> {
    let s = v.as_str().ok_or_else(|| err("base64 text", v))?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| JsonError(format!("illegal base64 data: {e}")))
}

pub fn put_bytes(m: &mut Map<String, Value>, name: &str, v: &Option<Vec<u8>>) {
    if let Some(b) = v {
        m.insert(name.to_string(), b64(b));
    }
}

pub fn field_bytes(m: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, JsonError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => unb64(v).map(Some).map_err(|e| at(name, e)),
    }
}

pub fn put_bytes_map(m: &mut Map<String, Value>, name: &str, v: &BTreeMap<String, Vec<u8>>) {
    if !v.is_empty() {
        let o = v.iter().map(|(k, b)| (k.clone(), b64(b))).collect();
        m.insert(name.to_string(), Value::Object(o));
    }
}

pub fn field_bytes_map(
    m: &Map<String, Value>,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, JsonError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(v) => object(v)
            .and_then(|o| {
                o.iter()
                    .map(|(k, b)| Ok((k.clone(), unb64(b).map_err(|e| at(k, e))?)))
                    .collect()
            })
            .map_err(|e| at(name, e)),
    }
}

pub fn put_bytes_list(m: &mut Map<String, Value>, name: &str, v: &[Vec<u8>]) {
    if !v.is_empty() {
        m.insert(name.to_string(), v.iter().map(|b| b64(b)).collect());
    }
}

pub fn field_bytes_list(m: &Map<String, Value>, name: &str) -> Result<Vec<Vec<u8>>, JsonError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(unb64).collect::<Result<_, _>>(),
        Some(v) => Err(at(name, err("an array", v))),
    }
}

impl Json for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| err("a string", v))
    }
    /// Go writes every non-pointer string into protobuf, empty or not, and leaves an empty one
    /// out of JSON (`omitempty`): a decoded `""` field is not sent on.
    fn is_empty(&self) -> bool {
        String::is_empty(self)
    }
}

impl Json for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_bool().ok_or_else(|| err("a boolean", v))
    }
}

impl Json for i64 {
    fn to_json(&self) -> Value {
        json!(self)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_i64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| err("an integer", v))
    }
}

impl Json for i32 {
    fn to_json(&self) -> Value {
        json!(self)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        i64::from_json(v).and_then(|i| i32::try_from(i).map_err(|_| err("a 32-bit integer", v)))
    }
}

impl Json for f64 {
    fn to_json(&self) -> Value {
        json!(self)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        v.as_f64().ok_or_else(|| err("a number", v))
    }
}

impl<T: Json> Json for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, Json::to_json)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        match v {
            Value::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
    fn is_empty(&self) -> bool {
        self.as_ref().is_none_or(T::is_empty)
    }
}

impl<T: Json> Json for Box<T> {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        T::from_json(v).map(Box::new)
    }
}

impl<T: Json> Json for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(Json::to_json).collect())
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        match v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| T::from_json(x).map_err(|e| at(&format!("[{i}]"), e)))
                .collect(),
            v => Err(err("an array", v)),
        }
    }
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

impl<T: Json> Json for BTreeMap<String, T> {
    fn to_json(&self) -> Value {
        Value::Object(self.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        object(v)?
            .iter()
            .map(|(k, x)| Ok((k.clone(), T::from_json(x).map_err(|e| at(k, e))?)))
            .collect()
    }
    fn is_empty(&self) -> bool {
        BTreeMap::is_empty(self)
    }
}

fn time_text(seconds: Option<i64>, nanos: Option<i32>, micros: bool) -> Value {
    let Some(t) = DateTime::<Utc>::from_timestamp(
        seconds.unwrap_or(0),
        u32::try_from(nanos.unwrap_or(0)).unwrap_or(0),
    ) else {
        return Value::Null;
    };
    let format = if micros {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Secs
    };
    Value::String(t.to_rfc3339_opts(format, true))
}

fn time_parts(v: &Value) -> Result<(Option<i64>, Option<i32>), JsonError> {
    let s = v.as_str().ok_or_else(|| err("an RFC 3339 time", v))?;
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| err("an RFC 3339 time", v))?;
    let nanos = t.timestamp_subsec_nanos() as i32;
    Ok((Some(t.timestamp()), (nanos != 0).then_some(nanos)))
}

impl Json for Time {
    fn to_json(&self) -> Value {
        time_text(self.seconds, self.nanos, false)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let (seconds, nanos) = time_parts(v)?;
        Ok(Time { seconds, nanos })
    }
}

impl Json for MicroTime {
    fn to_json(&self) -> Value {
        time_text(self.seconds, self.nanos, true)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let (seconds, nanos) = time_parts(v)?;
        Ok(MicroTime { seconds, nanos })
    }
}

/// Go's `time.Duration` text (`1h2m3.5s`) ↔ nanoseconds.
impl Json for Duration {
    fn to_json(&self) -> Value {
        let ns = self.duration.unwrap_or(0);
        let (sign, ns) = if ns < 0 { ("-", -ns) } else { ("", ns) };
        let (h, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
        let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
        let secs = rest as f64 / 1e9;
        let text = if h > 0 {
            format!("{sign}{h}h{m}m{secs}s")
        } else if m > 0 {
            format!("{sign}{m}m{secs}s")
        } else {
            format!("{sign}{secs}s")
        };
        Value::String(text)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let s = v.as_str().ok_or_else(|| err("a duration", v))?;
        let mut total = 0f64;
        let mut num = String::new();
        let mut chars = s.trim_start_matches('-').chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let mut unit = c.to_string();
            if (c == 'm' || c == 'u' || c == 'n') && chars.peek() == Some(&'s') {
                unit.push('s');
                chars.next();
            }
            let scale = match unit.as_str() {
                "h" => 3600e9,
                "m" => 60e9,
                "s" => 1e9,
                "ms" => 1e6,
                "us" => 1e3,
                "ns" => 1.0,
                _ => return Err(err("a duration", v)),
            };
            total += num.parse::<f64>().map_err(|_| err("a duration", v))? * scale;
            num.clear();
        }
        if !num.is_empty() {
            return Err(err("a duration", v));
        }
        let sign = if s.starts_with('-') { -1.0 } else { 1.0 };
        Ok(Duration {
            duration: Some((sign * total) as i64),
        })
    }
}

/// managedFields' `fieldsV1`: JSON text in protobuf, an object in JSON.
impl Json for FieldsV1 {
    fn to_json(&self) -> Value {
        self.raw
            .as_deref()
            .and_then(|r| serde_json::from_slice(r).ok())
            .unwrap_or_else(|| json!({}))
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        Ok(FieldsV1 {
            raw: Some(serde_json::to_vec(v).unwrap_or_default()),
        })
    }
}

/// An embedded object (a ControllerRevision's data): its JSON bytes in protobuf, the object
/// itself in JSON.
impl Json for RawExtension {
    fn to_json(&self) -> Value {
        self.raw
            .as_deref()
            .and_then(|r| serde_json::from_slice(r).ok())
            .unwrap_or(Value::Null)
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        Ok(RawExtension {
            raw: Some(serde_json::to_vec(v).unwrap_or_default()),
        })
    }
}

impl Json for Quantity {
    fn to_json(&self) -> Value {
        Value::String(self.string.clone().unwrap_or_default())
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        let string = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            v => return Err(err("a quantity", v)),
        };
        Ok(Quantity {
            string: Some(string),
        })
    }
}

/// `type` 0 is an int, 1 a string (k8s.io/apimachinery/pkg/util/intstr).
impl Json for IntOrString {
    fn to_json(&self) -> Value {
        match self.r#type {
            Some(1) => Value::String(self.str_val.clone().unwrap_or_default()),
            _ => json!(self.int_val.unwrap_or(0)),
        }
    }
    fn from_json(v: &Value) -> Result<Self, JsonError> {
        match v {
            Value::String(s) => Ok(IntOrString {
                r#type: Some(1),
                int_val: None,
                str_val: Some(s.clone()),
            }),
            v => Ok(IntOrString {
                r#type: Some(0),
                int_val: Some(i32::from_json(v)?),
                str_val: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_forms_round_trip() {
        let t = Time::from_json(&json!("2026-01-01T00:00:00Z")).expect("time");
        assert_eq!(t.to_json(), json!("2026-01-01T00:00:00Z"));
        let mt = MicroTime::from_json(&json!("2026-01-01T00:00:00.250000Z")).expect("micro");
        assert_eq!(mt.to_json(), json!("2026-01-01T00:00:00.250000Z"));
        for v in [json!(8080), json!("http")] {
            assert_eq!(IntOrString::from_json(&v).expect("intstr").to_json(), v);
        }
        assert_eq!(
            Quantity::from_json(&json!(2)).expect("q").to_json(),
            json!("2")
        );
        let d = Duration::from_json(&json!("1h30m")).expect("duration");
        assert_eq!(d.duration, Some(5_400_000_000_000));
        assert_eq!(d.to_json(), json!("1h30m0s"));
        assert!(Time::from_json(&json!("yesterday")).is_err());
        assert!(i32::from_json(&json!(1u64 << 40)).is_err());
    }
}
