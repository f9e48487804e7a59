//! The Hetzner Cloud calls the simulated tofu makes, over HTTP like the hcloud provider does.
//! Answers are read tolerantly (serde_json::Value) so any faithful Hetzner API will do.

use serde_json::Value;

/// A Hetzner API failure as tofu's hcloud provider would print it.
#[derive(Debug, Clone)]
pub struct HetznerError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for HetznerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

pub struct Hetzner<'a> {
    pub http: &'a reqwest::Client,
    pub root: &'a str,
    pub token: &'a str,
}

impl Hetzner<'_> {
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, HetznerError> {
        let resp = req
            .bearer_auth(self.token)
            .send()
            .await
            .map_err(|e| HetznerError {
                code: "connection_error".into(),
                message: format!("could not reach the Hetzner API: {e}"),
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(v);
        }
        let e = v.get("error");
        Err(HetznerError {
            code: e
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .into(),
            message: e
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    pub async fn create(&self, kind: &str, body: &Value) -> Result<Value, HetznerError> {
        let url = format!("{}/{kind}", self.root.trim_end_matches('/'));
        self.call(self.http.post(url).json(body)).await
    }

    pub async fn get(&self, path: &str) -> Result<Value, HetznerError> {
        let url = format!(
            "{}/{}",
            self.root.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        self.call(self.http.get(url)).await
    }
}

/// `.server.public_net.ipv4.ip` or `.load_balancer.public_net.ipv4.ip` of a create answer.
pub fn public_ipv4(obj: &Value) -> Option<String> {
    obj.pointer("/public_net/ipv4/ip")
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub fn id_of(obj: &Value) -> Option<i64> {
    obj.get("id").and_then(Value::as_i64)
}
