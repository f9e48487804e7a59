//! Which data plane a drill writes to, told by asking the server itself (`SELECT version()`)
//! through the same client the probe uses: `postgres` (a real PostgreSQL), `modelled` (the
//! simulated world's model, which says so in its version) or `simulated` (no DSN published: no
//! rows at all). The label is journaled with the plan and shown wherever the drill is shown.

use anyhow::{Context, Result};

use crate::provision::wire::dataplane::MODELLED_VERSION_PREFIX;

pub const POSTGRES: &str = "postgres";
pub const MODELLED: &str = "modelled";
pub const SIMULATED: &str = "simulated";

/// Whether a drill on this data plane writes and verifies rows.
pub fn writes_rows(label: &str) -> bool {
    label == POSTGRES || label == MODELLED
}

/// What the operator reads next to the label.
pub fn describe(label: &str) -> &'static str {
    match label {
        POSTGRES => "PostgreSQL: real rows through the write probe",
        MODELLED => {
            "MODELLED — no PostgreSQL installed: the simulated world's model of the pair answers the probe over the PostgreSQL wire protocol (acknowledged writes, sync/async replication, loss on an async cut); rows and RPO are the model's"
        }
        _ => "no Postgres behind the primary: no rows are written or verified",
    }
}

/// Ask the server at `dsn` what it is.
pub async fn identify(dsn: &str) -> Result<&'static str> {
    let ask = async {
        let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
            .await
            .context("connecting the primary")?;
        let conn = tokio::spawn(conn);
        let version: String = client
            .query_one("SELECT version()", &[])
            .await
            .context("SELECT version()")?
            .try_get(0)
            .context("reading version()")?;
        drop(client);
        conn.abort();
        Ok::<_, anyhow::Error>(if version.starts_with(MODELLED_VERSION_PREFIX) {
            MODELLED
        } else {
            POSTGRES
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(15), ask)
        .await
        .map_err(|_| anyhow::anyhow!("the primary did not say what it is within 15 s"))?
}

/// The label of the data plane behind `cluster` (its published DSN, asked).
pub async fn of_cluster(kube: &kube::Client, ns: &str, cluster: &str) -> Result<&'static str> {
    match super::run::cluster_dsn(kube, ns, cluster).await? {
        Some(dsn) => identify(&dsn).await,
        None => Ok(SIMULATED),
    }
}
