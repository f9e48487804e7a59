//! The k3s join token of a Sovereign: 256 bits from the OS RNG, never derived from anything
//! public (a token computable from the project id and the FQDN lets anyone who can reach 6443
//! join a node to the cluster).
//!
//! Nodes need it in their cloud-init user data, which the apply sends to Hetzner. A later apply
//! that adds or re-creates a node must hand it the token the running cluster was built with, and
//! Hetzner never gives user data back, so sovtui keeps exactly one copy: `<state dir>/join-tokens/
//! <fqdn>.token`, mode 0600 in a 0700 directory, written before the first server is created.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::RngCore;

use super::inventory::Inventory;
use super::model::SovereignModel;

/// A join token. Never printed: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken(String);

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinToken(***)")
    }
}

impl JoinToken {
    /// 32 bytes from the OS RNG, hex-encoded.
    pub fn generate() -> JoinToken {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        JoinToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stored token: one line of at least 32 characters, nothing that could break out of the
    /// shell strings it lands in.
    fn parse(text: &str) -> Result<JoinToken> {
        let t = text.trim();
        if t.len() < 32 {
            bail!("shorter than 32 characters");
        }
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
        {
            bail!("only letters, digits and : - _ . are allowed");
        }
        Ok(JoinToken(t.to_string()))
    }
}

/// The token the nodes of one apply get.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeToken {
    /// Nothing loaded (a model built without one renders no user data).
    #[default]
    NotLoaded,
    Ready(JoinToken),
    /// The cluster exists but its token is not where sovtui keeps it: new nodes could not join.
    Missing {
        path: PathBuf,
    },
}

impl NodeToken {
    /// A fresh random token (a model nobody applied yet).
    pub fn fresh() -> NodeToken {
        NodeToken::Ready(JoinToken::generate())
    }

    /// The token, or why there is none, in the operator's words.
    pub fn get(&self) -> Result<&JoinToken, String> {
        match self {
            NodeToken::Ready(t) => Ok(t),
            NodeToken::NotLoaded => Err("no k3s join token was loaded for this apply".into()),
            NodeToken::Missing { path } => Err(format!(
                "the cluster exists but its k3s join token is not in {}: copy \
                 /var/lib/rancher/k3s/server/token from the first control plane into that file \
                 (mode 0600), then apply again",
                path.display()
            )),
        }
    }
}

/// Where the token of `fqdn` is kept.
pub fn path(state_dir: &Path, fqdn: &str) -> PathBuf {
    state_dir.join("join-tokens").join(format!("{fqdn}.token"))
}

/// The token an apply of `model` gives new nodes, given what the project holds:
/// * none of the model's servers exists: a fresh token, stored (replacing any earlier one, whose
///   cluster is gone) before the apply creates the first server;
/// * some exist: the stored token; when there is none, [`NodeToken::Missing`] — the apply then
///   refuses to create nodes that could not join, and says how to put the token back.
pub fn prepare(state_dir: &Path, model: &SovereignModel, inv: &Inventory) -> Result<NodeToken> {
    let exists = model
        .servers
        .iter()
        .any(|d| inv.servers.iter().any(|s| s.name == d.name));
    for_cluster(state_dir, &model.fqdn, exists)
}

/// [`prepare`] once it is known whether the cluster exists.
pub fn for_cluster(state_dir: &Path, fqdn: &str, cluster_exists: bool) -> Result<NodeToken> {
    let file = path(state_dir, fqdn);
    if cluster_exists {
        return match std::fs::read_to_string(&file) {
            Ok(text) => JoinToken::parse(&text)
                .map(NodeToken::Ready)
                .with_context(|| format!("the join token in {}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(NodeToken::Missing { path: file })
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        };
    }
    let token = JoinToken::generate();
    store(&file, &token)?;
    Ok(NodeToken::Ready(token))
}

/// Write `token` to `file` (0600, directory 0700) through a temporary file and a rename, so a
/// crash leaves the old token or the new one, never half of one.
fn store(file: &Path, token: &JoinToken) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = file.parent().context("join token path has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    let tmp = file.with_extension("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(format!("{}\n", token.expose()).as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("storing {}", file.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn tokens_are_random_256_bit_and_masked() {
        let (a, b) = (JoinToken::generate(), JoinToken::generate());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn two_sovereigns_with_the_same_inputs_get_different_tokens() {
        let (s1, s2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let fqdn = "t42.omani.works";
        let a = for_cluster(s1.path(), fqdn, false).unwrap();
        let b = for_cluster(s2.path(), fqdn, false).unwrap();
        assert_ne!(a.get().unwrap(), b.get().unwrap());
    }

    #[test]
    fn an_existing_cluster_keeps_its_token_and_the_file_is_private() {
        let state = tempfile::tempdir().unwrap();
        let fqdn = "t42.omani.works";
        let first = for_cluster(state.path(), fqdn, false).unwrap();
        let again = for_cluster(state.path(), fqdn, true).unwrap();
        assert_eq!(first, again);
        let file = path(state.path(), fqdn);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        // A cluster that is gone gets a new token; nothing uses the old one any more.
        let rebuilt = for_cluster(state.path(), fqdn, false).unwrap();
        assert_ne!(first, rebuilt);
    }

    #[test]
    fn an_existing_cluster_without_a_stored_token_is_missing_not_replaced() {
        let state = tempfile::tempdir().unwrap();
        let t = for_cluster(state.path(), "a.b.c", true).unwrap();
        let why = t.get().unwrap_err();
        assert!(why.contains("join-tokens/a.b.c.token"), "{why}");
        assert!(why.contains("/var/lib/rancher/k3s/server/token"), "{why}");
        assert!(!path(state.path(), "a.b.c").exists());
    }

    #[test]
    fn a_damaged_stored_token_is_an_error() {
        let state = tempfile::tempdir().unwrap();
        let file = path(state.path(), "a.b.c");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "short\n").unwrap();
        assert!(for_cluster(state.path(), "a.b.c", true).is_err());
        std::fs::write(&file, format!("{}\"; rm -rf /\n", "a".repeat(40))).unwrap();
        assert!(for_cluster(state.path(), "a.b.c", true).is_err());
    }
}
