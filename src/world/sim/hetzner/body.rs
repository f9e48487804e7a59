//! Reading request bodies the way the real API validates them: missing or mistyped fields are
//! `invalid_input` naming the field.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};

/// Status and JSON body of a handled request; `Value::Null` means no body (204).
pub type Reply = (StatusCode, Value);

pub fn created(v: Value) -> ApiResult<Reply> {
    Ok((StatusCode::CREATED, v))
}

pub fn action_reply(action: Value) -> ApiResult<Reply> {
    created(json!({ "action": action }))
}

pub fn no_content() -> ApiResult<Reply> {
    Ok((StatusCode::NO_CONTENT, Value::Null))
}

pub fn req_str<'a>(body: &'a Value, field: &str) -> ApiResult<&'a str> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(ApiError::invalid_input(field, "must be a non-empty string")),
        None => Err(ApiError::invalid_input(
            field,
            "Missing data for required field.",
        )),
    }
}

pub fn opt_str<'a>(body: &'a Value, field: &str) -> ApiResult<Option<&'a str>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_input(field, "must be a string")),
    }
}

pub fn opt_bool(body: &Value, field: &str, default: bool) -> ApiResult<bool> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_input(field, "must be a boolean")),
    }
}

pub fn opt_i64(body: &Value, field: &str) -> ApiResult<Option<i64>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid_input(field, "must be an integer")),
    }
}

pub fn req_i64(body: &Value, field: &str) -> ApiResult<i64> {
    opt_i64(body, field)?
        .ok_or_else(|| ApiError::invalid_input(field, "Missing data for required field."))
}

pub fn opt_array<'a>(body: &'a Value, field: &str) -> ApiResult<&'a [Value]> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ApiError::invalid_input(field, "must be a list")),
    }
}

/// Labels: an object of string values, keys and values in Hetzner's allowed alphabet.
pub fn labels(body: &Value) -> ApiResult<Value> {
    match body.get("labels") {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let key_ok = !k.is_empty()
                    && k.len() <= 317
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
                let val_ok = v.as_str().is_some_and(|s| {
                    s.len() <= 63
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                });
                if !key_ok || !val_ok {
                    return Err(ApiError::invalid_input(
                        "labels",
                        format!("label '{k}' has an invalid key or value"),
                    ));
                }
            }
            Ok(Value::Object(m.clone()))
        }
        Some(_) => Err(ApiError::invalid_input("labels", "must be an object")),
    }
}

/// Server names must be valid hostnames (RFC 1123), as on the real API.
pub fn hostname(name: &str) -> ApiResult<()> {
    let ok = name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_input("name", "must be a valid hostname"))
    }
}

/// An IPv4 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str, field: &str) -> ApiResult<Cidr> {
        let bad = || ApiError::invalid_input(field, format!("'{s}' is not an IPv4 CIDR"));
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let mask = Self::mask(prefix);
        Ok(Cidr {
            base: u32::from(ip) & mask,
            prefix,
        })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    pub fn size(self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn contains_ip(self, ip: u32) -> bool {
        ip & Self::mask(self.prefix) == self.base
    }

    pub fn contains(self, other: Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_ip(other.base)
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    pub fn host(self, n: u32) -> String {
        std::net::Ipv4Addr::from(self.base.wrapping_add(n)).to_string()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", std::net::Ipv4Addr::from(self.base), self.prefix)
    }
}

pub fn parse_ipv4(s: &str, field: &str) -> ApiResult<u32> {
    s.parse::<std::net::Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| ApiError::invalid_input(field, format!("'{s}' is not an IPv4 address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let net = Cidr::parse("10.0.0.0/16", "ip_range").unwrap();
        let sub = Cidr::parse("10.0.1.0/24", "ip_range").unwrap();
        assert!(net.contains(sub));
        assert!(!sub.contains(net));
        assert_eq!(sub.host(2), "10.0.1.2");
        assert_eq!(net.host(1), "10.0.0.1");
        assert!(Cidr::parse("10.0.0.0/33", "x").is_err());
        assert!(hostname("catalyst-a-b-cp1").is_ok());
        assert!(hostname("bad_name").is_err());
    }
}
