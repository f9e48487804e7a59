//! Cloud-init user data rendered from the template files under fixtures/cloudinit/ (contract §5.4).
//! Placeholders are `{{name}}`; rendering fails on any placeholder left without a value so a
//! typo can never ship a half-rendered script to a server.

use std::collections::BTreeMap;

use base64::Engine;
use sha2::{Digest, Sha256};

pub const CONTROL_PLANE_TEMPLATE: &str =
    include_str!("../../../../fixtures/cloudinit/control-plane.yaml.tmpl");
pub const WORKER_TEMPLATE: &str = include_str!("../../../../fixtures/cloudinit/worker.yaml.tmpl");

/// The first control-plane's private IP: the join address of every other node.
pub const FIRST_CP_IP: &str = "10.0.1.2";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("template placeholder {{{{{0}}}}} has no value")]
    Unbound(String),
    #[error("template placeholder opened at byte {0} is never closed")]
    Unclosed(usize),
    #[error("value for {name} must be a single line without quotes or backslashes")]
    UnsafeValue { name: String },
}

/// Substitute `{{name}}` placeholders. Every placeholder must have a value.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(RenderError::Unclosed(offset + start))?;
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| RenderError::Unbound(name.to_string()))?;
        out.push_str(value);
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Values that land inside shell strings and YAML scalars: refuse anything that could break out.
fn safe(name: &str, value: &str) -> Result<String, RenderError> {
    if value.chars().any(|c| {
        c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '\\' || c == '`' || c == '$'
    }) {
        return Err(RenderError::UnsafeValue {
            name: name.to_string(),
        });
    }
    Ok(value.to_string())
}

/// k3s join token = sha256(`<project_id>/<fqdn>/k3s-bootstrap`) (contract §5.3).
pub fn k3s_token(project_id: &str, fqdn: &str) -> String {
    let digest = Sha256::digest(format!("{project_id}/{fqdn}/k3s-bootstrap").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `kubernetes.io/dockerconfigjson` payload for ghcr.io, user `openova-bot`, base64 for `data:`.
pub fn ghcr_dockerconfigjson_b64(token: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let auth = b64.encode(format!("openova-bot:{token}"));
    let json = serde_json::json!({
        "auths": {"ghcr.io": {"username": "openova-bot", "password": token, "auth": auth}}
    });
    b64.encode(json.to_string())
}

/// Everything a node's user data depends on besides its own name and IP.
#[derive(Clone, Default)]
pub struct CloudInitInputs {
    pub fqdn: String,
    pub subdomain: String,
    pub org_name: String,
    pub region: String,
    pub ha_enabled: bool,
    pub worker_count: u32,
    pub project_id: String,
    pub k3s_version: String,
    pub gitops_repo_url: String,
    pub gitops_branch: String,
    pub ghcr_pull_token: String,
    pub enable_fail2ban: bool,
    pub enable_unattended_upgrades: bool,
    /// Kubeconfig postback; all three must be set or the step is skipped (§5.4 step 6).
    pub deployment_id: String,
    pub kubeconfig_bearer_token: String,
    pub catalyst_api_url: String,
}

impl std::fmt::Debug for CloudInitInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudInitInputs")
            .field("fqdn", &self.fqdn)
            .field("k3s_version", &self.k3s_version)
            .field("gitops_repo_url", &self.gitops_repo_url)
            .finish_non_exhaustive()
    }
}

impl CloudInitInputs {
    fn common(
        &self,
        server_name: &str,
        private_ip: &str,
    ) -> Result<BTreeMap<&'static str, String>, RenderError> {
        let mut v = BTreeMap::new();
        v.insert("fqdn", safe("fqdn", &self.fqdn)?);
        v.insert("server_name", safe("server_name", server_name)?);
        v.insert("private_ip", safe("private_ip", private_ip)?);
        v.insert("k3s_version", safe("k3s_version", &self.k3s_version)?);
        v.insert("k3s_token", k3s_token(&self.project_id, &self.fqdn));
        Ok(v)
    }

    /// User data of control-plane `index` (1-based); the first one bootstraps the cluster.
    pub fn control_plane(
        &self,
        index: u32,
        server_name: &str,
        private_ip: &str,
        load_balancer_ip: &str,
    ) -> Result<String, RenderError> {
        let mut v = self.common(server_name, private_ip)?;
        let sovereign = serde_json::json!({
            "fqdn": self.fqdn, "subdomain": self.subdomain, "org": self.org_name,
            "region": self.region, "haEnabled": self.ha_enabled, "workerCount": self.worker_count,
            "k3sVersion": self.k3s_version, "gitopsRepoUrl": self.gitops_repo_url,
            "gitopsBranch": self.gitops_branch,
        });
        v.insert("sovereign_json", sovereign.to_string());
        v.insert("bootstrap", (index == 1).to_string());
        v.insert(
            "k3s_cluster_args",
            if index == 1 {
                "--cluster-init".to_string()
            } else {
                format!("--server https://{FIRST_CP_IP}:6443")
            },
        );
        let mut pkgs = String::new();
        let mut cmds = String::new();
        if self.enable_fail2ban {
            pkgs.push_str("  - fail2ban\n");
            cmds.push_str("  - systemctl enable --now fail2ban\n");
        }
        if self.enable_unattended_upgrades {
            pkgs.push_str("  - unattended-upgrades\n  - apt-listchanges\n");
            cmds.push_str("  - systemctl enable --now unattended-upgrades\n");
        }
        v.insert("hardening_packages", pkgs.trim_end().to_string());
        v.insert("hardening_runcmd", cmds.trim_end().to_string());
        v.insert("fail2ban", self.enable_fail2ban.to_string());
        v.insert(
            "unattended_upgrades",
            u8::from(self.enable_unattended_upgrades).to_string(),
        );
        v.insert(
            "ghcr_dockerconfigjson_b64",
            ghcr_dockerconfigjson_b64(&self.ghcr_pull_token),
        );
        v.insert(
            "gitops_repo_url",
            safe("gitops_repo_url", &self.gitops_repo_url)?,
        );
        v.insert("gitops_branch", safe("gitops_branch", &self.gitops_branch)?);
        let postback = !self.deployment_id.is_empty()
            && !self.kubeconfig_bearer_token.is_empty()
            && !self.catalyst_api_url.is_empty();
        v.insert("postback_enabled", postback.to_string());
        v.insert(
            "load_balancer_ip",
            safe("load_balancer_ip", load_balancer_ip)?,
        );
        v.insert(
            "kubeconfig_bearer_token",
            safe("kubeconfig_bearer_token", &self.kubeconfig_bearer_token)?,
        );
        v.insert(
            "catalyst_api_url",
            safe(
                "catalyst_api_url",
                self.catalyst_api_url.trim_end_matches('/'),
            )?,
        );
        v.insert("deployment_id", safe("deployment_id", &self.deployment_id)?);
        render(CONTROL_PLANE_TEMPLATE, &v)
    }

    pub fn worker(&self, server_name: &str, private_ip: &str) -> Result<String, RenderError> {
        let v = self.common(server_name, private_ip)?;
        render(WORKER_TEMPLATE, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> CloudInitInputs {
        CloudInitInputs {
            fqdn: "t42.omani.works".into(),
            subdomain: "t42".into(),
            org_name: "Acme \"Quoted\" Financial".into(),
            region: "fsn1".into(),
            project_id: "proj_abc123".into(),
            k3s_version: "v1.31.4+k3s1".into(),
            gitops_repo_url: "https://github.com/openova-io/openova".into(),
            gitops_branch: "main".into(),
            ghcr_pull_token: "ghp_secret".into(),
            enable_fail2ban: true,
            enable_unattended_upgrades: true,
            ..Default::default()
        }
    }

    #[test]
    fn control_plane_follows_the_contract_order() {
        let ud = inputs()
            .control_plane(1, "catalyst-t42-omani-works-cp1", "10.0.1.2", "203.0.113.9")
            .expect("render");
        assert!(!ud.contains("{{"), "unrendered placeholder");
        let pos = |needle: &str| {
            ud.find(needle)
                .unwrap_or_else(|| panic!("missing {needle}"))
        };
        assert!(pos("INSTALL_K3S_VERSION=v1.31.4+k3s1") < pos("helm install cilium"));
        assert!(pos("helm install cilium") < pos("flux2/releases/download/v2.4.0/install.yaml"));
        assert!(
            pos("install.yaml") < pos("kubectl apply -f /var/lib/catalyst/ghcr-pull-secret.yaml")
        );
        assert!(
            pos(
                "ghcr-pull-secret.yaml\n      kubectl apply -f /var/lib/catalyst/flux-bootstrap.yaml"
            ) > 0
        );
        for flag in [
            "--cluster-init",
            "--flannel-backend=none",
            "--disable-network-policy",
            "--disable=traefik",
            "--disable=servicelb",
            "--tls-san=t42.omani.works",
            "--write-kubeconfig-mode=0644",
        ] {
            assert!(ud.contains(flag), "missing {flag}");
        }
        assert!(!ud.contains("--disable=local-storage"));
        assert!(ud.contains("name: bootstrap-kit"));
        assert!(ud.contains("name: infrastructure-config"));
        assert!(ud.contains("kind: GitRepository\n      metadata:\n        name: openova"));
        assert!(ud.contains("type: kubernetes.io/dockerconfigjson"));
        assert!(
            ud.contains("if [ \"false\" = \"true\" ]"),
            "postback must be off"
        );
        // The org name with quotes is JSON-escaped into sovereign.json, not spliced raw.
        assert!(ud.contains(r#"Acme \"Quoted\" Financial"#));
        // The cloud-config must be valid YAML.
        let doc: serde_yaml::Value = serde_yaml::from_str(&ud).expect("yaml");
        assert!(doc.get("write_files").is_some());
    }

    #[test]
    fn joiners_and_workers_join_the_first_control_plane() {
        let i = inputs();
        let cp2 = i
            .control_plane(2, "catalyst-t42-omani-works-cp2", "10.0.1.3", "203.0.113.9")
            .expect("render");
        assert!(cp2.contains("--server https://10.0.1.2:6443"));
        assert!(!cp2.contains("--cluster-init"));
        let w = i
            .worker("catalyst-t42-omani-works-w1", "10.0.1.10")
            .expect("render");
        assert!(w.contains("K3S_URL=https://10.0.1.2:6443"));
        assert!(w.contains(&k3s_token("proj_abc123", "t42.omani.works")));
        serde_yaml::from_str::<serde_yaml::Value>(&w).expect("yaml");
    }

    #[test]
    fn postback_only_when_all_three_values_are_set() {
        let mut i = inputs();
        i.deployment_id = "0123456789abcdef".into();
        i.kubeconfig_bearer_token = "ab".repeat(32);
        i.catalyst_api_url = "https://console.openova.io/sovereign/".into();
        let ud = i
            .control_plane(1, "n", "10.0.1.2", "203.0.113.9")
            .expect("render");
        assert!(ud.contains("if [ \"true\" = \"true\" ]"));
        assert!(ud.contains(
            "https://console.openova.io/sovereign/api/v1/deployments/0123456789abcdef/kubeconfig"
        ));
        assert!(ud.contains("https://203.0.113.9:6443"));
    }

    #[test]
    fn render_refuses_unbound_and_unsafe() {
        let vars = BTreeMap::from([("a", "1".to_string())]);
        assert_eq!(render("x{{a}}y", &vars).expect("ok"), "x1y");
        assert_eq!(
            render("{{a}}{{b}}", &vars),
            Err(RenderError::Unbound("b".into()))
        );
        assert!(matches!(
            render("{{a", &vars),
            Err(RenderError::Unclosed(0))
        ));
        let mut i = inputs();
        i.gitops_branch = "main\"; rm -rf /".into();
        assert!(matches!(
            i.control_plane(1, "n", "10.0.1.2", "1.2.3.4"),
            Err(RenderError::UnsafeValue { .. })
        ));
    }

    #[test]
    fn k3s_token_is_the_documented_digest() {
        let t = k3s_token("p", "a.b");
        assert_eq!(t.len(), 64);
        assert_eq!(t, k3s_token("p", "a.b"));
        assert_ne!(t, k3s_token("q", "a.b"));
    }
}
