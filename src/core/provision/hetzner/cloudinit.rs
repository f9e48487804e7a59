//! Cloud-init user data rendered from the template files under fixtures/cloudinit/ (contract §5.4).
//! Placeholders are `{{name}}`; rendering fails on any placeholder left without a value so a
//! typo can never ship a half-rendered script to a server.

use std::collections::BTreeMap;

use base64::Engine;

use super::join_token::NodeToken;

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
    #[error("{0}")]
    NoJoinToken(String),
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

/// The pull secret Flux's HelmRepository names (`secretRef: ghcr-pull`). One home: the rendered
/// cloud-init creates it from these, and the troubleshooting leaf C9 re-creates it with
/// [`ghcr_pull_secret_command`], so a hand-made secret is the very type the cluster expects.
pub const GHCR_PULL_SECRET_NAMESPACE: &str = "flux-system";
pub const GHCR_PULL_SECRET_NAME: &str = "ghcr-pull";
pub const GHCR_PULL_SECRET_TYPE: &str = "kubernetes.io/dockerconfigjson";
pub const GHCR_REGISTRY: &str = "ghcr.io";
pub const GHCR_USER: &str = "openova-bot";

/// `kubernetes.io/dockerconfigjson` payload for ghcr.io, user `openova-bot`, base64 for `data:`.
pub fn ghcr_dockerconfigjson_b64(token: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let auth = b64.encode(format!("{GHCR_USER}:{token}"));
    let json = serde_json::json!({
        "auths": {GHCR_REGISTRY: {"username": GHCR_USER, "password": token, "auth": auth}}
    });
    b64.encode(json.to_string())
}

/// The kubectl command that creates the same secret by hand (`token` as typed, e.g. a
/// placeholder `<GHCR token>`): `create secret docker-registry` makes a
/// `kubernetes.io/dockerconfigjson` secret with the same server and user.
pub fn ghcr_pull_secret_command(token: &str) -> String {
    format!(
        "kubectl -n {GHCR_PULL_SECRET_NAMESPACE} create secret docker-registry {GHCR_PULL_SECRET_NAME} \
         --docker-server={GHCR_REGISTRY} --docker-username={GHCR_USER} --docker-password={token}"
    )
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
    /// The k3s join token every node of the cluster shares: random, never derived (see
    /// [`super::join_token`]).
    pub join_token: NodeToken,
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
        let token = self.join_token.get().map_err(RenderError::NoJoinToken)?;
        v.insert("k3s_token", safe("k3s_token", token.expose())?);
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
        v.insert("ghcr_secret_namespace", GHCR_PULL_SECRET_NAMESPACE.into());
        v.insert("ghcr_secret_name", GHCR_PULL_SECRET_NAME.into());
        v.insert("ghcr_secret_type", GHCR_PULL_SECRET_TYPE.into());
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
            join_token: NodeToken::fresh(),
            enable_fail2ban: true,
            enable_unattended_upgrades: true,
            ..Default::default()
        }
    }

    /// The secret manifest cloud-init writes, read back from the rendered user data.
    fn rendered_pull_secret(user_data: &str) -> serde_yaml::Value {
        let doc: serde_yaml::Value = serde_yaml::from_str(user_data).expect("user data is YAML");
        let files = doc["write_files"].as_sequence().expect("write_files");
        let file = files
            .iter()
            .find(|f| f["path"].as_str() == Some("/var/lib/catalyst/ghcr-pull-secret.yaml"))
            .expect("the pull secret file");
        serde_yaml::from_str(file["content"].as_str().expect("content")).expect("a manifest")
    }

    /// Issue 15: the C9 remedy made a `generic` secret with a `token` key while cloud-init makes
    /// a `kubernetes.io/dockerconfigjson`; both now take name, namespace and type from here.
    #[test]
    fn the_c9_command_and_cloud_init_make_the_same_secret() {
        let ud = inputs()
            .control_plane(1, "catalyst-t42-omani-works-cp1", "10.0.1.2", "203.0.113.9")
            .expect("render");
        let secret = rendered_pull_secret(&ud);
        assert_eq!(secret["kind"].as_str(), Some("Secret"));
        assert_eq!(secret["type"].as_str(), Some(GHCR_PULL_SECRET_TYPE));
        assert_eq!(
            secret["metadata"]["name"].as_str(),
            Some(GHCR_PULL_SECRET_NAME)
        );
        assert_eq!(
            secret["metadata"]["namespace"].as_str(),
            Some(GHCR_PULL_SECRET_NAMESPACE)
        );
        let payload = secret["data"][".dockerconfigjson"].as_str().expect("key");
        assert_eq!(payload, ghcr_dockerconfigjson_b64("ghp_secret"));
        let cmd = ghcr_pull_secret_command("T");
        assert!(
            cmd.starts_with("kubectl -n flux-system create secret docker-registry ghcr-pull "),
            "{cmd}"
        );
        for flag in [
            "--docker-server=ghcr.io",
            "--docker-username=openova-bot",
            "--docker-password=T",
        ] {
            assert!(cmd.contains(flag), "{cmd}");
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
        let token = i.join_token.get().expect("token").expose().to_string();
        assert!(w.contains(&token) && cp2.contains(&token));
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
    fn the_join_token_is_random_per_model_and_shared_by_its_nodes() {
        // Same inputs, two Sovereigns (or two projects): nothing public decides the token.
        let (a, b) = (inputs(), inputs());
        let ta = a.join_token.get().expect("token").expose().to_string();
        let tb = b.join_token.get().expect("token").expose().to_string();
        assert_ne!(ta, tb);
        assert!(!ta.contains("proj_abc123") && ta.len() == 64);
        let cp1 = a
            .control_plane(1, "n1", "10.0.1.2", "203.0.113.9")
            .expect("render");
        let w1 = a.worker("w1", "10.0.1.10").expect("render");
        assert!(cp1.contains(&ta) && w1.contains(&ta));
        assert!(!cp1.contains(&tb));
    }

    #[test]
    fn no_user_data_without_a_join_token() {
        let mut i = inputs();
        i.join_token = NodeToken::Missing {
            path: "/state/join-tokens/t42.omani.works.token".into(),
        };
        let err = i.worker("w1", "10.0.1.10").expect_err("refused");
        assert!(
            err.to_string()
                .contains("join-tokens/t42.omani.works.token"),
            "{err}"
        );
        i.join_token = NodeToken::NotLoaded;
        assert!(matches!(
            i.control_plane(1, "n", "10.0.1.2", "1.2.3.4"),
            Err(RenderError::NoJoinToken(_))
        ));
    }
}
