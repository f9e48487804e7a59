//! A real PostgreSQL pair for the drill's data plane: two `postgres` servers on loopback, the
//! second a streaming replica of the first, synchronous (`remote_apply`) or asynchronous. The
//! simulated Continuum/CNPG operator drives it: a region kill stops a postmaster, a promotion runs a
//! real `pg_promote()`, a failback rewinds the old primary and re-attaches it as a replica.
//!
//! Needs Debian's `postgresql` package (`.ci/install-deps` installs it). `initdb` refuses to run as
//! root, so when we are root every server runs as the `postgres` user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::process::Command;
use tokio_postgres::NoTls;

/// How the replica confirms commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replication {
    /// `synchronous_commit = remote_apply` with the replica as the one synchronous standby.
    Sync,
    /// Plain asynchronous streaming: acknowledged commits can be lost on a region kill.
    Async,
}

/// One server of the pair.
#[derive(Debug, Clone)]
pub struct PgNode {
    /// Also the replication `application_name` (CNPG uses the cluster name).
    pub name: String,
    pub data_dir: PathBuf,
    pub port: u16,
}

impl PgNode {
    pub fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
            self.port
        )
    }
}

/// The pair. Dropping it stops both servers and removes their data.
#[derive(Debug)]
pub struct PgPair {
    base: PathBuf,
    bin: PathBuf,
    nodes: [PgNode; 2],
    primary: usize,
    replication: Replication,
    as_postgres_user: bool,
    /// Fault knob: see [`PgPair::degrade_before_kill`].
    degrade_before_kill: Option<u64>,
}

/// The server tools the pair runs; a directory is used only when it has all of them.
const TOOLS: [&str; 5] = ["initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_rewind"];

fn has_tools(dir: &Path) -> bool {
    TOOLS.iter().all(|t| dir.join(t).exists())
}

/// Where the PostgreSQL server binaries are: `$SOVTUI_PG_BIN`, else the directory `initdb` on
/// `PATH` really lives in (distributions link a few tools into `/usr/local/bin` or `/usr/bin`,
/// not all), else the newest `/usr/lib/postgresql/*/bin` (Debian's place).
pub fn find_pg_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SOVTUI_PG_BIN") {
        let dir = PathBuf::from(dir);
        return has_tools(&dir).then_some(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let Ok(real) = std::fs::canonicalize(dir.join("initdb")) else {
                continue;
            };
            if let Some(bin) = real.parent()
                && has_tools(bin)
            {
                return Some(bin.to_path_buf());
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16> {
    // Postgres cannot bind port 0 itself; the window between drop and bind is tiny on loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl PgPair {
    /// initdb the primary, start it, base-backup the replica from it, start the replica, and (in
    /// sync mode) make the replica the synchronous standby. `base` must not exist yet.
    pub async fn start(base: &Path, names: [&str; 2], replication: Replication) -> Result<Self> {
        let bin = find_pg_bin().ok_or_else(|| {
            anyhow!("PostgreSQL server binaries not found (install Debian's postgresql, or set SOVTUI_PG_BIN)")
        })?;
        std::fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
        let as_postgres_user = is_root();
        if as_postgres_user {
            chown_postgres(base).await?;
        }
        let nodes = [
            PgNode {
                name: names[0].to_string(),
                data_dir: base.join(names[0]),
                port: free_port()?,
            },
            PgNode {
                name: names[1].to_string(),
                data_dir: base.join(names[1]),
                port: free_port()?,
            },
        ];
        let pair = PgPair {
            base: base.to_path_buf(),
            bin,
            nodes,
            primary: 0,
            replication,
            as_postgres_user,
            degrade_before_kill: None,
        };
        pair.guard_against_orphans()?;
        pair.init_primary().await?;
        pair.start_node(0).await?;
        pair.clone_replica(1).await?;
        pair.start_node(1).await?;
        pair.wait_streaming(Duration::from_secs(60)).await?;
        pair.apply_replication_mode().await?;
        Ok(pair)
    }

    /// Like `start`, in a fresh directory under the system temp dir (which, unlike a private
    /// tempdir, the `postgres` user can traverse).
    pub async fn start_temp(names: [&str; 2], replication: Replication) -> Result<Self> {
        let base =
            std::env::temp_dir().join(format!("sovtui-pg-{}", uuid::Uuid::new_v4().simple()));
        Self::start(&base, names, replication).await
    }

    pub fn replication(&self) -> Replication {
        self.replication
    }

    pub fn primary(&self) -> &PgNode {
        &self.nodes[self.primary]
    }

    pub fn replica(&self) -> &PgNode {
        &self.nodes[1 - self.primary]
    }

    fn pg_cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    async fn run(&self, mut cmd: Command, what: &str) -> Result<()> {
        let out = cmd
            .output()
            .await
            .with_context(|| format!("starting {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    async fn init_primary(&self) -> Result<()> {
        let node = &self.nodes[0];
        let mut cmd = self.pg_cmd("initdb");
        cmd.arg("-D").arg(&node.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        self.run(cmd, "initdb").await?;
        // wal_log_hints lets pg_rewind re-attach a killed primary as a replica after failover.
        let conf = "\n# sovtui drill data plane\nlisten_addresses = '127.0.0.1'\nwal_level = replica\n\
             max_wal_senders = 10\nmax_replication_slots = 10\nwal_log_hints = on\nwal_keep_size = 1024\nhot_standby = on\n\
             fsync = off\nfull_page_writes = on\nlogging_collector = off\n";
        append(&node.data_dir.join("postgresql.conf"), conf)?;
        Ok(())
    }

    /// Port, socket directory and replication settings are per node and survive role swaps.
    fn node_conf(&self, i: usize) -> String {
        format!(
            "port = {}\nunix_socket_directories = '{}'\n",
            self.nodes[i].port,
            self.base.display()
        )
    }

    async fn start_node(&self, i: usize) -> Result<()> {
        let node = &self.nodes[i];
        std::fs::write(node.data_dir.join("sovtui-node.conf"), self.node_conf(i))?;
        ensure_include(&node.data_dir.join("postgresql.conf"))?;
        if self.as_postgres_user {
            chown_postgres(&node.data_dir).await?;
        }
        let mut cmd = self.pg_cmd("pg_ctl");
        cmd.arg("-D")
            .arg(&node.data_dir)
            .arg("-l")
            .arg(self.base.join(format!("{}.log", node.name)))
            .args(["-w", "-t", "60", "start"]);
        self.run(cmd, &format!("starting postgres {}", node.name))
            .await
    }

    async fn clone_replica(&self, i: usize) -> Result<()> {
        let source = &self.nodes[1 - i];
        let node = &self.nodes[i];
        let mut cmd = self.pg_cmd("pg_basebackup");
        cmd.arg("-D")
            .arg(&node.data_dir)
            .args(["-h", "127.0.0.1", "-p", &source.port.to_string()])
            .args(["-U", "postgres", "-X", "stream", "--no-sync"]);
        self.run(cmd, "pg_basebackup").await?;
        self.make_standby_of(i, 1 - i)
    }

    fn make_standby_of(&self, i: usize, source: usize) -> Result<()> {
        let node = &self.nodes[i];
        std::fs::write(node.data_dir.join("standby.signal"), "")?;
        let conninfo = format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name={}'\n",
            self.nodes[source].port, node.name
        );
        std::fs::write(node.data_dir.join("postgresql.auto.conf"), conninfo)?;
        Ok(())
    }

    /// Connect to a node (short timeout: the caller decides how long to keep trying).
    pub async fn connect(node: &PgNode) -> Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&node.dsn(), NoTls)
            .await
            .with_context(|| {
                format!("connecting to postgres {} on port {}", node.name, node.port)
            })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("postgres connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// Wait until the replica streams from the primary.
    pub async fn wait_streaming(&self, deadline: Duration) -> Result<()> {
        let replica = self.replica().name.clone();
        let started = tokio::time::Instant::now();
        loop {
            if let Ok(client) = Self::connect(self.primary()).await {
                let rows = client
                    .query(
                        "SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
                        &[&replica],
                    )
                    .await;
                if matches!(rows, Ok(r) if !r.is_empty()) {
                    return Ok(());
                }
            }
            if started.elapsed() > deadline {
                bail!(
                    "replica {replica} did not start streaming within {deadline:?}; its log ends:\n{}",
                    self.log_tail(self.replica(), 15)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self, node: &PgNode, lines: usize) -> String {
        let text = std::fs::read_to_string(self.base.join(format!("{}.log", node.name)))
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn apply_replication_mode(&self) -> Result<()> {
        let client = Self::connect(self.primary()).await?;
        let (commit, standby) = match self.replication {
            Replication::Sync => (
                "remote_apply",
                format!("FIRST 1 (\"{}\")", self.replica().name),
            ),
            Replication::Async => ("local", String::new()),
        };
        // One statement per simple query: ALTER SYSTEM refuses to run in an implicit transaction.
        for stmt in [
            format!("ALTER SYSTEM SET synchronous_commit = '{commit}'"),
            format!("ALTER SYSTEM SET synchronous_standby_names = '{standby}'"),
            "SELECT pg_reload_conf()".to_string(),
        ] {
            client.batch_execute(&stmt).await.map_err(|e| {
                anyhow!(
                    "setting the replication mode on the primary: {stmt}: {}",
                    pg_error(&e)
                )
            })?;
        }
        // pg_reload_conf only signals: the walsender takes the new standby names at its own next
        // loop, and until then the replica still shows `async`. A pair handed out before that is
        // seen as asynchronous by a drill's plan (a busy machine made that window seconds long).
        let want = match self.replication {
            Replication::Sync => "sync",
            Replication::Async => "async",
        };
        let replica = self.replica().name.clone();
        let deadline = Duration::from_secs(30);
        let started = tokio::time::Instant::now();
        loop {
            let rows = client
                .query(
                    "SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND sync_state = $2",
                    &[&replica, &want],
                )
                .await
                .map_err(|e| anyhow!("reading pg_stat_replication: {}", pg_error(&e)))?;
            if !rows.is_empty() {
                return Ok(());
            }
            if started.elapsed() > deadline {
                bail!("replica {replica} not `{want}` on the primary within {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fault knob: at the next [`kill_primary`](Self::kill_primary) the pair first falls back to
    /// asynchronous replication and loses its link (as CNPG does when the standby drops out and
    /// durability is `preferred`), then the primary keeps acknowledging writes until its WAL has
    /// grown by `wal_bytes` (or 30 s pass), then dies. Whatever was written meanwhile exists only
    /// on the dead primary: acknowledged, and lost by the promotion. `None` disarms it.
    pub fn degrade_before_kill(&mut self, wal_bytes: Option<u64>) {
        self.degrade_before_kill = wal_bytes;
    }

    /// Synchronous → asynchronous on the primary, then the replication link cut.
    pub async fn degrade_to_async(&self) -> Result<()> {
        let client = Self::connect(self.primary()).await?;
        for stmt in [
            "ALTER SYSTEM SET synchronous_standby_names = ''",
            "ALTER SYSTEM SET synchronous_commit = 'local'",
            "SELECT pg_reload_conf()",
        ] {
            client
                .batch_execute(stmt)
                .await
                .map_err(|e| anyhow!("degrading the primary to async: {stmt}: {}", pg_error(&e)))?;
        }
        self.pause_replication().await
    }

    /// Wait until the primary's WAL has grown by `bytes` since `from` (bounded).
    async fn wait_wal_growth(&self, bytes: u64, deadline: Duration) -> Result<()> {
        let client = Self::connect(self.primary()).await?;
        let start: String = client
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await?
            .get(0);
        let until = tokio::time::Instant::now() + deadline;
        let threshold = i64::try_from(bytes).unwrap_or(i64::MAX);
        loop {
            let grown: i64 = client
                .query_one(
                    "SELECT (pg_current_wal_lsn() - $1::text::pg_lsn)::bigint",
                    &[&start],
                )
                .await?
                .get(0);
            if grown >= threshold {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                tracing::warn!(
                    grown,
                    bytes,
                    "degraded primary: fewer writes than asked before the kill"
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The region kill: the primary's postmaster dies without a checkpoint, like a lost machine.
    pub async fn kill_primary(&self) -> Result<()> {
        if let Some(bytes) = self.degrade_before_kill {
            self.degrade_to_async().await?;
            self.wait_wal_growth(bytes, Duration::from_secs(30)).await?;
        }
        let node = self.primary();
        let mut cmd = self.pg_cmd("pg_ctl");
        cmd.arg("-D")
            .arg(&node.data_dir)
            .args(["-m", "immediate", "-w", "stop"]);
        self.run(cmd, &format!("stopping postgres {}", node.name))
            .await
    }

    /// Cut the replication link (injected lag): the replica stops receiving WAL until
    /// `resume_replication`, so asynchronous commits made meanwhile exist only on the primary.
    pub async fn pause_replication(&self) -> Result<()> {
        let client = Self::connect(self.replica()).await?;
        for stmt in [
            "ALTER SYSTEM SET primary_conninfo = ''",
            "SELECT pg_reload_conf()",
        ] {
            client.batch_execute(stmt).await.map_err(|e| {
                anyhow!(
                    "pausing replication on the replica: {stmt}: {}",
                    pg_error(&e)
                )
            })?;
        }
        // The walreceiver exits on reload; wait for the primary to notice.
        let replica = self.replica().name.clone();
        let primary = Self::connect(self.primary()).await?;
        for _ in 0..200 {
            let rows = primary
                .query(
                    "SELECT 1 FROM pg_stat_replication WHERE application_name = $1",
                    &[&replica],
                )
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("replication link to {replica} did not drop")
    }

    /// Promote the replica (`pg_promote`, waiting for it) and make it the pair's primary.
    pub async fn promote_replica(&mut self) -> Result<()> {
        let client = Self::connect(self.replica()).await?;
        let row = client
            .query_one("SELECT pg_promote(true, 60)", &[])
            .await
            .context("pg_promote on the replica")?;
        let promoted: bool = row.get(0);
        if !promoted {
            bail!("pg_promote returned false on {}", self.replica().name);
        }
        self.primary = 1 - self.primary;
        Ok(())
    }

    /// Failback preparation: rewind the old (killed) primary onto the new primary's timeline and
    /// start it as the new primary's replica, synchronous again in sync mode.
    pub async fn rejoin_old_primary(&self) -> Result<()> {
        let old = 1 - self.primary;
        let node = &self.nodes[old];
        // pg_rewind reads the timeline from the source's control file, which a promotion only
        // updates at its next checkpoint; without one it sees no divergence and rewinds nothing.
        Self::connect(self.primary())
            .await?
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| anyhow!("checkpoint on the new primary: {}", pg_error(&e)))?;
        let mut cmd = self.pg_cmd("pg_rewind");
        cmd.arg("--target-pgdata").arg(&node.data_dir).arg(format!(
            "--source-server=host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.primary().port
        ));
        self.run(cmd, "pg_rewind").await?;
        self.make_standby_of(old, self.primary)?;
        self.start_node(old).await?;
        self.wait_streaming(Duration::from_secs(60)).await?;
        self.apply_replication_mode().await
    }

    /// A controlled switchover back: stop the current primary cleanly, promote the replica, rewind
    /// and re-attach the former primary. Used by the drill's reverse step.
    pub async fn switchover(&mut self) -> Result<()> {
        let node = self.primary().clone();
        let mut cmd = self.pg_cmd("pg_ctl");
        cmd.arg("-D")
            .arg(&node.data_dir)
            .args(["-m", "fast", "-w", "stop"]);
        self.run(cmd, &format!("stopping postgres {}", node.name))
            .await?;
        self.promote_replica().await?;
        self.rejoin_old_primary().await
    }

    /// `pg_ctl` daemonizes the postmasters, so they would outlive us if we died without running
    /// `Drop` (SIGKILL, a panic that exits, a hung-up terminal's signal). A small watchdog in its
    /// own session waits for this process to go away, then stops both servers and removes the
    /// pair's files; after a normal `Drop` it finds nothing left to do.
    fn guard_against_orphans(&self) -> Result<()> {
        let mut script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done\n",
            std::process::id()
        );
        for node in &self.nodes {
            let pg_ctl = self.bin.join("pg_ctl");
            let stop = format!(
                "{} -D {} -m immediate stop",
                shell_quote(&pg_ctl.to_string_lossy()),
                shell_quote(&node.data_dir.to_string_lossy())
            );
            script += &if self.as_postgres_user {
                format!("runuser -u postgres -- {stop} >/dev/null 2>&1\n")
            } else {
                format!("{stop} >/dev/null 2>&1\n")
            };
        }
        script += &format!("rm -rf {}\n", shell_quote(&self.base.to_string_lossy()));
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; a new session keeps the watchdog out of the
        // terminal's process group, so the hang-up that ends us does not end it.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.spawn().context("starting the data plane's watchdog")?;
        Ok(())
    }

    fn stop_all_blocking(&self) {
        for node in &self.nodes {
            let exe = self.bin.join("pg_ctl");
            let mut cmd = if self.as_postgres_user {
                let mut c = std::process::Command::new("runuser");
                c.arg("-u").arg("postgres").arg("--").arg(exe);
                c
            } else {
                std::process::Command::new(exe)
            };
            let _ = cmd
                .arg("-D")
                .arg(&node.data_dir)
                .args(["-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        self.stop_all_blocking();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn ensure_include(conf: &Path) -> Result<()> {
    let text = std::fs::read_to_string(conf)?;
    if !text.contains("include_if_exists = 'sovtui-node.conf'") {
        append(conf, "include_if_exists = 'sovtui-node.conf'\n")?;
    }
    Ok(())
}

async fn chown_postgres(path: &Path) -> Result<()> {
    let status = Command::new("chown")
        .arg("-R")
        .arg("postgres:postgres")
        .arg(path)
        .status()
        .await?;
    if !status.success() {
        bail!("chown postgres {} failed", path.display());
    }
    Ok(())
}

/// tokio-postgres prints only "db error"; the server's message is what the operator needs.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}
