//! The simulated world's capacity: the generated fleet of `sovtui sim --sovereigns N` (the
//! bootstrap kit on every Sovereign, one in 50 failing) in one process, reconciled until every
//! healthy Sovereign's HelmReleases are Ready; then 5 s with nothing happening. Reports memory
//! (RSS before the world, with every apiserver listening, once reconciled) and the CPU the idle
//! world burns (utime + stime from /proc).
//!
//! Run: `cargo bench --bench sim_capacity`; `SIM_CAPACITY_SOVEREIGNS` (50) sets N.

use std::time::Duration;

use sovtui::sim::large_fleet;
use sovtui::sim::world::World;

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

/// CPU time of this process in clock ticks (utime + stime).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn all_ready(c: &sovtui::sim::kube::SimCluster, releases: usize) -> bool {
    c.list("hr", None).is_ok_and(|l| {
        l.len() == releases
            && l.iter().all(|o| {
                o["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let n: usize = std::env::var("SIM_CAPACITY_SOVEREIGNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let before = status_kib("VmRSS:");
        let started = std::time::Instant::now();
        let world = World::start(large_fleet::scenario(n), 1_000_000.0, None)
            .await
            .expect("world starts");
        let listening = status_kib("VmRSS:");
        let up_in = started.elapsed();
        let releases = sovtui::sim::kube::Kit::builtin("bootstrap-kit")
            .expect("kit")
            .releases
            .len();
        let healthy: Vec<_> = (0..n)
            .filter(|&i| large_fleet::failure_of(i).is_none())
            .filter_map(|i| world.kube.cluster(&large_fleet::fqdn(i)))
            .collect();
        for c in &healthy {
            while !all_ready(c, releases) {
                assert!(
                    started.elapsed() < Duration::from_secs(1800),
                    "kit did not reconcile"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let reconciled_in = started.elapsed();
        let after = status_kib("VmRSS:");
        let ticks_before = cpu_ticks().unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle_ticks = cpu_ticks().unwrap_or(0).saturating_sub(ticks_before);
        let objects: usize = world
            .kube
            .clusters()
            .iter()
            .map(|c| c.object_count())
            .sum();
        println!(
            "sim capacity: {n} Sovereigns ({} healthy, all Ready) x {releases} HelmReleases",
            healthy.len()
        );
        println!("  apiservers up in   {:.1} s", up_in.as_secs_f64());
        println!(
            "  reconciled in      {:.1} s (wall, fast clock)",
            reconciled_in.as_secs_f64()
        );
        println!("  objects            {objects} ({} per Sovereign)", objects / n.max(1));
        println!(
            "  RSS                {:.1} MiB before, {:.1} MiB listening, {:.1} MiB reconciled (peak {:.1} MiB)",
            mib(before),
            mib(listening),
            mib(after),
            mib(status_kib("VmHWM:"))
        );
        println!(
            "  per Sovereign      {:.0} KiB (reconciled - before, / {n})",
            after.saturating_sub(before) as f64 / n as f64
        );
        println!("  CPU while idle 5 s {idle_ticks} clock ticks (1 tick = 10 ms)");
        // Exit with the world alive: under `heaptrack` its "leaked" memory is then exactly what
        // the reconciled world holds (how the breakdown in docs/PERFORMANCE.md was made).
        let _ = (healthy, world);
        std::process::exit(0);
    });
}
