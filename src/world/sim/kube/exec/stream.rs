//! `GET`/`POST .../pods/{name}/exec`: check the request as the apiserver does, upgrade the
//! connection to the protocol the client offers (websocket channel subprotocols, else SPDY/3.1),
//! then hand the upgraded connection to [`super::websocket`] or [`super::spdy`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::{ExecOutput, PodView};
use crate::sim::kube::cluster::ClusterInner;
use crate::sim::kube::kinds;
use crate::sim::kube::query::parse_bool;
use crate::sim::kube::status::ApiError;

/// The websocket subprotocols served, preferred first (v5 adds the close-stdin signal).
pub const WS_PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];
/// The SPDY stream protocol served (the error stream carries a JSON Status).
pub const SPDY_PROTOCOL: &str = "v4.channel.k8s.io";

/// What one exec asked for.
pub(crate) struct ExecRequest {
    pub argv: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// Run the command once stdin is complete: the registry's answer, shaped for the wire.
pub(crate) struct Job {
    pub cluster: Arc<ClusterInner>,
    pub pod: PodView,
    pub req: ExecRequest,
}

impl Job {
    /// (stdout, stderr, error-channel Status) to send. With a TTY, stderr goes to stdout.
    pub fn run(&self, stdin: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let out = self.cluster.exec.run_in(&self.pod, &self.req.argv, stdin);
        let status = serde_json::to_vec(&exit_status(&self.req.argv, &out)).unwrap_or_default();
        let ExecOutput {
            mut stdout,
            mut stderr,
            ..
        } = out;
        if self.req.tty {
            stdout.append(&mut stderr);
        }
        if !self.req.stdout {
            stdout.clear();
        }
        if !self.req.stderr {
            stderr.clear();
        }
        (stdout, stderr, status)
    }
}

/// The Status the kubelet writes on the error channel: Success, or NonZeroExitCode with the code
/// as an `ExitCode` cause (kubectl exits with it).
pub fn exit_status(argv: &[String], out: &ExecOutput) -> Value {
    if out.exit_code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {}",
            argv.join(" "),
            out.exit_code
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": out.exit_code.to_string()}]},
    })
}

fn status_response(e: &ApiError) -> Response {
    let mut resp = Response::new(Body::from(
        serde_json::to_vec(&e.to_status()).unwrap_or_default(),
    ));
    *resp.status_mut() = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Header values, split at commas (both `A, B` and repeated headers).
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn parse_request(query: Option<&str>) -> Result<(ExecRequest, Option<String>), ApiError> {
    let mut argv = Vec::new();
    let mut container = None;
    let (mut stdin, mut stdout, mut stderr, mut tty) = (false, false, false, false);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let flag = |v: &str| {
            parse_bool(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "strconv.ParseBool: parsing {v:?}: invalid syntax (parameter {k})"
                ))
            })
        };
        match &*k {
            "command" => argv.push(v.into_owned()),
            "container" if !v.is_empty() => container = Some(v.into_owned()),
            "stdin" => stdin = flag(&v)?,
            "stdout" => stdout = flag(&v)?,
            "stderr" => stderr = flag(&v)?,
            "tty" => tty = flag(&v)?,
            _ => {}
        }
    }
    if argv.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !(stdin || stdout || stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    Ok((
        ExecRequest {
            argv,
            stdin,
            stdout,
            stderr: stderr && !tty,
            tty,
        },
        container,
    ))
}

/// Answer an exec request for pod `namespace/name`.
pub(crate) async fn serve(
    cluster: Arc<ClusterInner>,
    namespace: String,
    name: String,
    mut request: Request,
) -> Response {
    let (req, container) = match parse_request(request.uri().query()) {
        Ok(r) => r,
        Err(e) => return status_response(&e),
    };
    let Some(pod_kind) = kinds::by_kind("Pod", Some("v1")) else {
        return status_response(&ApiError::unknown_path());
    };
    let Some(pod) = cluster.store().get(pod_kind, &namespace, &name) else {
        return status_response(&ApiError::not_found(kinds::info(pod_kind), &name));
    };
    let pod = match PodView::of(&pod, container.as_deref()) {
        Ok(p) => p,
        Err(e) => return status_response(&ApiError::bad_request(e)),
    };
    let headers = request.headers().clone();
    let upgrade = header_list(&headers, "upgrade")
        .into_iter()
        .map(|u| u.to_ascii_lowercase())
        .collect::<Vec<_>>();
    let job = Job { cluster, pod, req };
    let on_upgrade = hyper::upgrade::on(&mut request);
    if upgrade.iter().any(|u| u == "websocket") {
        let offered = header_list(&headers, "sec-websocket-protocol");
        let Some(proto) = WS_PROTOCOLS
            .iter()
            .find(|p| offered.iter().any(|o| o == *p))
        else {
            return status_response(&ApiError::bad_request(format!(
                "unable to upgrade connection: no supported websocket subprotocol in {offered:?} \
                 (server supports {WS_PROTOCOLS:?})"
            )));
        };
        let Some(key) = headers.get("sec-websocket-key") else {
            return status_response(&ApiError::bad_request("missing Sec-WebSocket-Key"));
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let v5 = *proto == "v5.channel.k8s.io";
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(io) => super::websocket::run(TokioIo::new(io), v5, job).await,
                Err(e) => tracing::debug!(error = %e, "exec websocket upgrade failed"),
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(proto),
        );
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        return resp;
    }
    if upgrade.iter().any(|u| u == "spdy/3.1") {
        let offered = header_list(&headers, "x-stream-protocol-version");
        if !offered.iter().any(|o| o == SPDY_PROTOCOL) {
            return status_response(&ApiError::new(
                403,
                "Forbidden",
                format!(
                    "unable to upgrade connection: unable to negotiate protocol: client supports \
                     {offered:?}, server supports [\"{SPDY_PROTOCOL}\"]"
                ),
            ));
        }
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(io) => super::spdy::run(TokioIo::new(io), job).await,
                Err(e) => tracing::debug!(error = %e, "exec SPDY upgrade failed"),
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        h.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static(SPDY_PROTOCOL),
        );
        return resp;
    }
    status_response(&ApiError::bad_request("Upgrade request required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_like_the_apiserver() {
        let (r, c) = parse_request(Some(
            "command=sh&command=-c&command=echo%20hi&container=web&stdout=true&stderr=1&tty=false",
        ))
        .unwrap();
        assert_eq!(r.argv, ["sh", "-c", "echo hi"]);
        assert_eq!(c.as_deref(), Some("web"));
        assert!(r.stdout && r.stderr && !r.stdin && !r.tty);
        assert_eq!(
            parse_request(Some("stdout=true")).err().unwrap().message,
            "you must specify at least 1 command"
        );
        assert_eq!(
            parse_request(Some("command=x&stdout=yes"))
                .err()
                .unwrap()
                .code,
            400
        );
    }

    #[test]
    fn non_zero_exit_is_the_kubelets_status() {
        let argv = vec!["sh".to_string(), "-c".into(), "exit 3".into()];
        let s = exit_status(&argv, &ExecOutput::fail(3, ""));
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "ExitCode", "message": "3"})
        );
        assert_eq!(
            s["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        assert_eq!(
            exit_status(&argv, &ExecOutput::ok("")),
            json!({"metadata": {}, "status": "Success"})
        );
    }
}
