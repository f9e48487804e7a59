//! The Hetzner error dialect: `{"error":{"code","message","details"}}` with the status codes the
//! real API uses, so clients branch on `code` exactly as they would in production.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// An API error as the real service reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: json!({}),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unable to authenticate",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "insufficient permissions for this request: the token is read-only",
        )
    }

    pub fn not_found(what: &str, id: i64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} with ID '{id}' not found"),
        )
    }

    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    pub fn uniqueness(field: &str) -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "uniqueness_error",
            format!("{field} is already used"),
        );
        e.details = json!({"fields": [{"name": field}]});
        e
    }

    pub fn invalid_input(field: &str, why: impl Into<String>) -> Self {
        let why = why.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("invalid input in field '{field}'"),
        );
        e.details = json!({"fields": [{"name": field, "messages": [why]}]});
        e
    }

    pub fn json_error(why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "json_error",
            format!("invalid JSON in request body: {why}"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn resource_in_use(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "resource_in_use", message)
    }

    pub fn protected(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "protected",
            format!("{what} is protected"),
        )
    }

    pub fn rate_limited(limit: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            format!("limit of {limit} requests per hour reached"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
    }

    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "details": self.details}})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;
