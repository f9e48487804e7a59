//! SSH keys with the MD5 fingerprint Hetzner shows (`aa:bb:…` over the wire-format key blob).

use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::body::{self, Reply, created, no_content};
use super::error::{ApiError, ApiResult};
use super::store::{Kind, Store};

pub fn fingerprint(public_key: &str) -> ApiResult<String> {
    // Hetzner names the field, not the parse error; the parser's reason goes to our log only.
    let key = ssh_key::PublicKey::from_openssh(public_key.trim()).map_err(|e| {
        tracing::debug!("refusing an SSH public key: {e}");
        ApiError::invalid_input("public_key", "public_key field is invalid")
    })?;
    let blob = key.to_bytes().map_err(|e| {
        tracing::debug!("refusing an SSH public key: {e}");
        ApiError::invalid_input("public_key", "public_key field is invalid")
    })?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

pub fn create(store: &mut Store, body: &Value) -> ApiResult<Reply> {
    let name = body::req_str(body, "name")?;
    let public_key = body::req_str(body, "public_key")?;
    let labels = body::labels(body)?;
    let fp = fingerprint(public_key)?;
    if store.name_taken(Kind::SshKey, name, None) {
        return Err(ApiError::uniqueness("name"));
    }
    if store
        .records(Kind::SshKey)
        .any(|r| r.json["fingerprint"].as_str() == Some(&fp))
    {
        return Err(ApiError::uniqueness("public_key"));
    }
    let id = store.alloc_id();
    store.insert(
        Kind::SshKey,
        id,
        json!({
            "id": id,
            "name": name,
            "fingerprint": fp,
            "public_key": public_key.trim(),
            "labels": labels,
            "created": store.now_string(),
        }),
    );
    created(json!({"ssh_key": store.render(Kind::SshKey, id)?}))
}

pub fn delete(store: &mut Store, id: i64) -> ApiResult<Reply> {
    store.mark_deleted(Kind::SshKey, id)?;
    no_content()
}
