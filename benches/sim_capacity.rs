//! The simulated world's capacity: 50 clusters × 40 HelmReleases in one process, reconciled to
//! Ready; then 5 s with nothing happening. Reports memory (RSS growth) and the CPU the idle world
//! burns (utime + stime from /proc). Run: `cargo bench --bench sim_capacity`.

use std::time::Duration;

use serde_json::json;
use sovtui::sim::clock::SimClock;
use sovtui::sim::kube::{ClusterScenario, KubeSim};

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time of this process in clock ticks (utime + stime).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn extra_release(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "15m",
            "releaseName": name,
            "chart": {"spec": {"chart": name, "version": "1.0.0",
                "sourceRef": {"kind": "HelmRepository", "name": "bp-cilium"}}},
            "dependsOn": [{"name": "bp-cilium"}]
        }
    })
}

fn all_ready(c: &sovtui::sim::kube::SimCluster) -> bool {
    c.list("hr", None).is_ok_and(|l| {
        l.len() == 40
            && l.iter().all(|o| {
                o["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let before = rss_kib().unwrap_or(0);
        let sim = KubeSim::new(SimClock::new(1_000_000.0));
        let mut clusters = Vec::new();
        for i in 0..50 {
            let mut scenario = ClusterScenario::bootstrap_kit();
            scenario
                .objects
                .extend((0..5).map(|j| extra_release(&format!("app-{j}"))));
            clusters.push(
                sim.add_cluster(&format!("s{i}.omani.works"), scenario)
                    .await
                    .expect("cluster"),
            );
        }
        let started = std::time::Instant::now();
        for c in &clusters {
            while !all_ready(c) {
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "kit did not reconcile"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let reconciled_in = started.elapsed();
        let after = rss_kib().unwrap_or(0);
        let ticks_before = cpu_ticks().unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle_ticks = cpu_ticks().unwrap_or(0).saturating_sub(ticks_before);
        println!("sim capacity: 50 clusters x 40 HelmReleases, all Ready");
        println!(
            "  reconciled in      {:.1} s (wall, fast clock)",
            reconciled_in.as_secs_f64()
        );
        println!(
            "  RSS                {before} KiB -> {after} KiB (+{:.1} MiB, {:.2} MiB per cluster)",
            after.saturating_sub(before) as f64 / 1024.0,
            after.saturating_sub(before) as f64 / 1024.0 / 50.0
        );
        println!("  CPU while idle 5 s {idle_ticks} clock ticks (1 tick = 10 ms)");
        drop(clusters);
        drop(sim);
    });
}
