//! pool-domain-manager client (contract §6.1): check, reserve, commit, release.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{ClientError, ErrorBody};
use super::model::SubdomainVerdict;

/// A row of the PDM table: a reservation or an active allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub pool_domain: String,
    pub subdomain: String,
    pub state: String,
    #[serde(default)]
    pub reserved_at: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(
        rename = "sovereignFQDN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sovereign_fqdn: Option<String>,
    #[serde(
        rename = "loadBalancerIP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PdmClient {
    root: String,
    http: reqwest::Client,
}

impl PdmClient {
    pub fn new(root: &str) -> Result<Self, ClientError> {
        let root = root.trim().trim_end_matches('/').to_string();
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            return Err(ClientError::BadUrl(root));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| ClientError::Transport {
                url: root.clone(),
                source,
            })?;
        Ok(PdmClient { root, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.root, path)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        url: String,
    ) -> Result<T, ClientError> {
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Api {
                url,
                status,
                body: ErrorBody::decode(ctype.as_deref(), &text),
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Malformed {
            url,
            detail: e.to_string(),
        })
    }

    pub async fn check(&self, pool: &str, sub: &str) -> Result<SubdomainVerdict, ClientError> {
        let url = self.url(&format!("/api/v1/pool/{pool}/check"));
        self.send(self.http.get(&url).query(&[("sub", sub)]), url)
            .await
    }

    /// 201 Reservation; 409 `conflict` when the name is reserved or active.
    pub async fn reserve(
        &self,
        pool: &str,
        sub: &str,
        created_by: &str,
    ) -> Result<Allocation, ClientError> {
        let url = self.url(&format!("/api/v1/pool/{pool}/reserve"));
        let body = serde_json::json!({"subdomain": sub, "createdBy": created_by});
        self.send(self.http.post(&url).json(&body), url).await
    }

    pub async fn commit(
        &self,
        pool: &str,
        sub: &str,
        token: &str,
        fqdn: &str,
        lb_ip: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let url = self.url(&format!("/api/v1/pool/{pool}/commit"));
        let body = serde_json::json!({"subdomain": sub, "reservationToken": token,
            "sovereignFQDN": fqdn, "loadBalancerIP": lb_ip});
        self.send(self.http.post(&url).json(&body), url).await
    }

    /// Release by query (`?sub=`), the way the recovery script calls it.
    pub async fn release(&self, pool: &str, sub: &str) -> Result<serde_json::Value, ClientError> {
        let url = self.url(&format!("/api/v1/pool/{pool}/release"));
        self.send(self.http.delete(&url).query(&[("sub", sub)]), url)
            .await
    }

    pub async fn list(&self, pool: &str) -> Result<Vec<Allocation>, ClientError> {
        #[derive(Deserialize)]
        struct L {
            allocations: Vec<Allocation>,
        }
        let url = self.url(&format!("/api/v1/pool/{pool}/list"));
        let l: L = self.send(self.http.get(&url), url).await?;
        Ok(l.allocations)
    }
}
