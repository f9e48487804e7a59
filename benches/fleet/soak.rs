//! The soak of issue 19: the fleet benchmark with faults and a curve. While the load runs, the
//! world restarts apiservers (same port; every other one without its watch history), compacts
//! watch histories under open watches (an in-stream 410: the client must relist), and keeps a
//! share of the Sovereigns flapping (apiserver down for a few seconds, then up, over and over).
//! Both processes sample every `FLEET_BENCH_SAMPLE_SECS`; at the end the faults stop and the
//! cockpit must show every cluster live and the newest change of every HelmRelease.
//!
//! Knobs (seconds unless said; 0 = off; the soak is on when any of the first four is set):
//! * `FLEET_BENCH_RESTART_EVERY` — restart `FLEET_BENCH_FAULT_BATCH` apiservers (round robin).
//! * `FLEET_BENCH_COMPACT_EVERY` — compact the watch history of a batch of clusters.
//! * `FLEET_BENCH_FLAP_PCT` — percent of the clusters that flap: down `FLEET_BENCH_FLAP_DOWN_SECS`
//!   (5) every `FLEET_BENCH_FLAP_PERIOD_SECS` (60), phases spread over the period.
//! * `FLEET_BENCH_SAMPLE_SECS` — sampling interval of the curve (default 30 when the soak is on).
//! * `FLEET_BENCH_FAULT_BATCH` — clusters per restart/compaction round (default clusters / 100).
//! * `FLEET_BENCH_VERIFY_SECS` — how long the cockpit may take to converge at the end (180).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sovtui::sim::kube::SimCluster;
use sovtui::tui::app::App;

use super::{Frames, cpu_seconds, knob, status_kib};

#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub restart_every: u64,
    pub compact_every: u64,
    pub flap_pct: u64,
    pub flap_period: u64,
    pub flap_down: u64,
    pub sample_secs: u64,
    pub batch: u64,
}

impl Config {
    /// The soak's settings, or `None` when none of its knobs is set (the plain benchmark).
    pub fn from_env(clusters: u64) -> Option<Config> {
        let c = Config {
            restart_every: knob("FLEET_BENCH_RESTART_EVERY", 0),
            compact_every: knob("FLEET_BENCH_COMPACT_EVERY", 0),
            flap_pct: knob("FLEET_BENCH_FLAP_PCT", 0).min(100),
            flap_period: knob("FLEET_BENCH_FLAP_PERIOD_SECS", 60).max(2),
            flap_down: knob("FLEET_BENCH_FLAP_DOWN_SECS", 5).max(1),
            sample_secs: knob("FLEET_BENCH_SAMPLE_SECS", 0),
            batch: knob("FLEET_BENCH_FAULT_BATCH", (clusters / 100).max(1)).max(1),
        };
        let on = c.restart_every + c.compact_every + c.flap_pct + c.sample_secs > 0;
        on.then_some(Config {
            sample_secs: if c.sample_secs == 0 {
                30
            } else {
                c.sample_secs
            },
            ..c
        })
    }
}

/// Where the cockpit (child) writes its samples: next to the kubeconfig both processes know.
pub fn samples_path(kubeconfig: &Path) -> PathBuf {
    kubeconfig.with_file_name("soak-samples.jsonl")
}

// ---------------------------------------------------------------------------------------------
// The cockpit's side (child process).

/// What the frame hook saw last: how many Sovereigns the cockpit shows live.
#[derive(Default)]
pub struct Observed {
    live: AtomicUsize,
}

impl Observed {
    pub fn see(&self, app: &App) {
        let live = app.fleet.iter().filter(|s| s.connection.is_live()).count();
        self.live.store(live, Ordering::Relaxed);
    }
}

/// The verdict of the end-of-soak check, for the child's report.
static VERIFIED: Mutex<Option<Value>> = Mutex::new(None);

/// The allocator's own account (jemalloc): bytes handed out, bytes in pages with anything on them
/// (the difference is fragmentation), and bytes it keeps in RAM. An RSS that grows while the
/// first stays flat is the allocator's, not ours.
fn heap_mib() -> Value {
    let Some(h) = sovtui::alloc_tuning::heap_stats() else {
        return Value::Null;
    };
    let mib = |b: usize| b as f64 / 1024.0 / 1024.0;
    json!({"allocated": mib(h.allocated), "active": mib(h.active), "resident": mib(h.resident)})
}

/// Samples the cockpit every `sample_secs` once the load phase has begun: RSS, CPU share of the
/// interval, Sovereigns live on screen, changes drawn so far, and the bench's own latency log
/// (which grows with every change drawn, so it is reported to be subtracted from the RSS).
pub async fn child_sampler(
    cfg: Config,
    frames: Arc<Mutex<Frames>>,
    observed: Arc<Observed>,
    path: PathBuf,
) {
    let measuring = || frames.lock().map(|f| f.measuring).unwrap_or(false);
    while !measuring() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    let mut out = Vec::new();
    let (mut cpu_prev, mut t_prev) = (cpu_seconds(), Instant::now());
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.sample_secs));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (cpu, now) = (cpu_seconds(), Instant::now());
        let (drawn, log_bytes) = frames
            .lock()
            .map(|f| (f.latencies.len(), f.latencies.capacity() * 8))
            .unwrap_or((0, 0));
        let sample = json!({
            "t_s": t0.elapsed().as_secs_f64(),
            "rss_mib": status_kib("VmRSS:") as f64 / 1024.0,
            "cores": (cpu - cpu_prev) / (now - t_prev).as_secs_f64().max(1e-9),
            "live": observed.live.load(Ordering::Relaxed),
            "drawn": drawn,
            "latency_log_mib": log_bytes as f64 / 1024.0 / 1024.0,
            "heap_mib": heap_mib(),
        });
        (cpu_prev, t_prev) = (cpu, now);
        out.extend_from_slice(sample.to_string().as_bytes());
        out.push(b'\n');
        // Rewritten whole each time (a few KiB): the parent reads it once the child has exited.
        let _ = std::fs::write(&path, &out);
    }
}

/// The end-of-soak check, run when the parent sends `verify PATH`: wait until the cockpit shows
/// every Sovereign live and, for every HelmRelease in the file (`fqdn\tname\tstamp` lines, the
/// newest change the world holds), exactly that change on screen.
pub async fn verify(frames: &Arc<Mutex<Frames>>, observed: &Observed, path: &str, clusters: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let expected: Vec<((String, String), u128)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (fqdn, name, stamp) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
            Some(((fqdn.to_string(), name.to_string()), stamp))
        })
        .collect();
    let wait = knob("FLEET_BENCH_VERIFY_SECS", 180);
    let t0 = Instant::now();
    let (mut missing, mut live);
    loop {
        live = observed.live.load(Ordering::Relaxed);
        missing = frames
            .lock()
            .map(|f| {
                expected
                    .iter()
                    .filter(|((fqdn, name), stamp)| {
                        f.drawn.get(fqdn).and_then(|d| d.stamp(name)) != Some(*stamp)
                    })
                    .count()
            })
            .unwrap_or(expected.len());
        if (missing == 0 && live == clusters) || t0.elapsed() > Duration::from_secs(wait) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let verdict = json!({
        "expected_newest_changes": expected.len(),
        "newest_changes_not_drawn": missing,
        "live_at_end": live,
        "converged": missing == 0 && live == clusters,
        "converged_after_s": t0.elapsed().as_secs_f64(),
    });
    if let Ok(mut v) = VERIFIED.lock() {
        *v = Some(verdict);
    }
}

/// Adds the end-of-soak verdict to the child's report.
pub fn child_report(report: &mut Value) {
    if let Some(v) = VERIFIED.lock().ok().and_then(|v| v.clone()) {
        report["soak_end"] = v;
    }
}

// ---------------------------------------------------------------------------------------------
// The world's side (parent process).

/// The running soak: the fault driver and the world's samples.
pub struct Soak {
    cfg: Config,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<FaultLog>,
    samples: Arc<Mutex<Vec<Value>>>,
    sampler: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FaultLog {
    restarts: u64,
    restarts_without_history: u64,
    compactions: u64,
    flaps: u64,
    restart_errors: u64,
}

fn total_rv(clusters: &[SimCluster]) -> u64 {
    clusters.iter().map(SimCluster::resource_version).sum()
}

impl Soak {
    /// Start faults and sampling at the beginning of the load phase.
    pub fn start(cfg: Config, clusters: &[SimCluster]) -> Soak {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(faults(cfg, clusters.to_vec(), stop_rx));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sampler = tokio::spawn(world_sampler(cfg, clusters.to_vec(), samples.clone()));
        Soak {
            cfg,
            stop,
            task,
            samples,
            sampler,
        }
    }

    /// Stop the faults (every apiserver up again), write the newest change of every HelmRelease
    /// as the world holds it, and ask the cockpit to show exactly those.
    pub async fn finish_load(
        &mut self,
        clusters: &[SimCluster],
        dir: &Path,
        stdin: Option<&mut std::process::ChildStdin>,
    ) -> FaultLog {
        let _ = self.stop.send(true);
        let log = (&mut self.task).await.unwrap_or_default();
        for c in clusters {
            if !c.is_up() {
                let _ = c.up().await;
            }
        }
        let mut lines = String::new();
        for c in clusters {
            for o in c.list("hr", None).unwrap_or_default() {
                let stamp = o
                    .pointer("/status/conditions/0/message")
                    .and_then(Value::as_str)
                    .and_then(|m| m.strip_prefix("t="))
                    .and_then(|m| m.split_whitespace().next());
                let name = o.pointer("/metadata/name").and_then(Value::as_str);
                if let (Some(stamp), Some(name)) = (stamp, name) {
                    lines += &format!("{}\t{name}\t{stamp}\n", c.name());
                }
            }
        }
        let path = dir.join("soak-expected.tsv");
        if std::fs::write(&path, lines).is_ok()
            && let Some(stdin) = stdin
        {
            use std::io::Write;
            let _ = writeln!(stdin, "verify {}", path.display());
            let _ = stdin.flush();
        }
        log
    }

    /// The curve (world and cockpit samples side by side), the slopes, and the fault counts.
    pub fn report(self, v: &mut Value, log: FaultLog, child_samples: &Path) {
        self.sampler.abort();
        let world = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        let cockpit: Vec<Value> = std::fs::read_to_string(child_samples)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let mut curve = Vec::new();
        let mut sent_prev = 0u64;
        let mut drawn_prev = 0u64;
        for (i, c) in cockpit.iter().enumerate() {
            let w = world.get(i).cloned().unwrap_or(Value::Null);
            let sent = w["sent"].as_u64().unwrap_or(0);
            let drawn = c["drawn"].as_u64().unwrap_or(0);
            curve.push(json!({
                "t_s": c["t_s"],
                "cockpit_rss_mib": c["rss_mib"],
                "cockpit_heap_mib": c["heap_mib"],
                "latency_log_mib": c["latency_log_mib"],
                "cockpit_cores": c["cores"],
                "live_on_screen": c["live"],
                "down_in_world": w["down"],
                "changes_sent": sent.saturating_sub(sent_prev),
                "changes_drawn": drawn.saturating_sub(drawn_prev),
                "world_rss_mib": w["rss_mib"],
            }));
            (sent_prev, drawn_prev) = (sent, drawn);
        }
        let series = |f: &dyn Fn(&Value) -> Option<f64>| -> Vec<(f64, f64)> {
            curve
                .iter()
                .filter_map(|s| Some((s["t_s"].as_f64()? / 60.0, f(s)?)))
                .collect()
        };
        let rss =
            series(&|s| Some(s["cockpit_rss_mib"].as_f64()? - s["latency_log_mib"].as_f64()?));
        let cores = series(&|s| s["cockpit_cores"].as_f64());
        let world_rss = series(&|s| s["world_rss_mib"].as_f64());
        v["soak"] = json!({
            "config": {
                "restart_every_s": self.cfg.restart_every,
                "compact_every_s": self.cfg.compact_every,
                "flap_pct": self.cfg.flap_pct,
                "flap_period_s": self.cfg.flap_period,
                "flap_down_s": self.cfg.flap_down,
                "fault_batch": self.cfg.batch,
                "sample_s": self.cfg.sample_secs,
            },
            "faults": log,
            // Slopes by least squares over the samples after the first (warm-up) one.
            "cockpit_rss_mib_per_min": slope(rss.get(1..).unwrap_or(&[])),
            "cockpit_cores_per_min": slope(cores.get(1..).unwrap_or(&[])),
            "world_rss_mib_per_min": slope(world_rss.get(1..).unwrap_or(&[])),
            "curve": curve,
        });
    }
}

/// Least-squares slope of (x, y), or null with fewer than two points.
fn slope(points: &[(f64, f64)]) -> Value {
    let n = points.len() as f64;
    if points.len() < 2 {
        return Value::Null;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 {
        Value::Null
    } else {
        json!(num / den)
    }
}

/// The world's samples: changes written so far (the sum of the clusters' resourceVersions moves
/// by one per write) and how many apiservers are down, plus this process's RSS.
async fn world_sampler(cfg: Config, clusters: Vec<SimCluster>, samples: Arc<Mutex<Vec<Value>>>) {
    let rv0 = total_rv(&clusters);
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.sample_secs));
    tick.tick().await;
    loop {
        tick.tick().await;
        let sample = json!({
            "sent": total_rv(&clusters) - rv0,
            "down": clusters.iter().filter(|c| !c.is_up()).count(),
            "rss_mib": status_kib("VmRSS:") as f64 / 1024.0,
        });
        if let Ok(mut s) = samples.lock() {
            s.push(sample);
        }
    }
}

/// Plays the faults until told to stop; returns what it did.
async fn faults(
    cfg: Config,
    clusters: Vec<SimCluster>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> FaultLog {
    let mut log = FaultLog::default();
    let n = clusters.len() as u64;
    let t0 = tokio::time::Instant::now();
    // Flapping: every k-th cluster, each with its own phase in the period.
    let flappers: Vec<(usize, u64)> = if cfg.flap_pct == 0 || n == 0 {
        vec![]
    } else {
        let every = (100 / cfg.flap_pct).max(1) as usize;
        let chosen: Vec<usize> = (0..clusters.len()).step_by(every).collect();
        let m = chosen.len() as u64;
        chosen
            .into_iter()
            .enumerate()
            .map(|(j, i)| (i, cfg.flap_period * 1000 * j as u64 / m.max(1)))
            .collect()
    };
    let mut rounds = 0u64;
    let mut next_restart = (cfg.restart_every > 0).then(|| t0 + secs(cfg.restart_every));
    let mut next_compact = (cfg.compact_every > 0).then(|| t0 + secs(cfg.compact_every));
    let (mut restart_cursor, mut compact_cursor) = (0u64, n / 2);
    // Flap state: cluster index → when it goes up again.
    let mut down_until: HashMap<usize, tokio::time::Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let now = tokio::time::Instant::now();
        // Flaps: down at the start of each cluster's phase window, up after `flap_down`.
        let ms = (now - t0).as_millis() as u64 % (cfg.flap_period * 1000);
        for &(i, phase) in &flappers {
            let in_window = (ms + cfg.flap_period * 1000 - phase) % (cfg.flap_period * 1000)
                < cfg.flap_down * 1000;
            match (in_window, down_until.get(&i)) {
                (true, None) => {
                    clusters[i].down();
                    down_until.insert(i, now + secs(cfg.flap_down));
                    log.flaps += 1;
                }
                (false, Some(_)) => {
                    down_until.remove(&i);
                    if clusters[i].up().await.is_err() {
                        log.restart_errors += 1;
                    }
                }
                _ => {}
            }
        }
        if let Some(at) = next_restart
            && now >= at
        {
            next_restart = Some(at + secs(cfg.restart_every));
            let round = rounds;
            rounds += 1;
            let batch = pick(&mut restart_cursor, cfg.batch, n, &down_until);
            // Every other round restarts without the watch history: resuming watches get 410.
            let keep = round.is_multiple_of(2);
            let restarts = batch.iter().map(|&i| {
                let c = clusters[i].clone();
                async move { c.restart(keep).await.is_ok() }
            });
            let ok = futures::future::join_all(restarts).await;
            log.restarts += ok.len() as u64;
            if !keep {
                log.restarts_without_history += ok.len() as u64;
            }
            log.restart_errors += ok.iter().filter(|ok| !**ok).count() as u64;
        }
        if let Some(at) = next_compact
            && now >= at
        {
            next_compact = Some(at + secs(cfg.compact_every));
            let batch = pick(&mut compact_cursor, cfg.batch, n, &down_until);
            for &i in &batch {
                clusters[i].compact_history();
            }
            log.compactions += batch.len() as u64;
        }
    }
    log
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The next `batch` clusters round robin, skipping those that are flapped down right now.
fn pick(
    cursor: &mut u64,
    batch: u64,
    n: u64,
    down: &HashMap<usize, tokio::time::Instant>,
) -> Vec<usize> {
    let mut out = Vec::new();
    for _ in 0..n {
        if out.len() as u64 >= batch {
            break;
        }
        let i = (*cursor % n) as usize;
        *cursor += 1;
        if !down.contains_key(&i) {
            out.push(i);
        }
    }
    out
}
