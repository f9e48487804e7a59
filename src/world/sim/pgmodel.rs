//! The modelled data plane: a PostgreSQL pair that is not a database, for machines without the
//! PostgreSQL server binaries. Two loopback servers speak enough of the PostgreSQL wire protocol
//! (v3: startup, simple and extended queries) for the statements a drill sends through
//! tokio-postgres, and keep the semantics the drill measures: a write is acknowledged by the
//! primary; in synchronous mode only after the replica applied it (`remote_apply`), in
//! asynchronous mode before it is shipped, so a cut link followed by a primary kill loses exactly
//! the acknowledged writes that were never shipped.
//!
//! It understands, case- and whitespace-insensitively: `CREATE TABLE IF NOT EXISTS t (…)`,
//! `INSERT INTO t (a, b) VALUES ($1, $2)` (text, bigint; the pair is the table's key),
//! `SELECT b FROM t WHERE a = $1 ORDER BY b`, `SHOW synchronous_commit | synchronous_standby_names
//! | server_version`, `SELECT sync_state FROM pg_stat_replication WHERE application_name = $1` and
//! `SELECT version()`, which starts with [`MODELLED_VERSION_PREFIX`] so whoever asks can tell it
//! from PostgreSQL. Anything else gets a `feature_not_supported` error naming the statement.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::provision::wire::dataplane::MODELLED_VERSION_PREFIX;
use anyhow::{Context, Result, bail};
use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::pgpair::{PgNode, Replication};

/// Largest frontend message the model reads (bounded input).
const MAX_MESSAGE: usize = 1 << 20;
/// How much WAL one modelled write stands for (the `degrade_before_kill` knob counts bytes).
const WAL_BYTES_PER_WRITE: u64 = 128;

const TEXT: u32 = 25;
const INT8: u32 = 20;

#[derive(Default)]
struct State {
    primary: usize,
    up: [bool; 2],
    /// table → rows (key text, value bigint), per node.
    tables: [BTreeMap<String, BTreeSet<(String, i64)>>; 2],
    /// The mode the pair is configured with; `mode` is what it runs with now.
    configured: Option<Replication>,
    mode: Option<Replication>,
    /// Whether the replica receives the primary's writes.
    link: bool,
    /// Acknowledged on the primary, not yet on the replica (asynchronous with the link cut).
    pending: Vec<(String, String, i64)>,
    writes: u64,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The modelled pair. Dropping it closes both servers and every connection.
pub struct ModelPair {
    shared: Arc<Shared>,
    nodes: [PgNode; 2],
    /// Bumped to drop a node's connections (a kill); dropping the sender ends them too.
    kill: [watch::Sender<u64>; 2],
    listeners: Mutex<[Option<JoinHandle<()>>; 2]>,
    degrade_before_kill: Option<u64>,
}

impl std::fmt::Debug for ModelPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPair")
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl ModelPair {
    /// Start both servers on free loopback ports; `base` only names the nodes' (unused) data dirs.
    pub async fn start(base: &Path, names: [&str; 2], replication: Replication) -> Result<Self> {
        let mut listeners = Vec::new();
        let mut nodes = Vec::new();
        for name in names {
            let l = TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding the modelled data plane")?;
            nodes.push(PgNode {
                name: name.to_string(),
                data_dir: base.join(name),
                port: l.local_addr()?.port(),
            });
            listeners.push(l);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                up: [true, true],
                configured: Some(replication),
                mode: Some(replication),
                link: true,
                ..State::default()
            }),
        });
        let kill = [watch::channel(0u64).0, watch::channel(0u64).0];
        let mut handles = [None, None];
        for (i, l) in listeners.into_iter().enumerate() {
            handles[i] = Some(serve(
                l,
                i,
                shared.clone(),
                kill[i].subscribe(),
                nodes.clone(),
            ));
        }
        let [a, b]: [PgNode; 2] = nodes.try_into().map_err(|_| anyhow::anyhow!("two nodes"))?;
        Ok(ModelPair {
            shared,
            nodes: [a, b],
            kill,
            listeners: Mutex::new(handles),
            degrade_before_kill: None,
        })
    }

    pub fn replication(&self) -> Replication {
        self.shared.lock().configured.unwrap_or(Replication::Sync)
    }

    pub fn primary(&self) -> &PgNode {
        &self.nodes[self.shared.lock().primary]
    }

    pub fn replica(&self) -> &PgNode {
        &self.nodes[1 - self.shared.lock().primary]
    }

    /// See [`PgPair::degrade_before_kill`](super::pgpair::PgPair::degrade_before_kill); here
    /// every write counts as [`WAL_BYTES_PER_WRITE`] bytes.
    pub fn degrade_before_kill(&mut self, wal_bytes: Option<u64>) {
        self.degrade_before_kill = wal_bytes;
    }

    pub async fn wait_streaming(&self, deadline: Duration) -> Result<()> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            {
                let s = self.shared.lock();
                if s.link && s.up[0] && s.up[1] {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= until {
                bail!("the modelled replica is not streaming");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn degrade_to_async(&self) -> Result<()> {
        let mut s = self.shared.lock();
        s.mode = Some(Replication::Async);
        s.link = false;
        Ok(())
    }

    pub async fn pause_replication(&self) -> Result<()> {
        self.shared.lock().link = false;
        Ok(())
    }

    fn stop_node(&self, i: usize) {
        self.shared.lock().up[i] = false;
        if let Some(h) = lock(&self.listeners)[i].take() {
            h.abort();
        }
        self.kill[i].send_modify(|e| *e += 1);
    }

    async fn start_node(&self, i: usize) -> Result<()> {
        let node = &self.nodes[i];
        // The stopped listener is dropped when its aborted task is next polled: until then the
        // port is still taken, so the restart tries again for a while.
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        let l = loop {
            match TcpListener::bind(("127.0.0.1", node.port)).await {
                Ok(l) => break l,
                Err(e) if tokio::time::Instant::now() < until => {
                    tracing::debug!("re-binding {}: {e}", node.name);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("re-binding {} on port {}", node.name, node.port)
                    });
                }
            }
        };
        self.shared.lock().up[i] = true;
        lock(&self.listeners)[i] = Some(serve(
            l,
            i,
            self.shared.clone(),
            self.kill[i].subscribe(),
            self.nodes.to_vec(),
        ));
        Ok(())
    }

    pub async fn kill_primary(&self) -> Result<()> {
        if let Some(bytes) = self.degrade_before_kill {
            self.degrade_to_async().await?;
            let from = self.shared.lock().writes;
            let want = bytes.div_ceil(WAL_BYTES_PER_WRITE);
            let until = tokio::time::Instant::now() + Duration::from_secs(30);
            while self.shared.lock().writes - from < want && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let p = self.shared.lock().primary;
        self.stop_node(p);
        Ok(())
    }

    pub async fn promote_replica(&mut self) -> Result<()> {
        let mut s = self.shared.lock();
        let r = 1 - s.primary;
        if !s.up[r] {
            bail!("the modelled replica {} is down", self.nodes[r].name);
        }
        // What was never shipped exists only on the old primary: lost by this promotion.
        s.pending.clear();
        s.primary = r;
        s.link = false;
        Ok(())
    }

    /// The old primary "rewinds" onto the new primary's rows and streams from it again.
    pub async fn rejoin_old_primary(&self) -> Result<()> {
        let old = {
            let mut s = self.shared.lock();
            let (old, primary) = (1 - s.primary, s.primary);
            let rows = s.tables[primary].clone();
            s.tables[old] = rows;
            s.pending.clear();
            old
        };
        self.start_node(old).await?;
        let mut s = self.shared.lock();
        s.link = true;
        s.mode = s.configured;
        Ok(())
    }

    /// Clean stop of the primary (everything shipped first), promotion, rejoin.
    pub async fn switchover(&mut self) -> Result<()> {
        {
            let mut s = self.shared.lock();
            if s.link {
                ship(&mut s);
            }
        }
        let p = self.shared.lock().primary;
        self.stop_node(p);
        self.promote_replica().await?;
        self.rejoin_old_primary().await
    }
}

impl Drop for ModelPair {
    fn drop(&mut self) {
        for h in lock(&self.listeners).iter_mut() {
            if let Some(h) = h.take() {
                h.abort();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ship(s: &mut State) {
    let r = 1 - s.primary;
    for (t, k, v) in std::mem::take(&mut s.pending) {
        s.tables[r].entry(t).or_default().insert((k, v));
    }
}

fn serve(
    l: TcpListener,
    node: usize,
    shared: Arc<Shared>,
    kill: watch::Receiver<u64>,
    nodes: Vec<PgNode>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let nodes = Arc::new(nodes);
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let mut conn = Conn {
                node,
                shared: shared.clone(),
                nodes: nodes.clone(),
                out: BytesMut::new(),
                statements: HashMap::new(),
                portals: HashMap::new(),
            };
            let mut kill = kill.clone();
            kill.mark_unchanged();
            tokio::spawn(async move {
                if let Err(e) = conn.run(stream, &mut kill).await {
                    tracing::debug!("modelled data plane connection: {e:#}");
                }
            });
        }
    })
}

/// A statement the model understands.
#[derive(Debug, Clone)]
enum Query {
    Empty,
    CreateTable(String),
    Insert(String),
    SelectValues(String),
    Show(String),
    SyncState,
    Version,
}

impl Query {
    fn params(&self) -> Vec<u32> {
        match self {
            Query::Insert(_) => vec![TEXT, INT8],
            Query::SelectValues(_) | Query::SyncState => vec![TEXT],
            _ => vec![],
        }
    }

    /// Result columns (name, type), or none for a command.
    fn columns(&self) -> Option<Vec<(String, u32)>> {
        match self {
            Query::SelectValues(_) => Some(vec![("seq".into(), INT8)]),
            Query::Show(name) => Some(vec![(name.clone(), TEXT)]),
            Query::SyncState => Some(vec![("sync_state".into(), TEXT)]),
            Query::Version => Some(vec![("version".into(), TEXT)]),
            _ => None,
        }
    }
}

/// An error response: SQLSTATE and message.
struct SqlError(&'static str, String);

fn parse(sql: &str) -> Result<Query, SqlError> {
    let norm = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim()
        .to_lowercase();
    let words: Vec<&str> = norm.split(' ').collect();
    let unsupported = || {
        SqlError(
            "0A000",
            format!(
                "the modelled data plane does not understand: {}",
                sql.trim()
            ),
        )
    };
    if norm.is_empty() {
        return Ok(Query::Empty);
    }
    if norm == "select version()" {
        return Ok(Query::Version);
    }
    if words.len() == 2 && words[0] == "show" {
        return Ok(Query::Show(words[1].to_string()));
    }
    if norm == "select sync_state from pg_stat_replication where application_name = $1" {
        return Ok(Query::SyncState);
    }
    if norm.starts_with("create table if not exists ") && words.len() > 5 {
        let table = words[5].split('(').next().unwrap_or_default();
        return Ok(Query::CreateTable(table.to_string()));
    }
    // insert into T (a, b) values ($1, $2)
    if words.len() == 8
        && words[0] == "insert"
        && words[1] == "into"
        && words[3].starts_with('(')
        && words[4].ends_with(')')
        && words[5] == "values"
        && words[6] == "($1,"
        && words[7] == "$2)"
    {
        return Ok(Query::Insert(words[2].to_string()));
    }
    // select b from T where a = $1 order by b
    if words.len() == 11
        && words[0] == "select"
        && words[2] == "from"
        && words[4] == "where"
        && words[6] == "="
        && words[7] == "$1"
        && words[8] == "order"
        && words[9] == "by"
        && words[10] == words[1]
    {
        return Ok(Query::SelectValues(words[3].to_string()));
    }
    Err(unsupported())
}

struct Portal {
    query: Query,
    params: Vec<Option<Vec<u8>>>,
    param_formats: Vec<i16>,
    result_formats: Vec<i16>,
}

struct Conn {
    node: usize,
    shared: Arc<Shared>,
    nodes: Arc<Vec<PgNode>>,
    out: BytesMut,
    statements: HashMap<String, Query>,
    portals: HashMap<String, Portal>,
}

/// A reader over a frontend message body.
struct Body<'a>(&'a [u8]);

impl Body<'_> {
    fn cstr(&mut self) -> Result<String> {
        let end = self
            .0
            .iter()
            .position(|b| *b == 0)
            .context("unterminated string")?;
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = &self.0[end + 1..];
        Ok(s)
    }
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            bail!("short message");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn i16(&mut self) -> Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn msg(out: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    let mut b = BytesMut::new();
    body(&mut b);
    out.put_u8(tag);
    out.put_i32(b.len() as i32 + 4);
    out.extend_from_slice(&b);
}

fn cstr(b: &mut BytesMut, s: &str) {
    b.extend_from_slice(s.as_bytes());
    b.put_u8(0);
}

enum Value {
    Text(String),
    Int8(i64),
}

impl Conn {
    async fn run(&mut self, stream: TcpStream, kill: &mut watch::Receiver<u64>) -> Result<()> {
        // Answers are small and come in bursts: without this, Nagle and the client's delayed
        // ACK hold every query for tens of milliseconds.
        stream.set_nodelay(true)?;
        let (rd, mut wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        // Startup (and the SSL/GSS requests a client may send first).
        loop {
            let len = rd.read_i32().await? as usize;
            if !(8..=MAX_MESSAGE).contains(&len) {
                bail!("bad startup length {len}");
            }
            let mut body = vec![0; len - 4];
            rd.read_exact(&mut body).await?;
            let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            match code {
                80877103 | 80877104 => wr.write_all(b"N").await?,
                196608 => break,
                _ => return Ok(()),
            }
        }
        msg(&mut self.out, b'R', |b| b.put_i32(0));
        for (k, v) in [
            ("server_version", "15.0"),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
        ] {
            msg(&mut self.out, b'S', |b| {
                cstr(b, k);
                cstr(b, v);
            });
        }
        msg(&mut self.out, b'K', |b| {
            b.put_i32(std::process::id() as i32);
            b.put_i32(self.node as i32);
        });
        self.ready();
        let mut skipping = false;
        loop {
            // One write per burst of requests (a client pipelines Parse…Sync or Bind…Sync).
            if !self.out.is_empty() && rd.buffer().is_empty() {
                wr.write_all(&self.out).await?;
                self.out.clear();
            }
            let read = async {
                let tag = rd.read_u8().await?;
                let len = rd.read_i32().await? as usize;
                if !(4..=MAX_MESSAGE).contains(&len) {
                    bail!("bad message length {len}");
                }
                let mut body = vec![0; len - 4];
                rd.read_exact(&mut body).await?;
                Ok::<_, anyhow::Error>((tag, body))
            };
            let (tag, body) = tokio::select! {
                r = read => r?,
                _ = kill.changed() => return Ok(()),
            };
            if !self.alive() {
                return Ok(());
            }
            if skipping && tag != b'S' {
                continue;
            }
            skipping = false;
            let mut b = Body(&body);
            let outcome = match tag {
                b'X' => return Ok(()),
                b'Q' => {
                    let sql = b.cstr()?;
                    self.simple(&sql, kill).await;
                    Ok(())
                }
                b'P' => {
                    let name = b.cstr()?;
                    let sql = b.cstr()?;
                    parse(&sql).map(|q| {
                        self.statements.insert(name, q);
                        msg(&mut self.out, b'1', |_| {});
                    })
                }
                b'D' => {
                    let kind = b.take(1)?[0];
                    let name = b.cstr()?;
                    self.describe(kind, &name)
                }
                b'B' => self.bind(&mut b),
                b'E' => {
                    let portal = b.cstr()?;
                    self.execute_portal(&portal, kill).await
                }
                b'C' => {
                    let kind = b.take(1)?[0];
                    let name = b.cstr()?;
                    if kind == b'S' {
                        self.statements.remove(&name);
                    } else {
                        self.portals.remove(&name);
                    }
                    msg(&mut self.out, b'3', |_| {});
                    Ok(())
                }
                b'S' => {
                    self.portals.remove("");
                    self.ready();
                    Ok(())
                }
                b'H' => Ok(()),
                other => Err(SqlError(
                    "08P01",
                    format!("unexpected message type {:?}", other as char),
                )),
            };
            if let Err(SqlError(code, text)) = outcome {
                self.error(code, &text);
                skipping = true;
            }
        }
    }

    fn alive(&self) -> bool {
        self.shared.lock().up[self.node]
    }

    fn ready(&mut self) {
        msg(&mut self.out, b'Z', |b| b.put_u8(b'I'));
    }

    fn error(&mut self, code: &str, text: &str) {
        msg(&mut self.out, b'E', |b| {
            for (f, v) in [(b'S', "ERROR"), (b'V', "ERROR"), (b'C', code), (b'M', text)] {
                b.put_u8(f);
                cstr(b, v);
            }
            b.put_u8(0);
        });
    }

    fn row_description(&mut self, cols: &[(String, u32)], formats: &[i16]) {
        msg(&mut self.out, b'T', |b| {
            b.put_i16(cols.len() as i16);
            for (i, (name, oid)) in cols.iter().enumerate() {
                cstr(b, name);
                b.put_i32(0);
                b.put_i16(0);
                b.put_u32(*oid);
                b.put_i16(if *oid == INT8 { 8 } else { -1 });
                b.put_i32(-1);
                b.put_i16(format_of(formats, i));
            }
        });
    }

    fn describe(&mut self, kind: u8, name: &str) -> Result<(), SqlError> {
        let (query, formats) = if kind == b'S' {
            let q = self.statements.get(name).cloned().ok_or_else(|| {
                SqlError(
                    "26000",
                    format!("prepared statement \"{name}\" does not exist"),
                )
            })?;
            let params = q.params();
            msg(&mut self.out, b't', |b| {
                b.put_i16(params.len() as i16);
                for p in &params {
                    b.put_u32(*p);
                }
            });
            (q, Vec::new())
        } else {
            let p = self
                .portals
                .get(name)
                .ok_or_else(|| SqlError("34000", format!("portal \"{name}\" does not exist")))?;
            (p.query.clone(), p.result_formats.clone())
        };
        match query.columns() {
            Some(cols) => self.row_description(&cols, &formats),
            None => msg(&mut self.out, b'n', |_| {}),
        }
        Ok(())
    }

    fn bind(&mut self, b: &mut Body) -> Result<(), SqlError> {
        let proto = |e: anyhow::Error| SqlError("08P01", format!("{e:#}"));
        let portal = b.cstr().map_err(proto)?;
        let stmt = b.cstr().map_err(proto)?;
        let nf = b.i16().map_err(proto)?;
        let mut param_formats = Vec::new();
        for _ in 0..nf.max(0) {
            param_formats.push(b.i16().map_err(proto)?);
        }
        let np = b.i16().map_err(proto)?;
        let mut params = Vec::new();
        for _ in 0..np.max(0) {
            let len = b.i32().map_err(proto)?;
            params.push(if len < 0 {
                None
            } else {
                Some(b.take(len as usize).map_err(proto)?.to_vec())
            });
        }
        let nr = b.i16().map_err(proto)?;
        let mut result_formats = Vec::new();
        for _ in 0..nr.max(0) {
            result_formats.push(b.i16().map_err(proto)?);
        }
        let query = self.statements.get(&stmt).cloned().ok_or_else(|| {
            SqlError(
                "26000",
                format!("prepared statement \"{stmt}\" does not exist"),
            )
        })?;
        if params.len() != query.params().len() {
            return Err(SqlError(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but the statement requires {}",
                    params.len(),
                    query.params().len()
                ),
            ));
        }
        self.portals.insert(
            portal,
            Portal {
                query,
                params,
                param_formats,
                result_formats,
            },
        );
        msg(&mut self.out, b'2', |_| {});
        Ok(())
    }

    async fn execute_portal(
        &mut self,
        name: &str,
        kill: &mut watch::Receiver<u64>,
    ) -> Result<(), SqlError> {
        let p = self
            .portals
            .get(name)
            .ok_or_else(|| SqlError("34000", format!("portal \"{name}\" does not exist")))?;
        let types = p.query.params();
        let mut values = Vec::new();
        for (i, raw) in p.params.iter().enumerate() {
            let raw = raw
                .as_deref()
                .ok_or_else(|| SqlError("22004", "null values are not modelled".into()))?;
            values.push(decode(raw, types[i], format_of(&p.param_formats, i))?);
        }
        let query = p.query.clone();
        let formats = p.result_formats.clone();
        self.execute(&query, &values, &formats, kill).await
    }

    async fn simple(&mut self, sql: &str, kill: &mut watch::Receiver<u64>) {
        for stmt in sql.split(';') {
            if stmt.trim().is_empty() {
                continue;
            }
            let result = match parse(stmt) {
                Ok(q) if !q.params().is_empty() => {
                    Err(SqlError("42P02", "there is no parameter $1".to_string()))
                }
                Ok(q) => {
                    if let Some(cols) = q.columns() {
                        self.row_description(&cols, &[]);
                    }
                    self.execute(&q, &[], &[], kill).await
                }
                Err(e) => Err(e),
            };
            if let Err(SqlError(code, text)) = result {
                self.error(code, &text);
                break;
            }
        }
        if sql.trim().is_empty() {
            msg(&mut self.out, b'I', |_| {});
        }
        self.ready();
    }

    async fn execute(
        &mut self,
        q: &Query,
        params: &[Value],
        formats: &[i16],
        kill: &mut watch::Receiver<u64>,
    ) -> Result<(), SqlError> {
        let (rows, tag): (Vec<Vec<Value>>, String) = match q {
            Query::Empty => (vec![], String::new()),
            Query::Version => (
                vec![vec![Value::Text(format!(
                    "{MODELLED_VERSION_PREFIX} (PostgreSQL wire protocol 3.0; not a database)"
                ))]],
                "SELECT 1".into(),
            ),
            Query::Show(name) => {
                let s = self.shared.lock();
                let replica = &self.nodes[1 - s.primary].name;
                let value = match (name.as_str(), s.mode) {
                    ("synchronous_commit", Some(Replication::Sync)) => "remote_apply".to_string(),
                    ("synchronous_commit", _) => "local".to_string(),
                    ("synchronous_standby_names", Some(Replication::Sync)) => {
                        format!("FIRST 1 (\"{replica}\")")
                    }
                    ("synchronous_standby_names", _) => String::new(),
                    ("server_version", _) => "15.0".to_string(),
                    _ => {
                        return Err(SqlError(
                            "42704",
                            format!("unrecognized configuration parameter \"{name}\""),
                        ));
                    }
                };
                (vec![vec![Value::Text(value)]], "SHOW".into())
            }
            Query::SyncState => {
                let s = self.shared.lock();
                let who = match params.first() {
                    Some(Value::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                let r = 1 - s.primary;
                let streaming = self.node == s.primary && s.link && s.up[r];
                let rows = if streaming && self.nodes[r].name == who {
                    let state = match s.mode {
                        Some(Replication::Sync) => "sync",
                        _ => "async",
                    };
                    vec![vec![Value::Text(state.into())]]
                } else {
                    vec![]
                };
                let n = rows.len();
                (rows, format!("SELECT {n}"))
            }
            Query::CreateTable(t) => {
                let mut s = self.shared.lock();
                self.writable(&s, "CREATE TABLE")?;
                for node in 0..2 {
                    if s.up[node] {
                        s.tables[node].entry(t.clone()).or_default();
                    }
                }
                (vec![], "CREATE TABLE".into())
            }
            Query::Insert(t) => {
                let (Some(Value::Text(k)), Some(Value::Int8(v))) = (params.first(), params.get(1))
                else {
                    return Err(SqlError("42804", "expected (text, bigint)".into()));
                };
                self.insert(t, k, *v, kill).await?;
                (vec![], "INSERT 0 1".into())
            }
            Query::SelectValues(t) => {
                let s = self.shared.lock();
                let Some(Value::Text(k)) = params.first() else {
                    return Err(SqlError("42804", "expected text".into()));
                };
                let table = s.tables[self.node]
                    .get(t)
                    .ok_or_else(|| SqlError("42P01", format!("relation \"{t}\" does not exist")))?;
                let rows: Vec<Vec<Value>> = table
                    .iter()
                    .filter(|(key, _)| key == k)
                    .map(|(_, v)| vec![Value::Int8(*v)])
                    .collect();
                let n = rows.len();
                (rows, format!("SELECT {n}"))
            }
        };
        for row in &rows {
            msg(&mut self.out, b'D', |b| {
                b.put_i16(row.len() as i16);
                for (i, v) in row.iter().enumerate() {
                    let bytes = match (v, format_of(formats, i)) {
                        (Value::Text(t), _) => t.as_bytes().to_vec(),
                        (Value::Int8(n), 1) => n.to_be_bytes().to_vec(),
                        (Value::Int8(n), _) => n.to_string().into_bytes(),
                    };
                    b.put_i32(bytes.len() as i32);
                    b.extend_from_slice(&bytes);
                }
            });
        }
        if !matches!(q, Query::Empty) {
            msg(&mut self.out, b'C', |b| cstr(b, &tag));
        }
        Ok(())
    }

    fn writable(&self, s: &State, what: &str) -> Result<(), SqlError> {
        if s.primary != self.node {
            return Err(SqlError(
                "25006",
                format!("cannot execute {what} in a read-only transaction"),
            ));
        }
        Ok(())
    }

    /// Commit on the primary; synchronous: only once the replica has it too (waiting while the
    /// replica is away, as `remote_apply` does); asynchronous: shipped now if the link is up,
    /// else kept as pending (lost if the replica is promoted before the link comes back).
    async fn insert(
        &self,
        t: &str,
        k: &str,
        v: i64,
        kill: &mut watch::Receiver<u64>,
    ) -> Result<(), SqlError> {
        let row = (k.to_string(), v);
        loop {
            {
                let mut s = self.shared.lock();
                self.writable(&s, "INSERT")?;
                if !s.up[self.node] {
                    return Err(SqlError("57P01", "terminating connection".into()));
                }
                let r = 1 - self.node;
                let sync = s.mode == Some(Replication::Sync);
                if !sync || (s.link && s.up[r]) {
                    let table = s.tables[self.node].get_mut(t).ok_or_else(|| {
                        SqlError("42P01", format!("relation \"{t}\" does not exist"))
                    })?;
                    if !table.insert(row.clone()) {
                        return Err(SqlError(
                            "23505",
                            format!("duplicate key value violates unique constraint \"{t}_pkey\""),
                        ));
                    }
                    s.writes += 1;
                    s.pending.push((t.to_string(), row.0, row.1));
                    if s.link && s.up[r] {
                        ship(&mut s);
                    }
                    return Ok(());
                }
            }
            // Synchronous with the standby away: the commit waits, as remote_apply does.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = kill.changed() => {
                    return Err(SqlError("57P01", "terminating connection due to administrator command".into()));
                }
            }
        }
    }
}

fn format_of(formats: &[i16], i: usize) -> i16 {
    match formats.len() {
        0 => 0,
        1 => formats[0],
        _ => formats.get(i).copied().unwrap_or(0),
    }
}

fn decode(raw: &[u8], oid: u32, format: i16) -> Result<Value, SqlError> {
    let bad = || SqlError("22P03", "incorrect binary data format".into());
    match (oid, format) {
        (INT8, 1) => {
            let b: [u8; 8] = raw.try_into().map_err(|_| bad())?;
            Ok(Value::Int8(i64::from_be_bytes(b)))
        }
        (INT8, _) => String::from_utf8_lossy(raw)
            .trim()
            .parse()
            .map(Value::Int8)
            .map_err(|_| SqlError("22P02", "invalid input syntax for type bigint".into())),
        _ => Ok(Value::Text(String::from_utf8_lossy(raw).into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_drill_statements_and_refuses_the_rest() {
        assert!(matches!(
            parse("INSERT INTO sovtui_drill_probe (drill_id, seq) VALUES ($1, $2)"),
            Ok(Query::Insert(t)) if t == "sovtui_drill_probe"
        ));
        assert!(matches!(
            parse("SELECT seq FROM sovtui_drill_probe WHERE drill_id = $1 ORDER BY seq"),
            Ok(Query::SelectValues(t)) if t == "sovtui_drill_probe"
        ));
        assert!(matches!(
            parse("CREATE TABLE IF NOT EXISTS sovtui_drill_probe (drill_id text)"),
            Ok(Query::CreateTable(t)) if t == "sovtui_drill_probe"
        ));
        assert!(matches!(
            parse("SHOW synchronous_commit"),
            Ok(Query::Show(_))
        ));
        assert!(matches!(parse("select  version() ;"), Ok(Query::Version)));
        assert!(matches!(parse("DROP TABLE x"), Err(SqlError("0A000", _))));
    }
}
