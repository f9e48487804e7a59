//! Fleet benchmark (issue 4): 50 simulated clusters × 40 HelmReleases, 200 status changes per
//! second spread over the fleet for 60 s. Reports the cockpit's CPU share, peak RSS and
//! change-to-frame latency (p50/p99/max), plus frames and terminal bytes per second.
//!
//! The simulated apiservers and the load driver run in this process; the cockpit under test (the
//! live fleet source, the reducer and the event loop drawing the matrix at 200×50) runs in a
//! child process (this same binary, re-executed) so its CPU and memory are measured alone.
//!
//! Run: `cargo bench --bench fleet` (add `--profile dev` to skip the release build). Knobs:
//! `FLEET_BENCH_CLUSTERS` (50), `FLEET_BENCH_RELEASES` (40), `FLEET_BENCH_RATE` (200/s),
//! `FLEET_BENCH_SECS` (60), `FLEET_BENCH_IDLE_SECS` (5: idle phase before the load, for the
//! CPU cost of open watches with nothing changing), `FLEET_BENCH_SYNC_SECS` (120: how long the
//! fleet may take to come up live on screen before the run gives up), `FLEET_BENCH_TLS` (1: each
//! apiserver serves https with a CA of its own in the kubeconfig and offers HTTP/2, as k3s does;
//! 0: plain http, HTTP/1.1).
//!
//! The curve of issue 19 in one invocation: `FLEET_BENCH_CURVE=1 cargo bench --bench fleet` runs
//! 50 × 40 at 200 changes/s, 500 × 40 at 1,000/s and 2,000 × 40 at 2,000/s (or the sizes given as
//! `FLEET_BENCH_CURVE=CLUSTERS:RATE,...`), `FLEET_BENCH_RUNS` times each (1), every run a fresh
//! world and cockpit in processes of their own, and prints one JSON line per run with the load
//! average before and after it, then a table.
//!
//! The soak (issue 19: apiserver restarts, 410 compactions, flapping clusters, a sampled curve
//! of RSS, CPU, live watches and changes sent vs drawn) is `fleet/soak.rs`; its knobs are listed
//! there.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde_json::{Value, json};
use sovtui::config::fleet_file::{FleetFile, SovereignEntry};
use sovtui::provision::fleet::model::ComponentStatus;
use sovtui::provision::flux::ComponentState;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim};
use sovtui::tui::app::{App, Settings};
use sovtui::tui::runtime::{self, ExitReason};
use sovtui::tui::source::{FleetSender, live_fleet_source};
use sovtui::tui::theme::ColorLevel;
use tokio::sync::mpsc;

#[path = "fleet/soak.rs"]
mod soak;

const CHILD_ENV: &str = "FLEET_BENCH_CHILD_KUBECONFIG";

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn cluster_name(i: u64) -> String {
    format!("sov{i:02}.bench.test")
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    match (std::env::var_os(CHILD_ENV), std::env::var(CURVE_ENV)) {
        (Some(kc), _) => child(PathBuf::from(kc)),
        (None, Ok(spec)) => curve(&spec),
        (None, Err(_)) => parent(),
    }
}

const CURVE_ENV: &str = "FLEET_BENCH_CURVE";

/// Sizes of the curve: `1` (or anything without a `:`) is issue 19's three.
fn curve_sizes(spec: &str) -> Vec<(u64, u64)> {
    let given: Vec<(u64, u64)> = spec
        .split(',')
        .filter_map(|s| {
            let (c, r) = s.trim().split_once(':')?;
            Some((c.parse().ok()?, r.parse().ok()?))
        })
        .collect();
    if given.is_empty() {
        vec![(50, 200), (500, 1000), (2000, 2000)]
    } else {
        given
    }
}

/// The 1-, 5- and 15-minute load averages: the machine is shared, and every figure is read
/// against them.
fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs this bench once per size and run, each in a process of its own (so one size's world and
/// cockpit are gone before the next starts), and collects the reports.
fn curve(spec: &str) {
    let runs = knob("FLEET_BENCH_RUNS", 1).max(1);
    let exe = std::env::current_exe().expect("exe");
    let mut rows: Vec<Value> = Vec::new();
    for (clusters, rate) in curve_sizes(spec) {
        for run in 1..=runs {
            let load_before = loadavg();
            let out = std::process::Command::new(&exe)
                .env_remove(CURVE_ENV)
                .env("FLEET_BENCH_CLUSTERS", clusters.to_string())
                .env("FLEET_BENCH_RATE", rate.to_string())
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run the bench");
            let text = String::from_utf8_lossy(&out.stdout);
            let mut v = text
                .find("\n{")
                .map(|i| i + 1)
                .or_else(|| text.starts_with('{').then_some(0))
                .and_then(|i| serde_json::from_str::<Value>(&text[i..]).ok())
                .unwrap_or_else(|| json!({"clusters": clusters, "failed": out.status.to_string()}));
            v["run"] = json!(run);
            v["rate_per_s"] = json!(rate);
            v["load_before"] = json!(load_before);
            v["load_after"] = json!(loadavg());
            println!("{v}");
            rows.push(v);
        }
    }
    println!(
        "\n| clusters × releases | run | load 1-min before → after | initial sync s | cores | \
         peak RSS MiB | KiB/object | p99 ms | drawn/sent | idle bytes | status --json s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for v in &rows {
        let f = |p: &str| v.pointer(p).and_then(Value::as_f64);
        let show = |x: Option<f64>, d: usize| x.map_or("—".to_string(), |x| format!("{x:.d$}"));
        let objects = f("/components").filter(|c| *c > 0.0);
        println!(
            "| {} × {} | {} | {} → {} | {} | {} | {} | {} | {} | {}/{} | {} | {} |",
            v["clusters"],
            objects.map_or("—".into(), |o| format!(
                "{}",
                o / f("/clusters").unwrap_or(1.0).max(1.0)
            )),
            v["run"],
            show(f("/load_before/0"), 1),
            show(f("/load_after/0"), 1),
            show(f("/initial_sync_s"), 2),
            show(f("/cores"), 2),
            show(f("/peak_rss_mib"), 1),
            show(
                f("/peak_rss_mib").zip(objects).map(|(m, o)| m * 1024.0 / o),
                2
            ),
            show(f("/change_to_frame_ms/p99"), 1),
            v["changes_drawn"],
            v["changes_sent"],
            v["idle_terminal_bytes"],
            show(f("/fleet_status_json_s"), 2),
        );
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// What the frame hook has seen: per HelmRelease the newest change stamp drawn, and the
/// change-to-frame latencies once measuring has begun.
///
/// The hook runs after every frame on the cockpit's own thread and its memory is the cockpit
/// process's, so it is kept small: per Sovereign the stamps by component position, and the
/// component names once (the end-of-soak check looks changes up by name). Positions hold because
/// the load only changes states: a Sovereign's component list keeps its order unless its set or
/// its dependsOn edges change, and a list of another length starts that Sovereign afresh.
#[derive(Default)]
struct Frames {
    synced_at: Option<std::time::Instant>,
    components: usize,
    measuring: bool,
    drawn: std::collections::HashMap<String, Drawn>,
    latencies: Vec<u64>,
    frames: u64,
}

/// One Sovereign's drawn stamps, by component position (0: none seen yet), and what each
/// component looked like when its stamp was read. Reading every message on every frame (80,000
/// strings, each a cache miss) cost more CPU than the cockpit itself at 2,000; the load flips a
/// HelmRelease's state with every change it makes to it, and a stamp's length changes with it
/// now and then, so a component whose state and message length are as before is not read.
///
/// Components are compared by `Arc` first: each change makes a new one, and the vector of
/// pointers is read without touching 80,000 allocations scattered over the heap. Holding the
/// `Arc` seen keeps its address from being reused by a later version.
#[derive(Default)]
struct Drawn {
    names: Vec<Box<str>>,
    stamps: Vec<u128>,
    seen: Vec<Option<(ComponentState, usize)>>,
    last: Vec<Option<Arc<ComponentStatus>>>,
}

impl Drawn {
    /// The stamp on screen for component `name`.
    fn stamp(&self, name: &str) -> Option<u128> {
        let i = self.names.iter().position(|n| &**n == name)?;
        Some(self.stamps[i]).filter(|s| *s != 0)
    }
}

impl Frames {
    /// Called after every frame the cockpit flushed: every stamp that is new in the state the
    /// frame was drawn from has reached the screen now.
    fn on_frame(&mut self, app: &App, clusters: usize) {
        self.frames += 1;
        let now = now_micros();
        if self.synced_at.is_none() {
            let live = app.fleet.len() == clusters
                && app
                    .fleet
                    .iter()
                    .all(|s| s.connection.is_live() && !s.components.is_empty());
            if live {
                self.synced_at = Some(std::time::Instant::now());
                self.components = app.fleet.iter().map(|s| s.components.len()).sum();
            }
        }
        for s in &app.fleet {
            let d = match self.drawn.get_mut(&s.fqdn) {
                Some(d) => d,
                None => self.drawn.entry(s.fqdn.clone()).or_default(),
            };
            if d.stamps.len() != s.components.len() {
                d.names = s
                    .components
                    .iter()
                    .map(|c| c.name.as_str().into())
                    .collect();
                d.stamps = vec![0; s.components.len()];
                d.seen = vec![None; s.components.len()];
                d.last = vec![None; s.components.len()];
            }
            for (((c, seen), look), last) in s
                .components
                .iter()
                .zip(d.stamps.iter_mut())
                .zip(d.seen.iter_mut())
                .zip(d.last.iter_mut())
            {
                if last.as_ref().is_some_and(|l| Arc::ptr_eq(l, c)) {
                    continue;
                }
                *last = Some(Arc::clone(c));
                let now_looks = Some((c.state, c.message.len()));
                if *look == now_looks {
                    continue;
                }
                *look = now_looks;
                let Some(stamp) = c
                    .message
                    .strip_prefix("t=")
                    .and_then(|m| m.split_whitespace().next())
                    .and_then(|m| m.parse::<u128>().ok())
                else {
                    continue;
                };
                if *seen == stamp {
                    continue;
                }
                *seen = stamp;
                if self.measuring {
                    self.latencies.push(now.saturating_sub(stamp) as u64);
                }
            }
        }
    }
}

/// Counts what the cockpit writes to its terminal.
#[derive(Clone)]
struct Sink(Arc<AtomicU64>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The cockpit under test, as an operator runs it: the live fleet source watching a fleet file
/// of `clusters` Sovereigns, the real event loop (coalesced frames) showing the matrix into a
/// 200×50 terminal that counts bytes. Reports readiness, then measures until stdin closes.
fn child(kubeconfig: PathBuf) {
    let clusters = knob("FLEET_BENCH_CLUSTERS", 50) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let file = FleetFile {
            adopt_kubeconfig: false,
            sovereigns: (0..clusters as u64)
                .map(|i| {
                    let mut e = SovereignEntry::adopted(&cluster_name(i));
                    e.kubeconfig = Some(kubeconfig.clone());
                    e.adopted = false;
                    e
                })
                .collect(),
            ..Default::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet_toml = dir.path().join("fleet.toml");
        std::fs::write(&fleet_toml, file.to_toml()).expect("fleet file");

        let bytes = Arc::new(AtomicU64::new(0));
        let mut term = Terminal::with_options(
            CrosstermBackend::new(Sink(bytes.clone())),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
            },
        )
        .expect("terminal");
        let mut app = App::new(Settings {
            banner: "fleet bench".into(),
            level: ColorLevel::TrueColor,
            theme: None,
            keymap: None,
            config_dir: None,
        });
        let (tx, rx) = mpsc::channel(runtime::CHANNEL_CAPACITY);
        let sync_t0 = std::time::Instant::now();
        tokio::spawn(live_fleet_source(FleetSender::new(tx), fleet_toml));
        // The operator opens the matrix; then the keyboard stays quiet.
        let keys = ":matrix\n".chars().map(|c| {
            let code = if c == '\n' {
                KeyCode::Enter
            } else {
                KeyCode::Char(c)
            };
            Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        });
        let input = futures::stream::iter(keys).chain(futures::stream::pending());

        let frames = Arc::new(Mutex::new(Frames::default()));
        let observed = Arc::new(soak::Observed::default());
        if let Some(cfg) = soak::Config::from_env(clusters as u64) {
            let path = soak::samples_path(&kubeconfig);
            tokio::spawn(soak::child_sampler(
                cfg,
                frames.clone(),
                observed.clone(),
                path,
            ));
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let monitor = tokio::spawn(monitor(
            frames.clone(),
            bytes.clone(),
            stop_tx,
            observed.clone(),
            clusters,
        ));
        let shutdown = async {
            let _ = stop_rx.await;
            ExitReason::Quit
        };
        let hook = frames.clone();
        runtime::event_loop_observed(&mut term, &mut app, input, rx, shutdown, move |app| {
            if let Ok(mut f) = hook.lock() {
                f.on_frame(app, clusters);
            }
            observed.see(app);
        })
        .await
        .expect("event loop");
        let Ok(Some(measured)) = monitor.await else {
            return;
        };
        let mut f = match frames.lock() {
            Ok(mut f) => std::mem::take(&mut *f),
            Err(_) => return,
        };
        f.latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if f.latencies.is_empty() {
                return 0.0;
            }
            let i = ((f.latencies.len() as f64 - 1.0) * p).round() as usize;
            f.latencies[i] as f64 / 1000.0
        };
        let mut report = json!({
            "clusters": clusters,
            "components": f.components,
            "initial_sync_s": f.synced_at.map(|t| (t - sync_t0).as_secs_f64()),
            "wall_s": measured.wall,
            "cpu_s": measured.cpu,
            "cores": measured.cpu / measured.wall.max(1e-9),
            "peak_rss_mib": status_kib("VmHWM:") as f64 / 1024.0,
            "frames_per_s": measured.frames as f64 / measured.wall.max(1e-9),
            "terminal_kib_per_s": measured.bytes as f64 / 1024.0 / measured.wall.max(1e-9),
            "changes_drawn": f.latencies.len(),
            "change_to_frame_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
        });
        soak::child_report(&mut report);
        println!("{report}");
    });
}

struct Measured {
    wall: f64,
    cpu: f64,
    frames: u64,
    bytes: u64,
}

/// Waits for the first complete frame of the fleet, measures the idle cost, says `ready`, then
/// measures the load phase until the parent closes stdin, and stops the cockpit.
async fn monitor(
    frames: Arc<Mutex<Frames>>,
    bytes: Arc<AtomicU64>,
    stop: tokio::sync::oneshot::Sender<()>,
    observed: Arc<soak::Observed>,
    clusters: usize,
) -> Option<Measured> {
    let synced = || frames.lock().ok().and_then(|f| f.synced_at);
    let deadline =
        std::time::Instant::now() + Duration::from_secs(knob("FLEET_BENCH_SYNC_SECS", 120));
    while synced().is_none() {
        if std::time::Instant::now() > deadline {
            eprintln!("the fleet never came up live on screen");
            let _ = stop.send(());
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Idle cost first: watches open, the matrix on screen, nothing changes.
    let idle_secs = knob("FLEET_BENCH_IDLE_SECS", 5);
    let (idle_cpu0, idle_bytes0, idle_t0) = (
        cpu_seconds(),
        bytes.load(Ordering::Relaxed),
        std::time::Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_wall = idle_t0.elapsed().as_secs_f64().max(1e-9);
    let idle_cores = (cpu_seconds() - idle_cpu0) / idle_wall;
    let idle_bytes = bytes.load(Ordering::Relaxed) - idle_bytes0;
    let components = frames.lock().map(|f| f.components).unwrap_or(0);
    println!("ready {components} {idle_cores} {idle_bytes}");
    let _ = std::io::stdout().flush();

    if let Ok(mut f) = frames.lock() {
        f.measuring = true;
    }
    let frames0 = frames.lock().map(|f| f.frames).unwrap_or(0);
    let (cpu0, bytes0, t0) = (
        cpu_seconds(),
        bytes.load(Ordering::Relaxed),
        std::time::Instant::now(),
    );
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<String>();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let _ = closed_tx.send(line);
    });
    let line = closed_rx.await.unwrap_or_default();
    let measured = Measured {
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu0,
        frames: frames.lock().map(|f| f.frames).unwrap_or(0) - frames0,
        bytes: bytes.load(Ordering::Relaxed) - bytes0,
    };
    // The soak's end: the parent names the newest changes the world holds.
    if let Some(path) = line.trim().strip_prefix("verify ") {
        soak::verify(&frames, &observed, path, clusters).await;
    }
    let _ = stop.send(());
    Some(measured)
}

/// As long as a change's message (`t=<16 digits> change <6 digits>`) and without its `t=`, so
/// the soak's heap does not grow by the first change of each release replacing a shorter seed.
const SEED_MESSAGE: &str = "installed before the load began.";

fn hr(name: &str, deps: &[String], message: &str, ready: bool) -> Value {
    let deps: Vec<Value> = deps.iter().map(|d| json!({"name": d})).collect();
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "15m", "dependsOn": deps},
        "status": {"conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "InstallSucceeded" } else { "UpgradeFailed" },
            "message": message
        }]}
    })
}

/// Wall time of `sovtui fleet status --json` against the running world (every cluster listed and
/// printed), or `null` when it did not succeed.
fn fleet_status_wall(dir: &std::path::Path, kubeconfig: &std::path::Path, clusters: u64) -> Value {
    let file = FleetFile {
        adopt_kubeconfig: false,
        sovereigns: (0..clusters)
            .map(|i| {
                let mut e = SovereignEntry::adopted(&cluster_name(i));
                e.kubeconfig = Some(kubeconfig.to_path_buf());
                e.adopted = false;
                e
            })
            .collect(),
        ..Default::default()
    };
    let fleet_toml = dir.join("status-fleet.toml");
    if std::fs::write(&fleet_toml, file.to_toml()).is_err() {
        return Value::Null;
    }
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sovtui"))
        .args(["--config"])
        .arg(&fleet_toml)
        .args(["fleet", "status", "--json", "--timeout", "60"])
        .env("XDG_STATE_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stderr(std::process::Stdio::null())
        .output();
    let wall = t0.elapsed().as_secs_f64();
    match out {
        Ok(o) if o.status.success() => {
            let v = serde_json::from_slice::<Value>(&o.stdout).unwrap_or(Value::Null);
            let listed = v["sovereigns"].as_array().map_or(0, |a| a.len());
            if listed as u64 == clusters && v["complete"] == json!(true) {
                json!(wall)
            } else {
                eprintln!("fleet status listed {listed} of {clusters} Sovereigns");
                Value::Null
            }
        }
        Ok(o) => {
            eprintln!("fleet status failed: {}", o.status);
            Value::Null
        }
        Err(e) => {
            eprintln!("fleet status did not run: {e}");
            Value::Null
        }
    }
}

fn parent() {
    let clusters = knob("FLEET_BENCH_CLUSTERS", 50);
    let releases = knob("FLEET_BENCH_RELEASES", 40);
    let rate = knob("FLEET_BENCH_RATE", 200).max(1);
    let secs = knob("FLEET_BENCH_SECS", 60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sim = KubeSim::new(SimClock::new(1.0));
        // As k3s serves it: https, each cluster with a CA of its own named in the kubeconfig,
        // ALPN h2 and http/1.1.
        let tls = knob("FLEET_BENCH_TLS", 1) == 1;
        let mut handles = Vec::new();
        for i in 0..clusters {
            let options = ClusterOptions {
                tls: tls.then(|| sovtui::sim::kube::tls::SimTls::generate().expect("cluster CA")),
                ..ClusterOptions::default()
            };
            let c = sim
                .add_empty_cluster(&cluster_name(i), options)
                .await
                .expect("cluster");
            for r in 0..releases {
                let deps: Vec<String> = if r == 0 {
                    vec![]
                } else {
                    vec![format!("bp-c{:02}", (r - 1) / 2)]
                };
                c.apply(hr(&format!("bp-c{r:02}"), &deps, SEED_MESSAGE, true))
                    .expect("seed");
            }
            handles.push(c);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, sim.kubeconfig_yaml()).expect("kubeconfig");

        let exe = std::env::current_exe().expect("exe");
        // `FLEET_BENCH_CHILD_WRAP="heaptrack -o /tmp/fleet"` runs the cockpit under a profiler.
        let wrap = std::env::var("FLEET_BENCH_CHILD_WRAP").unwrap_or_default();
        let mut argv: Vec<std::ffi::OsString> = wrap.split_whitespace().map(Into::into).collect();
        argv.push(exe.into_os_string());
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env(CHILD_ENV, &kc)
            // The audit log, themes and keymaps of the operator running the bench stay untouched.
            .env("XDG_STATE_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        // A profiler wrapping the child may print its own lines first.
        let mut line = String::new();
        loop {
            line.clear();
            let read = tokio::task::block_in_place(|| out.read_line(&mut line));
            assert!(matches!(read, Ok(n) if n > 0), "child never synced");
            if line.starts_with("ready") {
                break;
            }
        }
        let field = |i: usize| -> f64 {
            line.split_whitespace()
                .nth(i)
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let (idle_cores, idle_bytes) = (field(2), field(3));

        // Drive: `rate` status changes per second, in 20 batches per second, round robin.
        let batches_per_s = 20u64;
        let per_batch = (rate / batches_per_s).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / batches_per_s));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let total = rate * secs;
        let mut soak = soak::Config::from_env(clusters).map(|cfg| soak::Soak::start(cfg, &handles));
        let mut sent = 0u64;
        let mut flip: BTreeMap<(u64, u64), bool> = BTreeMap::new();
        while sent < total {
            tick.tick().await;
            for _ in 0..per_batch.min(total - sent) {
                let ci = sent % clusters;
                let ri = (sent / clusters) % releases;
                let ready = flip.entry((ci, ri)).or_insert(true);
                *ready = !*ready;
                let patch = json!({"status": {"conditions": [{
                    "type": "Ready",
                    "status": if *ready { "True" } else { "False" },
                    "reason": if *ready { "InstallSucceeded" } else { "UpgradeFailed" },
                    "message": format!("t={} change {sent}", now_micros()),
                }]}});
                handles[ci as usize]
                    .merge_patch("hr", "flux-system", &format!("bp-c{ri:02}"), patch)
                    .expect("patch");
                sent += 1;
            }
        }
        // Let the last changes arrive, then stop the child and read its report.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let soak_log = match &mut soak {
            Some(s) => Some(
                s.finish_load(&handles, dir.path(), child.stdin.as_mut())
                    .await,
            ),
            None => None,
        };
        drop(child.stdin.take());
        let mut report = String::new();
        while !report.starts_with('{') {
            report.clear();
            let read = tokio::task::block_in_place(|| out.read_line(&mut report));
            assert!(matches!(read, Ok(n) if n > 0), "the child gave no report");
        }
        let _ = child.wait();
        let mut v: Value = serde_json::from_str(report.trim()).expect("child report JSON");
        // The headless one-shot an operator (or a script) runs against the same fleet.
        v["fleet_status_json_s"] = json!(fleet_status_wall(dir.path(), &kc, clusters));
        v["changes_sent"] = json!(sent);
        v["rate_per_s"] = json!(rate);
        v["idle_cores"] = json!(idle_cores);
        v["idle_terminal_bytes"] = json!(idle_bytes);
        if let (Some(s), Some(log)) = (soak, soak_log) {
            s.report(&mut v, log, &soak::samples_path(&kc));
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    });
}
