//! The distribution spec's token exchange as a registry such as ghcr.io speaks it: a `401` with
//! `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`, and the realm's JSON answer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The realm's answer (`GET {realm}?service=…&scope=…`). The spec allows `token`, `access_token`
/// or both; ghcr.io sends `token`. Secret: `Debug` masks both.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenResponse {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token", &"<masked>")
            .field("access_token", &"<masked>")
            .field("expires_in", &self.expires_in)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}
