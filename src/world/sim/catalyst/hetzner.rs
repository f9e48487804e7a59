//! The Hetzner Cloud calls the simulated tofu makes, over HTTP like the hcloud provider does.
//! Answers are read tolerantly (serde_json::Value) so any faithful Hetzner API will do.

use serde_json::Value;

/// A Hetzner API failure as tofu's hcloud provider would print it.
#[derive(Debug, Clone)]
pub struct HetznerError {
    pub code: String,
    pub message: String,
    /// `details.fields` of an `invalid_input` answer: field name and its messages.
    pub fields: Vec<(String, Vec<String>)>,
}

impl std::fmt::Display for HetznerError {
    /// hcloud-go's `message (code)`; the provider enriches `invalid_input` with the offending
    /// fields as `[field => [messages]]` (terraform-provider-hcloud `ErrorToDiag`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if self.code == "invalid_input" && !self.fields.is_empty() {
            let fields: Vec<String> = self
                .fields
                .iter()
                .map(|(name, msgs)| format!("{name} => [{}]", msgs.join(" ")))
                .collect();
            write!(f, ": [{}]", fields.join(" "))?;
        }
        Ok(())
    }
}

fn invalid_fields(error: Option<&Value>) -> Vec<(String, Vec<String>)> {
    let fields = error
        .and_then(|e| e.pointer("/details/fields"))
        .and_then(Value::as_array);
    fields
        .map(|fs| {
            fs.iter()
                .filter_map(|f| {
                    let name = f.get("name").and_then(Value::as_str)?.to_string();
                    let msgs = f
                        .get("messages")
                        .and_then(Value::as_array)
                        .map(|m| {
                            m.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((name, msgs))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub struct Hetzner<'a> {
    pub clock: &'a crate::sim::clock::SimClock,
    pub http: &'a reqwest::Client,
    pub root: &'a str,
    pub token: &'a str,
}

impl Hetzner<'_> {
    /// One call; a 429 is retried with backoff like hcloud-go does (on the world's clock).
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, HetznerError> {
        let mut attempt = 0u32;
        loop {
            let Some(r) = req.try_clone() else {
                return self.call_once(req).await;
            };
            match self.call_once(r).await {
                Err(e) if e.code == "rate_limit_exceeded" && attempt < 8 => {
                    attempt += 1;
                    self.clock
                        .sleep(std::time::Duration::from_secs(1 << attempt.min(6)))
                        .await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, req: reqwest::RequestBuilder) -> Result<Value, HetznerError> {
        let resp = req
            .bearer_auth(self.token)
            .send()
            .await
            .map_err(|e| HetznerError {
                code: "connection_error".into(),
                message: format!("could not reach the Hetzner API: {e}"),
                fields: Vec::new(),
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
                .unwrap_or(if status == 429 {
                    "rate_limit_exceeded"
                } else {
                    "unknown"
                })
                .into(),
            message: e
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}")),
            fields: invalid_fields(e),
        })
    }

    pub async fn delete(&self, path: &str) -> Result<Value, HetznerError> {
        let url = format!(
            "{}/{}",
            self.root.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        self.call(self.http.delete(url)).await
    }

    /// Every object of a kind (following `meta.pagination.next_page`), optionally by label.
    pub async fn list_all(
        &self,
        kind: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, HetznerError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let url = format!("{}/{kind}", self.root.trim_end_matches('/'));
            let mut q: Vec<(&str, String)> =
                vec![("page", page.to_string()), ("per_page", "50".into())];
            if let Some(sel) = label_selector {
                q.push(("label_selector", sel.to_string()));
            }
            let v = self.call(self.http.get(url).query(&q)).await?;
            if let Some(items) = v.get(kind).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            match v
                .pointer("/meta/pagination/next_page")
                .and_then(Value::as_u64)
            {
                Some(next) if next > page => page = next,
                _ => return Ok(out),
            }
        }
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
