//! A Sovereign's public hosts (`console.FQDN`, `api.FQDN`) as its ingress answers them, on
//! loopback. A probe reaches it without DNS through a resolve override (`probe.resolve` in the
//! world's fleet file); it speaks plain HTTP, so the override carries the scheme too. What it
//! answers is scenario data: a healthy Cilium Gateway (200, `server: envoy`) or the world-ingress
//! policy gap of runbook §2.9 (403 from envoy on every host).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::scenario::IngressScenario;

struct Config {
    fqdn: String,
    answer: IngressScenario,
}

/// One running ingress; dropping it closes the port.
pub struct IngressSim {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IngressSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IngressSim {
    pub async fn start(fqdn: &str, answer: IngressScenario) -> std::io::Result<IngressSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cfg = Arc::new(Config {
            fqdn: fqdn.to_ascii_lowercase(),
            answer,
        });
        let app = Router::new().fallback(answer_request).with_state(cfg);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "simulated ingress stopped");
            }
        });
        Ok(IngressSim { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Hosts of this Sovereign get the scenario's answer; any other host is not routed here (404,
/// as envoy answers a request no route matches).
async fn answer_request(State(cfg): State<Arc<Config>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .unwrap_or("")
        .to_ascii_lowercase();
    let ours = host == cfg.fqdn || host.ends_with(&format!(".{}", cfg.fqdn));
    let (status, body) = if ours {
        (
            StatusCode::from_u16(cfg.answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            match (cfg.answer.body.is_empty(), cfg.answer.status) {
                (false, _) => cfg.answer.body.clone(),
                (true, 403) => "RBAC: access denied".to_string(),
                (true, _) => String::new(),
            },
        )
    } else {
        (StatusCode::NOT_FOUND, String::new())
    };
    let mut resp = (status, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cfg.answer.server) {
        resp.headers_mut().insert(header::SERVER, v);
    }
    resp
}
