//! The HTTP face of a simulated cluster: discovery, CRUD, patch and watch, with Kubernetes
//! semantics (Status errors, resourceVersions, bookmarks, in-stream 410s).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster::{ClusterInner, RequestRecord};
use super::events_view;
use super::kinds::{self, KindId, KindInfo};
use super::managed::Actor;
use super::proto::{self, Format};
use super::query::{FieldSelector, LabelSelector, Params};
use super::status::ApiError;
use super::store::{Filter, Owners, PatchBody, StoredEvent, WriteMode, event_line};
use super::table;

/// How often an idle watch that asked for bookmarks gets one (the real apiserver: about a minute).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn router(cluster: Arc<ClusterInner>) -> Router {
    Router::new().fallback(entry).with_state(cluster)
}

/// `pods/{name}/exec` takes the whole request (it upgrades the connection); everything else is
/// answered from its parts and body.
async fn entry(State(c): State<Arc<ClusterInner>>, req: Request) -> Response {
    if let Some((namespace, pod)) = exec_target(req.uri().path()) {
        let (method, uri, version) = (
            req.method().clone(),
            req.uri().to_string(),
            format!("{:?}", req.version()),
        );
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let resp = if c.control().unauthorized {
            error_response(&ApiError::unauthorized())
        } else if method != Method::GET && method != Method::POST {
            error_response(&ApiError::method_not_allowed())
        } else {
            super::exec::serve(c.clone(), namespace, pod, req).await
        };
        c.log_request(RequestRecord {
            at: c
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            method: method.to_string(),
            uri,
            status: resp.status().as_u16(),
            user_agent,
            watch: false,
            version,
        });
        return resp;
    }
    let (version, method, uri, headers) = (
        req.version(),
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    match Bytes::from_request(req, &()).await {
        Ok(body) => handle(State(c), version, method, uri, headers, body).await,
        Err(rejection) => rejection.into_response(),
    }
}

/// (namespace, pod) of `/api/v1/namespaces/{ns}/pods/{name}/exec`.
fn exec_target(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "exec"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Version,
    OpenApiV2,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    Collection {
        kind: KindId,
        namespace: Option<String>,
    },
    Object {
        kind: KindId,
        namespace: String,
        name: String,
        status: bool,
    },
    PodLog {
        namespace: String,
        name: String,
    },
}

fn parse_target(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Ok(Target::Version),
        ["openapi", "v2"] | ["swagger-2.0.0.pb-v1"] => return Ok(Target::OpenApiV2),
        ["api"] => return Ok(Target::CoreVersions),
        ["apis"] => return Ok(Target::GroupList),
        ["apis", g] => {
            return if kinds::KINDS.iter().any(|k| k.group == *g) {
                Ok(Target::Group(g.to_string()))
            } else {
                Err(ApiError::unknown_path())
            };
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::unknown_path()),
    };
    if !kinds::group_versions().contains(&(group, version)) {
        return Err(ApiError::unknown_path());
    }
    let lookup =
        |plural: &str| kinds::by_plural(group, version, plural).ok_or_else(ApiError::unknown_path);
    let namespaced = |k: KindId| kinds::info(k).namespaced;
    match rest {
        [] => Ok(Target::ResourceList(group.to_string(), version.to_string())),
        // /api/v1/namespaces/{ns}/{plural}[/{name}[/status]] — checked before the cluster-scoped
        // forms because `namespaces/{name}[/status]` is itself a cluster-scoped object path.
        ["namespaces", ns, plural, tail @ ..] if *plural != "status" || !tail.is_empty() => {
            let kind = lookup(plural)?;
            if !namespaced(kind) {
                return Err(ApiError::unknown_path());
            }
            match tail {
                [] => Ok(Target::Collection {
                    kind,
                    namespace: Some(ns.to_string()),
                }),
                [name] => Ok(Target::Object {
                    kind,
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    status: false,
                }),
                [name, "status"] if kinds::info(kind).status_subresource => Ok(Target::Object {
                    kind,
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    status: true,
                }),
                [name, "log"] if group.is_empty() && *plural == "pods" => Ok(Target::PodLog {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                }),
                _ => Err(ApiError::unknown_path()),
            }
        }
        [plural] => Ok(Target::Collection {
            kind: lookup(plural)?,
            namespace: None,
        }),
        [plural, name, tail @ ..] => {
            let kind = lookup(plural)?;
            if namespaced(kind) {
                return Err(ApiError::unknown_path());
            }
            let status = match tail {
                [] => false,
                ["status"] if kinds::info(kind).status_subresource => true,
                _ => return Err(ApiError::unknown_path()),
            };
            Ok(Target::Object {
                kind,
                namespace: String::new(),
                name: name.to_string(),
                status,
            })
        }
    }
}

fn json_response(code: u16, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status())
}

/// An answer in the negotiated format. Table answers are built by the caller (they need the
/// kind's columns) and arrive here as JSON.
fn respond(code: u16, body: &Value, format: Format) -> Response {
    let (bytes, content_type) = match format {
        Format::Json | Format::Table => return json_response(code, body),
        Format::Yaml => match serde_yaml::to_string(body) {
            Ok(text) => (text.into_bytes(), "application/yaml"),
            Err(e) => return error_response(&ApiError::internal(format!("yaml: {e}"))),
        },
        Format::Protobuf => match proto::encode(body) {
            Ok(bytes) => (bytes, proto::PROTOBUF),
            // A stored object that does not fit its message is a defect of the world: say so.
            Err(e) => return error_response(&ApiError::internal(format!("protobuf: {e}"))),
        },
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An error in the negotiated format (a protobuf client gets a protobuf Status).
fn error_in(e: &ApiError, format: Format) -> Response {
    match format {
        Format::Protobuf => respond(e.code, &e.to_status(), Format::Protobuf),
        _ => error_response(e),
    }
}

/// The format of an answer about `kind`, from the request's `Accept`.
fn format_for(kind: KindId, headers: &HeaderMap) -> Result<Format, ApiError> {
    let info = kinds::info(kind);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    proto::negotiate(accept, proto::has_protobuf(&info.api_version(), info.kind)).ok_or_else(|| {
        ApiError::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml{}",
                if proto::has_protobuf(&info.api_version(), info.kind) {
                    ", application/vnd.kubernetes.protobuf"
                } else {
                    ""
                }
            ),
        )
    })
}

async fn handle(
    State(c): State<Arc<ClusterInner>>,
    version: axum::http::Version,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (latency, unauthorized) = {
        let control = c.control();
        (control.latency, control.unauthorized)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let params = Params::parse(uri.query());
    let is_watch = params.bool("watch").unwrap_or(false);
    let resp = if unauthorized {
        error_response(&ApiError::unauthorized())
    } else {
        match route(&c, &method, uri.path(), &params, &headers, body) {
            Ok(r) => r,
            Err(e) => error_response(&e),
        }
    };
    c.log_request(RequestRecord {
        at: c
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method: method.to_string(),
        uri: uri.to_string(),
        status: resp.status().as_u16(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        watch: is_watch,
        version: format!("{version:?}"),
    });
    resp
}

fn route(
    c: &Arc<ClusterInner>,
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = parse_target(path)?;
    let kind = match &target {
        Target::Collection { kind, .. } | Target::Object { kind, .. } => *kind,
        // Discovery documents are JSON (what every client asks for first); logs are text.
        Target::PodLog { namespace, name } if *method == Method::GET => {
            return pod_log(c, namespace, name, params);
        }
        _ => return discovery(c, &target, method, headers),
    };
    let format = format_for(kind, headers)?;
    match resource(c, &target, kind, method, params, headers, body, format) {
        Ok(r) => Ok(r),
        Err(e) => Ok(error_in(&e, format)),
    }
}

fn discovery(
    c: &Arc<ClusterInner>,
    target: &Target,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if *method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    Ok(match target {
        Target::Version => json_response(200, &version_doc()),
        Target::OpenApiV2 => openapi_v2(headers),
        Target::CoreVersions => json_response(200, &core_versions(c)),
        Target::GroupList => json_response(200, &group_list()),
        Target::Group(g) => json_response(200, &group_doc(g)),
        Target::ResourceList(g, v) => json_response(200, &resource_list(g, v)),
        _ => return Err(ApiError::method_not_allowed()),
    })
}

#[allow(clippy::too_many_arguments)] // one request, taken apart
fn resource(
    c: &Arc<ClusterInner>,
    target: &Target,
    kind: KindId,
    method: &Method,
    params: &Params,
    headers: &HeaderMap,
    body: Bytes,
    format: Format,
) -> Result<Response, ApiError> {
    let info = kinds::info(kind);
    // A second shape of another kind (events.k8s.io/v1 Events) is read and written there.
    let skind = kinds::storage(kind);
    let shown = |o: &Value| shape(kind, o);
    match (target, method.clone()) {
        (Target::Collection { namespace, .. }, Method::GET) => {
            if params.bool("watch")? {
                watch(c, kind, namespace.clone(), params, None, format)
            } else {
                list(c, kind, namespace.clone(), params, format)
            }
        }
        (Target::Collection { namespace, .. }, Method::POST) => {
            let obj = unshape(kind, parse_write_body(info, headers, &body)?, true)?;
            let mode = write_mode(c, false);
            let now = c.clock.now();
            let ns = namespace.clone().unwrap_or_default();
            let actor = actor(c, params, headers, false)?;
            let created =
                c.write(|s| s.create_as(skind, &ns, obj, mode, true, now, Owners::Update(&actor)))?;
            Ok(respond(201, &shown(&created), format))
        }
        (
            Target::Object {
                namespace, name, ..
            },
            Method::GET,
        ) if params.bool("watch")? => {
            let ns = (!namespace.is_empty()).then(|| namespace.clone());
            watch(c, kind, ns, params, Some(name.clone()), format)
        }
        (
            Target::Object {
                namespace, name, ..
            },
            Method::GET,
        ) => {
            let obj = c
                .store()
                .get(skind, namespace, name)
                .ok_or_else(|| ApiError::not_found(info, name))?;
            if format == Format::Table {
                let rv = c.store().resource_version();
                let t = table::table(info, &[&obj], rv, None, c.clock.now());
                Ok(json_response(200, &t))
            } else {
                Ok(respond(200, &shown(&obj), format))
            }
        }
        (
            Target::Object {
                namespace,
                name,
                status,
                ..
            },
            Method::PUT,
        ) => {
            let obj = unshape(kind, parse_write_body(info, headers, &body)?, false)?;
            let mode = write_mode(c, *status);
            let actor = actor(c, params, headers, *status)?;
            let out = c.write(|s| {
                s.replace_as(skind, namespace, name, obj, mode, Owners::Update(&actor))
            })?;
            Ok(respond(200, &shown(&out), format))
        }
        (
            Target::Object {
                namespace,
                name,
                status,
                ..
            },
            Method::PATCH,
        ) => patch(
            c, kind, namespace, name, *status, params, headers, &body, format,
        ),
        (
            Target::Object {
                namespace,
                name,
                status: false,
                ..
            },
            Method::DELETE,
        ) => {
            let out = c.write(|s| s.delete(skind, namespace, name))?;
            Ok(respond(200, &shown(&out), format))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A stored object as `kind` shows it (the same object unless `kind` is a second shape).
fn shape(kind: KindId, obj: &Value) -> Value {
    let info = kinds::info(kind);
    match info.stored_as {
        Some(_) => events_view::to_v1(obj, info),
        None => obj.clone(),
    }
}

/// A written object of `kind` as its storage kind keeps it; a create through the second shape is
/// validated as that API validates creates.
fn unshape(kind: KindId, obj: Value, create: bool) -> Result<Value, ApiError> {
    let info = kinds::info(kind);
    match info.stored_as {
        Some(_) => {
            super::store::check_type(info, &obj)?;
            if create {
                events_view::validate_create(&obj, info)?;
            }
            Ok(events_view::to_core(&obj))
        }
        None => Ok(obj),
    }
}

/// `GET .../pods/{name}/log` with `tailLines` and `follow`: plain text, one line per log line.
fn pod_log(
    c: &Arc<ClusterInner>,
    namespace: &str,
    name: &str,
    params: &Params,
) -> Result<Response, ApiError> {
    let pod_kind = kinds::by_kind("Pod", Some("v1")).ok_or_else(ApiError::unknown_path)?;
    if c.store().get(pod_kind, namespace, name).is_none() {
        return Err(ApiError::not_found(kinds::info(pod_kind), name));
    }
    let follow = params.bool("follow")?;
    let tail = params.u64("tailLines")?;
    let mut ticks = c.pod_log_tick.subscribe();
    let (lines, mut next) = c.pod_log_since(namespace, name, 0);
    let skip = tail.map_or(0, |t| lines.len().saturating_sub(t as usize));
    let text = |lines: &[String]| -> Bytes {
        let mut out = String::new();
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        Bytes::from(out)
    };
    let first = text(&lines[skip..]);
    let mut resp = if !follow {
        Response::new(Body::from(first))
    } else {
        let kill = c.control().listening_kill().ok_or_else(|| {
            ApiError::new(503, "ServiceUnavailable", "apiserver is shutting down")
        })?;
        let (tx, rx) = mpsc::channel::<Chunk>(64);
        let c2 = c.clone();
        let (ns, pod) = (namespace.to_string(), name.to_string());
        tokio::spawn(async move {
            let mut kill = kill;
            if !first.is_empty() && tx.send(Ok(first)).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    changed = ticks.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let (lines, after) = c2.pod_log_since(&ns, &pod, next);
                        next = after;
                        if !lines.is_empty() && tx.send(Ok(text(&lines))).await.is_err() {
                            return;
                        }
                    }
                    _ = &mut kill => {
                        let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "apiserver went down"))).await;
                        return;
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Response::new(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

/// Who a write is recorded for in `managedFields`: the `fieldManager` parameter, else the user
/// agent's product name (`kubectl`, `OpenAPI-Generator`), as the apiserver defaults it.
fn actor(
    c: &ClusterInner,
    params: &Params,
    headers: &HeaderMap,
    status: bool,
) -> Result<Actor, ApiError> {
    let manager = match params.get("fieldManager") {
        Some(m) if m.chars().count() > 128 => {
            return Err(ApiError::bad_request(
                "fieldManager: Too long: may not be longer than 128",
            ));
        }
        Some(m) if !m.is_empty() => m.to_string(),
        _ => headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .map(|p| p.chars().take(128).collect::<String>())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "unknown".to_string()),
    };
    Ok(Actor {
        manager,
        subresource: status.then_some("status"),
        time: c
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

fn write_mode(c: &ClusterInner, status: bool) -> WriteMode {
    if status {
        WriteMode::Status
    } else if c.options.lenient_status {
        WriteMode::All
    } else {
        WriteMode::Main
    }
}

/// Create/replace bodies: JSON, YAML, or protobuf for kinds that have a protobuf form (kubectl
/// 1.32's typed commands, `create secret` and the like, send protobuf).
fn parse_write_body(info: &KindInfo, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let protobuf_ok = proto::has_protobuf(&info.api_version(), info.kind);
    match media {
        proto::PROTOBUF if protobuf_ok => proto::decode(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
        }),
        "" | "application/json" | "application/yaml" | "*/*" => parse_body(body),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml{} (got {other:?})",
                if protobuf_ok {
                    ", application/vnd.kubernetes.protobuf"
                } else {
                    ""
                }
            ),
        )),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice::<Value>(body))
        .map_err(|e| {
            ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
        })
}

#[allow(clippy::too_many_arguments)] // one request, taken apart
fn patch(
    c: &Arc<ClusterInner>,
    kind: KindId,
    namespace: &str,
    name: &str,
    status: bool,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> Result<Response, ApiError> {
    let info = kinds::info(kind);
    let skind = kinds::storage(kind);
    let is_apply = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/apply-patch"));
    let force = params.bool("force")?;
    if force && !is_apply {
        return Err(ApiError::bad_request(
            "force: Invalid value: true: may not be specified for non-apply patch",
        ));
    }
    if is_apply && params.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let actor = actor(c, params, headers, status)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let mode = write_mode(c, status);
    let body_value = || parse_body(body);
    let patch = match content_type.as_str() {
        "application/merge-patch+json" => PatchBody::Merge(body_value()?),
        // Built-in kinds accept strategic merge patches; for the lists we serve a merge is close.
        "application/strategic-merge-patch+json"
            if proto::has_protobuf(&info.api_version(), info.kind) =>
        {
            PatchBody::Merge(body_value()?)
        }
        "application/json-patch+json" => PatchBody::Json(
            serde_json::from_value(body_value()?)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?,
        ),
        // Server-side apply: field ownership, conflicts, creation when missing.
        "application/apply-patch+yaml" => {
            let config = unshape(kind, body_value()?, false)?;
            let now = c.clock.now();
            let (out, created) = c.write(|s| {
                s.server_side_apply(skind, namespace, name, config, mode, &actor, force, now)
            })?;
            return Ok(respond(
                if created { 201 } else { 200 },
                &shape(kind, &out),
                format,
            ));
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    let owners = Owners::Update(&actor);
    let out = if skind == kind {
        c.write(|s| s.patch_as(kind, namespace, name, &patch, mode, owners))?
    } else {
        // The patch is written against the second shape: applied there, stored converted back.
        c.write(|s| {
            let old = s
                .get(skind, namespace, name)
                .ok_or_else(|| ApiError::not_found(info, name))?;
            let mut doc = shape(kind, &old);
            super::store::apply_patch(&mut doc, &patch)?;
            let core = unshape(kind, doc, false)?;
            s.replace_as(skind, namespace, name, core, mode, owners)
        })?
    };
    Ok(respond(200, &shape(kind, &out), format))
}

fn filter_from(
    kind: KindId,
    params: &Params,
    namespace: Option<String>,
    name: Option<String>,
) -> Result<Filter, ApiError> {
    let mut fields = params.get("fieldSelector").unwrap_or("").to_string();
    if kinds::info(kind).stored_as.is_some() {
        fields = events_view::core_field_selector(&fields);
    }
    if let Some(n) = name {
        if !fields.is_empty() {
            fields.push(',');
        }
        fields.push_str(&format!("metadata.name={n}"));
    }
    Ok(Filter {
        namespace,
        labels: LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(&fields)?,
    })
}

fn list_kind_doc(
    info: &KindInfo,
    rv: u64,
    items: Vec<Value>,
    cont: Option<String>,
    remaining: Option<u64>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(cont) = cont {
        meta["continue"] = json!(cont);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    json!({
        "kind": format!("{}List", info.kind),
        "apiVersion": info.api_version(),
        "metadata": meta,
        "items": items,
    })
}

/// A stored watch line as `kind` shows its object (unchanged unless `kind` is a second shape).
fn shaped_line(kind: KindId, line: Bytes) -> Bytes {
    if kinds::info(kind).stored_as.is_none() {
        return line;
    }
    let Ok(mut ev) = serde_json::from_slice::<Value>(&line) else {
        return line;
    };
    let ty = ev["type"].as_str().unwrap_or("").to_string();
    if !matches!(ty.as_str(), "ADDED" | "MODIFIED" | "DELETED") {
        return line;
    }
    let obj = shape(kind, &ev["object"]);
    ev["object"] = obj;
    event_line(&ty, &ev["object"])
}

/// A watch line re-rendered as a one-row Table for kubectl (ERROR and BOOKMARK lines pass as they are).
fn table_line(info: &KindInfo, line: Bytes, now: chrono::DateTime<chrono::Utc>) -> Bytes {
    let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
        return line;
    };
    let ty = ev["type"].as_str().unwrap_or("");
    if ty == "ERROR" || ty == "BOOKMARK" {
        return line;
    }
    event_line(ty, &table::table(info, &[&ev["object"]], 0, None, now))
}

/// A JSON watch line as a length-prefixed protobuf frame. The world's objects all fit their
/// messages (a test checks every one); a line that does not is dropped rather than sent garbled.
fn protobuf_frame(line: Bytes) -> Bytes {
    let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
        return Bytes::new();
    };
    let ty = ev["type"].as_str().unwrap_or("");
    match proto::watch_frame(ty, &ev["object"]) {
        Some(frame) => Bytes::from(frame),
        None => {
            tracing::warn!(
                event = ty,
                "a watch event without a protobuf form was dropped"
            );
            Bytes::new()
        }
    }
}

fn list(
    c: &Arc<ClusterInner>,
    kind: KindId,
    namespace: Option<String>,
    params: &Params,
    format: Format,
) -> Result<Response, ApiError> {
    let filter = filter_from(kind, params, namespace, None)?;
    let limit = params.u64("limit")?;
    let page = c
        .store()
        .list(kinds::storage(kind), &filter, limit, params.get("continue"))?;
    if format == Format::Table {
        let refs: Vec<&Value> = page.items.iter().map(|o| &**o).collect();
        let t = table::table(
            kinds::info(kind),
            &refs,
            page.resource_version,
            page.continue_token.as_deref(),
            c.clock.now(),
        );
        return Ok(json_response(200, &t));
    }
    let items = page.items.iter().map(|o| shape(kind, o)).collect();
    Ok(respond(
        200,
        &list_kind_doc(
            kinds::info(kind),
            page.resource_version,
            items,
            page.continue_token,
            page.remaining,
        ),
        format,
    ))
}

fn bookmark(info: &KindInfo, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta}),
    )
}

type Chunk = Result<Bytes, std::io::Error>;

/// Start a watch. The stream is produced by a task that sleeps until the store changes, a
/// bookmark or the timeout is due, the client goes away or the apiserver goes down.
fn watch(
    c: &Arc<ClusterInner>,
    kind: KindId,
    namespace: Option<String>,
    params: &Params,
    name: Option<String>,
    format: Format,
) -> Result<Response, ApiError> {
    let info = kinds::info(kind);
    let skind = kinds::storage(kind);
    let filter = filter_from(kind, params, namespace, name)?;
    let bookmarks = params.bool("allowWatchBookmarks")?;
    let send_initial = params.bool("sendInitialEvents")?;
    // `sendInitialEvents=false` without a resourceVersion: start now, no synthetic ADDED events.
    let no_initial = params.get("sendInitialEvents").is_some() && !send_initial;
    let timeout = params.u64("timeoutSeconds")?.map(Duration::from_secs);
    let rv_param = params.get("resourceVersion").map(str::to_string);
    let start_rv: Option<u64> = match rv_param.as_deref() {
        None | Some("0") => None,
        Some(v) => Some(
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let kill = c
        .control()
        .listening_kill()
        .ok_or_else(|| ApiError::new(503, "ServiceUnavailable", "apiserver is shutting down"))?;
    let mut changes = c.changes.subscribe();

    // The opening batch is computed now, under one lock, so nothing falls between it and the stream.
    let mut opening: Vec<Bytes> = Vec::new();
    let mut failed_at_start = false;
    let (epoch, mut last_rv) = {
        let store = c.store();
        let epoch = store.epoch();
        let rv = store.resource_version();
        match start_rv {
            Some(from) if !send_initial => match store.events_since(skind, from, &filter) {
                Ok(events) => opening.extend(events.iter().map(|e| stored_line(e))),
                Err(e) => {
                    // Expired must come in-stream: an HTTP 410 makes kube-rs retry the same version.
                    opening.push(event_line("ERROR", &e.to_status()));
                    failed_at_start = true;
                }
            },
            None if no_initial => {}
            _ => {
                for obj in store.list_all(skind, &filter) {
                    opening.push(event_line("ADDED", &obj));
                }
                if send_initial && bookmarks {
                    opening.push(bookmark(info, rv, true));
                }
            }
        }
        (epoch, rv)
    };
    let (tx, rx) = mpsc::channel::<Chunk>(64);
    let c2 = c.clone();
    let render = move |line: Bytes, c: &ClusterInner| match format {
        Format::Table => table_line(info, line, c.clock.now()),
        Format::Protobuf => protobuf_frame(shaped_line(kind, line)),
        Format::Json | Format::Yaml => shaped_line(kind, line),
    };
    tokio::spawn(async move {
        for line in opening {
            let line = render(line, &c2);
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        if failed_at_start {
            return;
        }
        // An absurd timeoutSeconds (overflowing the clock) means no timeout, not a panic.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let interval = c2
            .options
            .bookmark_interval
            .unwrap_or(BOOKMARK_INTERVAL)
            .max(Duration::from_millis(10));
        let mut next_bookmark = Instant::now() + interval;
        let mut kill = kill;
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let (lines, done) = {
                        let store = c2.store();
                        if store.epoch() != epoch {
                            let e = ApiError::expired(last_rv, store.oldest_rv());
                            (vec![event_line("ERROR", &e.to_status())], true)
                        } else {
                            match store.events_since(skind, last_rv, &filter) {
                                Ok(events) => {
                                    last_rv = store.resource_version();
                                    (events.iter().map(|e| stored_line(e)).collect(), false)
                                }
                                Err(e) => (vec![event_line("ERROR", &e.to_status())], true),
                            }
                        }
                    };
                    for line in lines {
                        if tx.send(Ok(render(line, &c2))).await.is_err() {
                            return;
                        }
                    }
                    if done {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(next_bookmark), if bookmarks => {
                    next_bookmark = Instant::now() + interval;
                    if tx.send(Ok(bookmark(info, last_rv, false))).await.is_err() {
                        return;
                    }
                }
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                    return;
                }
                _ = &mut kill => {
                    let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "apiserver went down"))).await;
                    return;
                }
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut resp = Response::new(Body::from_stream(stream));
    let content_type = if format == Format::Protobuf {
        "application/vnd.kubernetes.protobuf;stream=watch"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn stored_line(e: &StoredEvent) -> Bytes {
    e.line.clone()
}

/// A minimal OpenAPI v2 document: no definitions, so clients skip schema validation of our kinds
/// (as they do for CRDs without schemas). kubectl asks for the gnostic protobuf encoding.
fn openapi_v2(headers: &HeaderMap) -> Response {
    const TITLE: &str = "Kubernetes";
    const VERSION: &str = super::kubelet::K3S_VERSION;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accept.contains("protobuf") {
        return json_response(
            200,
            &json!({"swagger": "2.0", "info": {"title": TITLE, "version": VERSION}, "paths": {}, "definitions": {}}),
        );
    }
    // Hand-encoded protobuf: Document{swagger(1)="2.0", info(2)=Info{title(1), version(2)}}.
    fn field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
        out.push(tag);
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    let mut info = Vec::new();
    field(&mut info, 0x0a, TITLE.as_bytes());
    field(&mut info, 0x12, VERSION.as_bytes());
    let mut doc = Vec::new();
    field(&mut doc, 0x0a, b"2.0");
    field(&mut doc, 0x12, &info);
    let mut resp = Response::new(Body::from(doc));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

fn version_doc() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": super::kubelet::K3S_VERSION,
        "gitCommit": "sovtui-sim",
        "gitTreeState": "clean",
        "buildDate": "2025-09-10T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn core_versions(c: &ClusterInner) -> Value {
    let port = c.control().port();
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{port}")}],
    })
}

fn versions_of(group: &str) -> Vec<&'static str> {
    let mut vs: Vec<&'static str> = kinds::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect();
    // GA before beta before alpha, as the apiserver orders preferred versions.
    vs.sort_by_key(|v| (v.contains("alpha"), v.contains("beta")));
    vs
}

fn group_doc(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

fn group_list() -> Value {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in kinds::group_versions() {
        if !g.is_empty() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    let docs: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut d = group_doc(g);
            if let Some(m) = d.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            d
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": docs})
}

fn resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for k in kinds::KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let mut r = json!({
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": kinds::verbs(),
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        if !k.categories.is_empty() {
            r["categories"] = json!(k.categories);
        }
        resources.push(r);
        if k.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let hr = kinds::by_any_name("hr").expect("hr");
        let ns = kinds::by_any_name("ns").expect("ns");
        let pod = kinds::by_any_name("pod").expect("pod");
        assert_eq!(
            parse_target(
                "/apis/helm.toolkit.fluxcd.io/v2/namespaces/flux-system/helmreleases/bp-x/status"
            ),
            Ok(Target::Object {
                kind: hr,
                namespace: "flux-system".into(),
                name: "bp-x".into(),
                status: true
            })
        );
        assert_eq!(
            parse_target("/apis/helm.toolkit.fluxcd.io/v2/helmreleases"),
            Ok(Target::Collection {
                kind: hr,
                namespace: None
            })
        );
        assert_eq!(
            parse_target("/api/v1/namespaces/flux-system"),
            Ok(Target::Object {
                kind: ns,
                namespace: String::new(),
                name: "flux-system".into(),
                status: false
            })
        );
        assert_eq!(
            parse_target("/api/v1/namespaces/flux-system/status"),
            Ok(Target::Object {
                kind: ns,
                namespace: String::new(),
                name: "flux-system".into(),
                status: true
            })
        );
        assert_eq!(
            parse_target("/api/v1/namespaces/x/pods"),
            Ok(Target::Collection {
                kind: pod,
                namespace: Some("x".into())
            })
        );
        assert_eq!(
            parse_target("/apis/apps/v1/deployments"),
            Ok(Target::Collection {
                kind: kinds::by_any_name("deploy").expect("deploy"),
                namespace: None
            })
        );
        assert_eq!(
            parse_target("/apis/apps/v1/widgets").map_err(|e| e.code),
            Err(404)
        );
        assert_eq!(
            parse_target("/api/v1/widgets").map_err(|e| e.code),
            Err(404)
        );
        assert_eq!(
            parse_target("/apis/source.toolkit.fluxcd.io"),
            Ok(Target::Group("source.toolkit.fluxcd.io".into()))
        );
    }

    #[test]
    fn preferred_versions() {
        assert_eq!(
            versions_of("source.toolkit.fluxcd.io"),
            vec!["v1", "v1beta2"]
        );
    }
}
