//! The data plane behind a Sovereign's CNPG pair: a real PostgreSQL pair ([`PgPair`]) where the
//! server binaries are installed, else the modelled pair ([`ModelPair`]), which speaks the same
//! wire protocol to the drill's clients. One home for choosing and starting it, used by the demo,
//! `sovtui sim` and the tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};

use super::pgmodel::ModelPair;
use super::pgpair::{PgNode, PgPair, Replication, find_pg_bin};

/// Which data plane to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataPlaneKind {
    /// Two real PostgreSQL servers.
    Postgres,
    /// The modelled pair (no database; same wire protocol and replication semantics).
    Modelled,
}

impl DataPlaneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataPlaneKind::Postgres => "postgres",
            DataPlaneKind::Modelled => "modelled",
        }
    }

    /// `postgres` or `modelled`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "postgres" | "postgresql" => Ok(DataPlaneKind::Postgres),
            "modelled" | "modeled" | "model" => Ok(DataPlaneKind::Modelled),
            other => bail!("--data-plane {other:?}: expected postgres or modelled"),
        }
    }

    /// The default: PostgreSQL when its server binaries are found, else modelled.
    pub fn detect() -> Self {
        if find_pg_bin().is_some() {
            DataPlaneKind::Postgres
        } else {
            DataPlaneKind::Modelled
        }
    }

    /// `explicit` if given (refusing postgres without its binaries), else [`detect`](Self::detect).
    pub fn choose(explicit: Option<&str>) -> Result<Self> {
        match explicit {
            None => Ok(Self::detect()),
            Some(s) => {
                let kind = Self::parse(s)?;
                if kind == DataPlaneKind::Postgres && find_pg_bin().is_none() {
                    bail!(
                        "--data-plane postgres: PostgreSQL server binaries not found (on PATH, in /usr/lib/postgresql/*/bin or $SOVTUI_PG_BIN); install the distribution's postgresql package or use --data-plane modelled"
                    );
                }
                Ok(kind)
            }
        }
    }
}

/// A running pair of either kind; dropping it stops it.
#[derive(Debug)]
pub enum DataPlane {
    Postgres(PgPair),
    Modelled(ModelPair),
}

macro_rules! both {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            DataPlane::Postgres($p) => $e,
            DataPlane::Modelled($p) => $e,
        }
    };
}

impl DataPlane {
    /// Start a pair of `kind` in `base` (which must not exist yet), nodes named `names`.
    pub async fn start(
        kind: DataPlaneKind,
        base: &Path,
        names: [&str; 2],
        replication: Replication,
    ) -> Result<Self> {
        Ok(match kind {
            DataPlaneKind::Postgres => {
                DataPlane::Postgres(PgPair::start(base, names, replication).await?)
            }
            DataPlaneKind::Modelled => {
                DataPlane::Modelled(ModelPair::start(base, names, replication).await?)
            }
        })
    }

    pub fn kind(&self) -> DataPlaneKind {
        match self {
            DataPlane::Postgres(_) => DataPlaneKind::Postgres,
            DataPlane::Modelled(_) => DataPlaneKind::Modelled,
        }
    }

    pub fn replication(&self) -> Replication {
        both!(self, p => p.replication())
    }
    pub fn primary(&self) -> &PgNode {
        both!(self, p => p.primary())
    }
    pub fn replica(&self) -> &PgNode {
        both!(self, p => p.replica())
    }
    pub fn degrade_before_kill(&mut self, wal_bytes: Option<u64>) {
        both!(self, p => p.degrade_before_kill(wal_bytes))
    }
    pub async fn wait_streaming(&self, deadline: Duration) -> Result<()> {
        both!(self, p => p.wait_streaming(deadline).await)
    }
    pub async fn degrade_to_async(&self) -> Result<()> {
        both!(self, p => p.degrade_to_async().await)
    }
    pub async fn pause_replication(&self) -> Result<()> {
        both!(self, p => p.pause_replication().await)
    }
    pub async fn kill_primary(&self) -> Result<()> {
        both!(self, p => p.kill_primary().await)
    }
    pub async fn promote_replica(&mut self) -> Result<()> {
        both!(self, p => p.promote_replica().await)
    }
    pub async fn rejoin_old_primary(&self) -> Result<()> {
        both!(self, p => p.rejoin_old_primary().await)
    }
    pub async fn switchover(&mut self) -> Result<()> {
        both!(self, p => p.switchover().await)
    }
}

/// The shared handle the simulated operator drives.
pub type SharedDataPlane = Arc<tokio::sync::Mutex<DataPlane>>;

/// Where a pair of `kind` keeps its files: `preferred` (the demo's own state dir), except for
/// PostgreSQL run as root: the servers then run as the `postgres` user, who cannot enter root's
/// private (0700) state dir, so the pair lives in a fresh directory under the system temp dir.
pub fn files_dir(kind: DataPlaneKind, preferred: &Path) -> std::path::PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() == 0 };
    if kind == DataPlaneKind::Postgres && root {
        std::env::temp_dir().join(format!(
            "sovtui-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
    } else {
        preferred.to_path_buf()
    }
}
