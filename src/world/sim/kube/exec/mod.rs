//! What `kubectl exec` runs inside a simulated pod: a pluggable registry of command handlers, the
//! generic commands every simulated container has ([`shell`]), and the two wire protocols that
//! carry a `pods/exec` request ([`websocket`] for current clients, [`spdy`] for old ones).
//!
//! A pod's commands are plain functions of (argv, stdin) → (stdout, stderr, exit code). A scenario
//! (or the mothership world) registers a handler for the pods a [`ExecTarget`] selects — by
//! namespace and name, or by namespace and labels, optionally one container — and gives those pods
//! files with [`ExecRegistry::files`]:
//!
//! ```no_run
//! # fn demo(cluster: &sovtui_world::sim::kube::SimCluster) {
//! use sovtui_world::sim::kube::exec::{ExecOutput, ExecTarget};
//! let pdm = ExecTarget::labels("openova-system", &[("app", "pool-domain-manager")]);
//! cluster.exec().register(pdm.clone(), |call| match call.argv.first().map(String::as_str) {
//!     Some("wget") => Some(ExecOutput::ok("{\"status\":\"ok\"}\n")),
//!     _ => None, // not mine: the built-ins (sh, echo, cat, env, ls, …) answer
//! });
//! cluster.exec().files(pdm).put("/etc/pdm/config.yaml", "zones: [omani.works]\n");
//! # }
//! ```
//!
//! Dispatch for one simple command: the handlers whose target matches the pod, newest first (a
//! handler returning `None` passes), then the built-ins, then "executable file not found" (exit
//! 126, as containerd answers). `sh -c SCRIPT` is a built-in whose simple commands go through the
//! same dispatch, so `sh -c 'pdnsutil list-all-zones | grep omani'` reaches a `pdnsutil` handler.
//! A non-zero exit reaches the client as the Status a real apiserver sends (`NonZeroExitCode`
//! with an `ExitCode` cause), so `kubectl exec` exits with that code.

pub mod shell;
pub mod spdy;
mod stream;
pub mod websocket;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

pub(crate) use stream::serve;

/// The most stdin the world keeps for one command (a simulator's bound on what a client sends;
/// the rest is dropped).
pub const STDIN_MAX: usize = 16 * 1024 * 1024;

/// Which pods (and containers) a handler or a file set applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    pub namespace: String,
    /// Exactly this pod (None: any pod in the namespace that has `labels`).
    pub pod: Option<String>,
    /// Every one of these labels must be on the pod.
    pub labels: BTreeMap<String, String>,
    /// Only this container (None: any).
    pub container: Option<String>,
}

impl ExecTarget {
    /// One pod by name.
    pub fn pod(namespace: &str, name: &str) -> ExecTarget {
        ExecTarget {
            namespace: namespace.to_string(),
            pod: Some(name.to_string()),
            labels: BTreeMap::new(),
            container: None,
        }
    }

    /// Every pod in `namespace` carrying all of `labels` (a Deployment's pods: its selector).
    pub fn labels(namespace: &str, labels: &[(&str, &str)]) -> ExecTarget {
        ExecTarget {
            namespace: namespace.to_string(),
            pod: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            container: None,
        }
    }

    /// Narrow to one container.
    pub fn container(mut self, container: &str) -> ExecTarget {
        self.container = Some(container.to_string());
        self
    }

    fn matches(&self, pod: &PodView) -> bool {
        self.namespace == pod.namespace
            && self.pod.as_ref().is_none_or(|p| *p == pod.name)
            && self
                .labels
                .iter()
                .all(|(k, v)| pod.labels.get(k) == Some(v))
            && self.container.as_ref().is_none_or(|c| *c == pod.container)
    }
}

/// One simple command run in a pod, as a handler sees it.
pub struct ExecCall<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// The container's environment (its `env` values, `HOSTNAME`, `PATH`, `HOME`).
    pub env: &'a BTreeMap<String, String>,
    /// `argv[0]` as given (`/bin/sh`, `wget`, …).
    pub argv: &'a [String],
    pub stdin: &'a [u8],
    /// The pod's files (shared with every pod of the same file set, like a volume).
    pub files: &'a PodFiles,
}

impl ExecCall<'_> {
    /// `argv[0]` without its directory (`/usr/bin/wget` → `wget`).
    pub fn program(&self) -> &str {
        self.argv
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .unwrap_or("")
    }
}

/// What a command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

impl ExecOutput {
    /// Exit 0 with this on stdout.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            ..ExecOutput::default()
        }
    }

    /// Exit `code` with this on stderr.
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> ExecOutput {
        ExecOutput {
            stdout: Vec::new(),
            stderr: stderr.into(),
            exit_code: code,
        }
    }
}

/// A handler: `Some(output)` if it runs this command, `None` to pass it on.
pub type ExecHandler = Arc<dyn Fn(&ExecCall<'_>) -> Option<ExecOutput> + Send + Sync>;

/// Called with the pod's files when a whole exec (every command of its script) has ended.
pub type ExitHook = Arc<dyn Fn(&PodFiles) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A pod's file system: absolute paths to contents. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct PodFiles(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl PodFiles {
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.0).get(&normalize(path)).cloned()
    }

    pub fn put(&self, path: &str, content: impl Into<Vec<u8>>) {
        lock(&self.0).insert(normalize(path), content.into());
    }

    pub fn append(&self, path: &str, content: &[u8]) {
        lock(&self.0)
            .entry(normalize(path))
            .or_default()
            .extend_from_slice(content);
    }

    pub fn remove(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.0).remove(&normalize(path))
    }

    /// Whether `path` is a directory: some file lives below it.
    pub fn is_dir(&self, path: &str) -> bool {
        let dir = dir_prefix(path);
        lock(&self.0).keys().any(|k| k.starts_with(&dir))
    }

    /// The names directly inside directory `path`, sorted (subdirectories once each).
    pub fn list(&self, path: &str) -> Vec<String> {
        let dir = dir_prefix(path);
        let mut names: Vec<String> = lock(&self.0)
            .keys()
            .filter_map(|k| k.strip_prefix(&dir))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        names
    }

    /// Every path, sorted.
    pub fn paths(&self) -> Vec<String> {
        lock(&self.0).keys().cloned().collect()
    }
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn dir_prefix(path: &str) -> String {
    let n = normalize(path);
    if n == "/" { n } else { format!("{n}/") }
}

#[derive(Default)]
struct RegistryInner {
    handlers: Vec<(ExecTarget, ExecHandler)>,
    exit_hooks: Vec<(ExecTarget, ExitHook)>,
    volumes: Vec<(ExecTarget, PodFiles)>,
    /// Files of pods no file set covers, per (namespace, pod).
    scratch: BTreeMap<(String, String), PodFiles>,
}

/// The commands and files of one cluster's pods. Cloning shares it.
#[derive(Clone, Default)]
pub struct ExecRegistry(Arc<Mutex<RegistryInner>>);

impl std::fmt::Debug for ExecRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.0);
        f.debug_struct("ExecRegistry")
            .field("handlers", &inner.handlers.len())
            .field("volumes", &inner.volumes.len())
            .finish()
    }
}

/// The pod a command runs in, read from its object.
pub(crate) struct PodView {
    pub namespace: String,
    pub name: String,
    pub container: String,
    pub labels: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
}

impl PodView {
    /// `container` (or the pod's default: the `kubectl.kubernetes.io/default-container`
    /// annotation, else the first) of `pod`; Err names what is wrong as the apiserver does.
    pub(crate) fn of(pod: &Value, container: Option<&str>) -> Result<PodView, String> {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let containers: Vec<&Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let cname = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
        let wanted = container.map(str::to_string).or_else(|| {
            pod.pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| containers.first().and_then(|c| cname(c)))
        });
        let Some(wanted) = wanted else {
            return Err(format!("pod {name} has no containers"));
        };
        let Some(spec) = containers
            .iter()
            .find(|c| cname(c).as_deref() == Some(&wanted))
        else {
            return Err(format!("container {wanted} is not valid for pod {name}"));
        };
        let mut env = BTreeMap::from([
            ("HOSTNAME".to_string(), name.clone()),
            ("HOME".to_string(), "/root".to_string()),
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
        ]);
        for e in spec
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(k), Some(v)) = (
                e.get("name").and_then(Value::as_str),
                e.get("value").and_then(Value::as_str),
            ) {
                env.insert(k.to_string(), v.to_string());
            }
        }
        let labels = pod
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(PodView {
            namespace: pod
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            name,
            container: wanted,
            labels,
            env,
        })
    }
}

impl ExecRegistry {
    /// Run `handler` for the commands of the pods `target` selects. Later registrations are
    /// asked first.
    pub fn register(
        &self,
        target: ExecTarget,
        handler: impl Fn(&ExecCall<'_>) -> Option<ExecOutput> + Send + Sync + 'static,
    ) {
        lock(&self.0).handlers.push((target, Arc::new(handler)));
    }

    /// Run `hook` with the pod's files each time an exec in a pod `target` selects ends — after
    /// its last command, before its exit status goes out — so what a script wrote (`cat > FILE`)
    /// takes effect when the exec that wrote it ends, not at some later command.
    pub fn on_exit(&self, target: ExecTarget, hook: impl Fn(&PodFiles) + Send + Sync + 'static) {
        lock(&self.0).exit_hooks.push((target, Arc::new(hook)));
    }

    /// The file set mounted in every pod `target` selects (created empty on first use; the same
    /// target gives the same set back). A pod sees the first registered set that matches it;
    /// pods no set covers get files of their own.
    pub fn files(&self, target: ExecTarget) -> PodFiles {
        let mut inner = lock(&self.0);
        if let Some((_, f)) = inner.volumes.iter().find(|(t, _)| *t == target) {
            return f.clone();
        }
        let f = PodFiles::default();
        inner.volumes.push((target, f.clone()));
        f
    }

    /// Run `argv` with `stdin` in the pod `pod` (its object), container `container` (None: the
    /// default). Err: the pod or container cannot take commands (a 400 from the apiserver).
    pub fn run(
        &self,
        pod: &Value,
        container: Option<&str>,
        argv: &[String],
        stdin: &[u8],
    ) -> Result<ExecOutput, String> {
        let view = PodView::of(pod, container)?;
        Ok(self.run_in(&view, argv, stdin))
    }

    pub(crate) fn run_in(&self, pod: &PodView, argv: &[String], stdin: &[u8]) -> ExecOutput {
        let (handlers, hooks, files) = {
            let mut inner = lock(&self.0);
            let hooks: Vec<ExitHook> = inner
                .exit_hooks
                .iter()
                .filter(|(t, _)| t.matches(pod))
                .map(|(_, h)| h.clone())
                .collect();
            let handlers: Vec<ExecHandler> = inner
                .handlers
                .iter()
                .rev()
                .filter(|(t, _)| t.matches(pod))
                .map(|(_, h)| h.clone())
                .collect();
            let files = match inner.volumes.iter().find(|(t, _)| t.matches(pod)) {
                Some((_, f)) => f.clone(),
                None => inner
                    .scratch
                    .entry((pod.namespace.clone(), pod.name.clone()))
                    .or_default()
                    .clone(),
            };
            (handlers, hooks, files)
        };
        let ctx = shell::Context {
            pod,
            handlers: &handlers,
            files: &files,
        };
        let out = ctx.exec(argv, stdin);
        for hook in &hooks {
            hook(&files);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "pdm-7d9f-abcde", "namespace": "openova-system",
                             "labels": {"app": "pool-domain-manager"}},
               "spec": {"containers": [{"name": "pdm", "env": [{"name": "ZONE", "value": "omani.works"}]},
                                       {"name": "sidecar"}]}})
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn handlers_match_by_labels_and_container_newest_first_and_may_pass() {
        let r = ExecRegistry::default();
        let t = ExecTarget::labels("openova-system", &[("app", "pool-domain-manager")]);
        r.register(t.clone(), |c| {
            (c.program() == "wget").then(|| ExecOutput::ok("old\n"))
        });
        r.register(t.clone().container("pdm"), |c| {
            (c.program() == "wget").then(|| ExecOutput::ok("new\n"))
        });
        let out = r
            .run(&pod(), None, &argv(&["/usr/bin/wget", "-qO-", "x"]), b"")
            .unwrap();
        assert_eq!(out.stdout, b"new\n");
        let out = r
            .run(&pod(), Some("sidecar"), &argv(&["wget"]), b"")
            .unwrap();
        assert_eq!(out.stdout, b"old\n");
        // A passing handler leaves the command to the built-ins.
        let out = r.run(&pod(), None, &argv(&["echo", "hi"]), b"").unwrap();
        assert_eq!(out.stdout, b"hi\n");
        // Another namespace's pod is not matched.
        let mut other = pod();
        other["metadata"]["namespace"] = json!("default");
        let out = r.run(&other, None, &argv(&["wget"]), b"").unwrap();
        assert_eq!(out.exit_code, 126);
    }

    #[test]
    fn unknown_container_is_refused() {
        let r = ExecRegistry::default();
        let e = r
            .run(&pod(), Some("nope"), &argv(&["true"]), b"")
            .unwrap_err();
        assert_eq!(e, "container nope is not valid for pod pdm-7d9f-abcde");
    }

    #[test]
    fn file_sets_are_shared_by_matching_pods_and_written_through_the_shell() {
        let r = ExecRegistry::default();
        let t = ExecTarget::labels("openova-system", &[("app", "pool-domain-manager")]);
        r.files(t.clone()).put("/data/a.json", "{}");
        r.run(
            &pod(),
            None,
            &argv(&["sh", "-c", "echo done > /data/b.txt"]),
            b"",
        )
        .unwrap();
        assert_eq!(r.files(t).get("/data/b.txt").unwrap(), b"done\n");
        let mut second = pod();
        second["metadata"]["name"] = json!("pdm-7d9f-fghij");
        let out = r.run(&second, None, &argv(&["ls", "/data"]), b"").unwrap();
        assert_eq!(out.stdout, b"a.json\nb.txt\n");
    }

    #[test]
    fn exit_hooks_see_what_the_exec_wrote_once_it_ended() {
        let r = ExecRegistry::default();
        let t = ExecTarget::labels("openova-system", &[("app", "pool-domain-manager")]);
        let seen: Arc<Mutex<Vec<Option<Vec<u8>>>>> = Arc::default();
        let s = seen.clone();
        r.on_exit(t.clone(), move |files| lock(&s).push(files.get("/data/x")));
        r.run(
            &pod(),
            None,
            &argv(&["sh", "-c", "cat > /data/x; echo more >> /data/x"]),
            b"one\n",
        )
        .unwrap();
        assert_eq!(*lock(&seen), [Some(b"one\nmore\n".to_vec())]);
        // Another namespace's pod does not run the hook.
        let mut other = pod();
        other["metadata"]["namespace"] = json!("default");
        r.run(&other, None, &argv(&["true"]), b"").unwrap();
        assert_eq!(lock(&seen).len(), 1);
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("a//b/./c/../d"), "/a/b/d");
        assert_eq!(dir_prefix("/"), "/");
    }
}
