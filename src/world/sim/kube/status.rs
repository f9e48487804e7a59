//! Kubernetes `Status` objects: the body of every error answer (and of in-stream watch errors).

use serde_json::{Value, json};

use super::kinds::KindInfo;

/// An API error as the apiserver reports it: HTTP code, machine reason, human message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: json!({}),
        }
    }

    fn with_details(mut self, kind: &KindInfo, name: &str) -> Self {
        self.details = json!({"name": name, "group": kind.group, "kind": kind.plural});
        self
    }

    pub fn not_found(kind: &KindInfo, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", kind.qualified_resource(), name),
        )
        .with_details(kind, name)
    }

    pub fn namespace_not_found(ns: &str) -> Self {
        ApiError {
            details: json!({"name": ns, "kind": "namespaces"}),
            ..ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
        }
    }

    /// The answer for a path no served kind matches.
    pub fn unknown_path() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(kind: &KindInfo, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", kind.qualified_resource(), name),
        )
        .with_details(kind, name)
    }

    pub fn conflict(kind: &KindInfo, name: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.qualified_resource(),
                name
            ),
        )
        .with_details(kind, name)
    }

    /// A server-side apply that would change fields other managers own: 409 with one
    /// `FieldManagerConflict` cause per field, as the apiserver answers.
    pub fn apply_conflict(
        kind: &KindInfo,
        name: &str,
        message: &str,
        conflicts: &[super::managed::Conflict],
    ) -> Self {
        let mut e = ApiError::new(409, "Conflict", message).with_details(kind, name);
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({"type": "FieldManagerConflict",
                       "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                       "field": c.field})
            })
            .collect();
        e.details["causes"] = Value::Array(causes);
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn invalid(kind: &KindInfo, name: &str, message: impl Into<String>) -> Self {
        ApiError::new(
            422,
            "Invalid",
            format!("{} \"{}\" is invalid: {}", kind.kind, name, message.into()),
        )
        .with_details(kind, name)
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// A defect of the world itself (an object it cannot encode).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(500, "InternalError", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// The watch/list error for a resourceVersion older than the kept history.
    pub fn expired(rv: u64, oldest: u64) -> Self {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {rv} ({oldest})"),
        )
    }

    /// The `Status` object, as sent in a body or inside an `ERROR` watch event.
    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}
