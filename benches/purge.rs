//! Purge of a 40-object Sovereign with the linger quirk on: the concurrent staged purge of
//! `provision::hetzner::recover` against the same algorithm held to one request at a time.
//! A loopback proxy adds a fixed per-request latency so the comparison resembles a remote API.
//! Run: `cargo bench --bench purge` (results go to docs/PERFORMANCE.md by hand).

use std::time::{Duration, Instant};

use sovtui::provision::hetzner::client::{ClientOptions, Credentials, HetznerClient};
use sovtui::provision::hetzner::inventory::Inventory;
use sovtui::provision::hetzner::ownership;
use sovtui::provision::hetzner::recover::{self, RecoverOptions};
use sovtui::sim::clock::SimClock;
use sovtui::sim::hetzner::sovereign::{SovereignSpec, create_sovereign};
use sovtui::sim::hetzner::{DEFAULT_TOKEN, HetznerSim, HetznerSimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FQDN: &str = "bench.omani.works";
const LATENCY: Duration = Duration::from_millis(40);
/// Simulated seconds a deleted object keeps being listed.
const LINGER_SIM_SECS: u64 = 10;
/// Simulated seconds per real second: a 10 s linger lasts one real second.
const SPEED: f64 = 10.0;
const RUNS: usize = 3;

/// Forward a TCP connection, holding every client→server chunk back by `LATENCY`.
async fn proxy(upstream: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        tokio::time::sleep(LATENCY).await;
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    addr
}

async fn one_run(concurrency: usize) -> (Duration, usize, u64, u32) {
    let clock = SimClock::new(SPEED);
    let config = HetznerSimConfig {
        linger: Duration::from_secs(LINGER_SIM_SECS),
        ..Default::default()
    };
    let sim = HetznerSim::start(config, clock).await.expect("sim");
    // HA (3 control planes) + 9 workers = 12 servers, each with two primary IPs, plus network,
    // firewall, SSH key and load balancer: 40 objects.
    let key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("keygen");
    let mut spec = SovereignSpec::new(
        FQDN,
        "fsn1",
        &key.public_key().to_openssh().expect("openssh"),
    );
    spec.ha_enabled = true;
    spec.worker_count = 9;
    create_sovereign(&sim.control(), &spec).expect("sovereign");

    let addr = proxy(sim.addr()).await;
    let opts = ClientOptions {
        max_concurrency: concurrency,
        action_poll: Duration::from_millis(50),
        ..Default::default()
    };
    let client = HetznerClient::new(
        Credentials::new(DEFAULT_TOKEN, format!("http://{addr}/v1")),
        opts,
    )
    .expect("client");
    let inv = Inventory::fetch(&client).await.expect("inventory");
    let objects = ownership::claim(&inv, FQDN, &[]).ours.len();

    let mut ropts = RecoverOptions::new(FQDN);
    ropts.poll_interval = Duration::from_millis(100);
    ropts.stage_grace = Duration::from_secs(60);
    ropts.deadline = Duration::from_secs(300);
    let start = Instant::now();
    let report = recover::plan_then_apply(&client, &ropts, &|_| {})
        .await
        .expect("purge");
    let took = start.elapsed();
    assert!(
        report.verified_zero_orphans,
        "purge left {:?}",
        report.remaining
    );
    (took, objects, report.stats.requests, report.sweep_rounds)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "purge of a {FQDN} Sovereign, linger {LINGER_SIM_SECS} sim-s at speed {SPEED} (= {:.1} s real), +{} ms per request",
        LINGER_SIM_SECS as f64 / SPEED,
        LATENCY.as_millis()
    );
    println!("| mode | objects | wall time (median of {RUNS}) | requests | sweep rounds |");
    println!("|---|---|---|---|---|");
    for (label, conc) in [
        ("concurrent (8 in flight)", 8usize),
        ("sequential (1 in flight)", 1),
    ] {
        let mut times = Vec::new();
        let mut last = (0, 0, 0);
        for _ in 0..RUNS {
            let (t, objects, requests, rounds) = rt.block_on(one_run(conc));
            times.push(t);
            last = (objects, requests, rounds);
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "| {label} | {} | {:.2} s | {} | {} |",
            last.0,
            median.as_secs_f64(),
            last.1,
            last.2
        );
    }
}
