//! Fleet benchmark (issue 4): 50 simulated clusters × 40 HelmReleases, 200 status changes per
//! second spread over the fleet for 60 s. Reports the fleet library's CPU share, peak RSS and
//! change-to-event latency (p50/p99/max).
//!
//! The simulated apiservers and the load driver run in this process; the fleet under test runs
//! in a child process (this same binary, re-executed) so its CPU and memory are measured alone.
//!
//! Run: `cargo bench --bench fleet` (add `--profile dev` to skip the release build). Knobs:
//! `FLEET_BENCH_CLUSTERS` (50), `FLEET_BENCH_RELEASES` (40), `FLEET_BENCH_RATE` (200/s),
//! `FLEET_BENCH_SECS` (60), `FLEET_BENCH_IDLE_SECS` (5: idle phase before the load, for the
//! CPU cost of open watches with nothing changing).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sovtui::config::fleet_file::{FleetFile, SovereignEntry};
use sovtui::provision::fleet::{Fleet, FleetEvent, FleetOptions};
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterOptions, KubeSim};

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
    match std::env::var_os(CHILD_ENV) {
        Some(kc) => child(PathBuf::from(kc)),
        None => parent(),
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

/// The fleet under test: watch every cluster, report readiness, then measure until stdin closes.
fn child(kubeconfig: PathBuf) {
    let clusters = knob("FLEET_BENCH_CLUSTERS", 50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let file = FleetFile {
            adopt_kubeconfig: false,
            sovereigns: (0..clusters)
                .map(|i| {
                    let mut e = SovereignEntry::adopted(&cluster_name(i));
                    e.kubeconfig = Some(kubeconfig.clone());
                    e.adopted = false;
                    e
                })
                .collect(),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = FleetOptions {
            audit_log: dir.path().join("audit.jsonl"),
            ..Default::default()
        };
        let sync_t0 = std::time::Instant::now();
        let (handle, mut events) = Fleet::start_with(file, opts);
        let mut synced = 0;
        while synced < clusters {
            match events.recv().await {
                Some(FleetEvent::Synced { .. }) => synced += 1,
                Some(_) => {}
                None => return,
            }
        }
        let sync_secs = sync_t0.elapsed().as_secs_f64();
        let snap = handle.snapshot().await.expect("snapshot");
        let components: usize = snap.sovereigns.iter().map(|s| s.components.len()).sum();
        // Idle cost first: watches are open, nothing changes; no polling means ~no CPU.
        let idle_secs = knob("FLEET_BENCH_IDLE_SECS", 5);
        let idle0 = cpu_seconds();
        let idle_t0 = std::time::Instant::now();
        let idle_deadline = tokio::time::Instant::now() + Duration::from_secs(idle_secs);
        while let Ok(Some(_)) = tokio::time::timeout_at(idle_deadline, events.recv()).await {}
        let idle_cores = (cpu_seconds() - idle0) / idle_t0.elapsed().as_secs_f64().max(1e-9);
        println!("ready {components} {idle_cores} {sync_secs}");
        let _ = std::io::stdout().flush();

        // Measure from here: the steady state under load.
        let cpu0 = cpu_seconds();
        let t0 = std::time::Instant::now();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let _ = stop_tx.send(());
        });
        let mut latencies: Vec<u64> = Vec::new();
        let mut changes = 0u64;
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                ev = events.recv() => match ev {
                    Some(FleetEvent::ComponentChanged { component, .. }) => {
                        changes += 1;
                        if let Some(stamp) = component
                            .message
                            .strip_prefix("t=")
                            .and_then(|s| s.split_whitespace().next())
                            .and_then(|s| s.parse::<u128>().ok())
                        {
                            latencies.push(now_micros().saturating_sub(stamp) as u64);
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            latencies[i] as f64 / 1000.0
        };
        let report = json!({
            "clusters": clusters,
            "components": components,
            "wall_s": wall,
            "cpu_s": cpu,
            "cores": cpu / wall.max(1e-9),
            "peak_rss_mib": status_kib("VmHWM:") as f64 / 1024.0,
            "changes_seen": changes,
            "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
        });
        println!("{report}");
        drop(handle);
    });
}

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
        let mut handles = Vec::new();
        for i in 0..clusters {
            let c = sim
                .add_empty_cluster(&cluster_name(i), ClusterOptions::default())
                .await
                .expect("cluster");
            for r in 0..releases {
                let deps: Vec<String> = if r == 0 {
                    vec![]
                } else {
                    vec![format!("bp-c{:02}", (r - 1) / 2)]
                };
                c.apply(hr(&format!("bp-c{r:02}"), &deps, "installed", true))
                    .expect("seed");
            }
            handles.push(c);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, sim.kubeconfig_yaml()).expect("kubeconfig");

        let exe = std::env::current_exe().expect("exe");
        let mut child = std::process::Command::new(exe)
            .env(CHILD_ENV, &kc)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let ready = tokio::task::block_in_place(|| out.read_line(&mut line));
        assert!(
            matches!(ready, Ok(n) if n > 0) && line.starts_with("ready"),
            "child never synced: {line:?}"
        );
        let field = |i: usize| -> f64 {
            line.split_whitespace()
                .nth(i)
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let (idle_cores, initial_sync_s) = (field(2), field(3));

        // Drive: `rate` status changes per second, in 20 batches per second, round robin.
        let batches_per_s = 20u64;
        let per_batch = (rate / batches_per_s).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / batches_per_s));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let total = rate * secs;
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
        drop(child.stdin.take());
        let mut report = String::new();
        tokio::task::block_in_place(|| out.read_line(&mut report)).expect("report");
        let _ = child.wait();
        let mut v: Value = serde_json::from_str(report.trim()).expect("child report JSON");
        v["changes_sent"] = json!(sent);
        v["rate_per_s"] = json!(rate);
        v["initial_sync_s"] = json!(initial_sync_s);
        v["idle_cores"] = json!(idle_cores);
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    });
}
