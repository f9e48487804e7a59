//! Plan files: what a dry run (`recover --out`, `phase0 plan --out`) showed the operator, written
//! so that the armed run (`--plan FILE`) executes exactly that plan, by id, against the same
//! project. The checks here are the ones every plan-bound run makes before touching anything.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::Credentials;

/// A plan file larger than this is not one we wrote.
const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("plan file {path}: {message}")]
    Io { path: String, message: String },
    #[error("plan file {path} is not a {want} plan (format {found:?})")]
    Format {
        path: String,
        want: String,
        found: String,
    },
    #[error("plan file {path}: {message}")]
    Decode { path: String, message: String },
}

/// Write `doc` to `path` (0600, through a temporary file in the same directory, so a reader
/// never sees half a plan). Plans carry no secret — the token is only fingerprinted — but they
/// name a project's objects.
pub fn write(path: &Path, doc: &impl Serialize) -> Result<(), PlanFileError> {
    let io = |e: std::io::Error| PlanFileError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let text = serde_json::to_string_pretty(doc).map_err(|e| PlanFileError::Decode {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Read a plan file whose `format` field must be `format`.
pub fn read<T: DeserializeOwned>(path: &Path, format: &str) -> Result<T, PlanFileError> {
    let shown = path.display().to_string();
    let io = |message: String| PlanFileError::Io {
        path: shown.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if meta.len() > MAX_PLAN_BYTES {
        return Err(io(format!(
            "{} bytes is more than a plan file holds",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| PlanFileError::Decode {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    let found = value
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or("")
        .to_string();
    if found != format {
        return Err(PlanFileError::Format {
            path: shown,
            want: format.to_string(),
            found,
        });
    }
    serde_json::from_value(value).map_err(|e| PlanFileError::Decode {
        path: shown,
        message: e.to_string(),
    })
}

/// Why a plan may not be executed with these inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefusal {
    #[error("the plan is for {plan}, not {wanted}: nothing was touched")]
    Fqdn { plan: String, wanted: String },
    #[error(
        "the plan was made with token {plan} but this run uses token {now} ({using}): a plan \
         executes only against the project it was made for — nothing was touched"
    )]
    Token {
        plan: String,
        now: String,
        using: String,
    },
}

/// The checks of a plan-bound run: the plan's Sovereign is the one typed back, and its token
/// fingerprint is the one of the token this run would use.
pub fn check(
    plan_fqdn: &str,
    plan_fingerprint: &str,
    wanted_fqdn: &str,
    creds: &Credentials,
) -> Result<(), PlanRefusal> {
    if plan_fqdn != wanted_fqdn {
        return Err(PlanRefusal::Fqdn {
            plan: plan_fqdn.to_string(),
            wanted: wanted_fqdn.to_string(),
        });
    }
    let now = creds.fingerprint();
    if plan_fingerprint != now {
        return Err(PlanRefusal::Token {
            plan: plan_fingerprint.to_string(),
            now,
            using: creds.source.describe(),
        });
    }
    Ok(())
}
