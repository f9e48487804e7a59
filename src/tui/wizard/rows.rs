//! The rows of each wizard step: what the cursor moves over and what Enter/Space/←→ do to it.
//! Computed from the wizard on every use, so they always follow its cascades and defaults.

use crate::provision::wizard::components::COMPONENTS;
use crate::provision::wizard::fields::{COMPLIANCE_FRAMES, INDUSTRIES, ORG_SIZES};
use crate::provision::wizard::{DomainMode, Provider, Registrar, SshMode, Step, Topology, Wizard};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceId {
    Industry,
    OrgSize,
    Compliance(&'static str),
    Topology,
    RowProvider(usize),
    RowRegion(usize),
    RowCpSize(usize),
    RowWorkerSize(usize),
    RowWorkerCount(usize),
    SshMode,
    DomainMode,
    Pool,
    Registrar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToggleId {
    Airgap,
    Ha,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionId {
    Next,
    DemoToken(Provider),
    /// The demo: the simulated world's Hetzner token and project.
    WorldHetzner,
    GenerateKey,
    SaveKey,
    Provision,
    /// Run the Review step's pre-flight again.
    Preflight,
}

/// One line of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A text input bound to a wizard field by its wire name (errors use the same key).
    Text {
        field: String,
        label: String,
        value: String,
        secret: bool,
        status: Option<String>,
    },
    Choice {
        choice: ChoiceId,
        label: String,
        value: String,
        field: String,
    },
    Toggle {
        toggle: ToggleId,
        label: String,
        on: bool,
    },
    Component {
        id: &'static str,
        selected: bool,
        detail: String,
    },
    Action {
        action: ActionId,
        label: String,
        /// Why it cannot run now.
        disabled: Option<String>,
    },
    Info {
        label: String,
        value: String,
    },
}

fn text(field: &str, label: &str, value: String, secret: bool, status: Option<String>) -> Row {
    Row::Text {
        field: field.into(),
        label: label.into(),
        value,
        secret,
        status,
    }
}

fn choice(choice: ChoiceId, label: &str, value: String, field: &str) -> Row {
    Row::Choice {
        choice,
        label: label.into(),
        value,
        field: field.into(),
    }
}

/// The rows of the wizard's current step.
pub fn rows(w: &Wizard, private_key_path: &str) -> Vec<Row> {
    let mut v = Vec::new();
    match w.step() {
        Step::Org => {
            v.push(text(
                "orgName",
                "Organisation",
                w.org().name.clone(),
                false,
                None,
            ));
            v.push(text(
                "orgHeadquarters",
                "Headquarters",
                w.org().headquarters.clone(),
                false,
                None,
            ));
            v.push(choice(
                ChoiceId::Industry,
                "Industry",
                w.org().industry.clone(),
                "orgIndustry",
            ));
            v.push(choice(
                ChoiceId::OrgSize,
                "Size",
                w.org().size.clone(),
                "orgSize",
            ));
            for f in COMPLIANCE_FRAMES {
                v.push(choice(
                    ChoiceId::Compliance(f),
                    &format!("Compliance {f}"),
                    if w.org().compliance.contains(f) {
                        "[x]".into()
                    } else {
                        "[ ]".into()
                    },
                    "compliance",
                ));
            }
        }
        Step::Topology => {
            v.push(choice(
                ChoiceId::Topology,
                "Topology",
                w.topology().map_or("(none)".into(), |t| {
                    format!(
                        "{} ({} regions{})",
                        t.id(),
                        t.region_count(),
                        if t.recommended() { ", recommended" } else { "" }
                    )
                }),
                "topology",
            ));
            v.push(Row::Toggle {
                toggle: ToggleId::Airgap,
                label: "Air-gap region".into(),
                on: w.airgap(),
            });
            v.push(Row::Toggle {
                toggle: ToggleId::Ha,
                label: "HA control plane (3 CPs)".into(),
                on: w.ha_enabled(),
            });
        }
        Step::Provider => {
            for (i, r) in w.regions().iter().enumerate() {
                let price = |id: &str| {
                    r.provider.sku(id).map_or(String::new(), |s| {
                        format!(
                            "  {} vCPU {} GB  €{:.4}/h €{:.2}/mo",
                            s.vcpu, s.ram_gb, s.eur_hour, s.eur_month
                        )
                    })
                };
                let n = i + 1;
                v.push(choice(
                    ChoiceId::RowProvider(i),
                    &format!("Region {n} provider"),
                    r.provider.label().into(),
                    &format!("regions[{i}].provider"),
                ));
                v.push(choice(
                    ChoiceId::RowRegion(i),
                    &format!("Region {n} location"),
                    r.cloud_region.clone(),
                    &format!("regions[{i}].cloudRegion"),
                ));
                v.push(choice(
                    ChoiceId::RowCpSize(i),
                    &format!("Region {n} control plane"),
                    format!("{}{}", r.control_plane_size, price(&r.control_plane_size)),
                    &format!("regions[{i}].controlPlaneSize"),
                ));
                v.push(choice(
                    ChoiceId::RowWorkerSize(i),
                    &format!("Region {n} worker size"),
                    format!("{}{}", r.worker_size, price(&r.worker_size)),
                    &format!("regions[{i}].workerSize"),
                ));
                v.push(choice(
                    ChoiceId::RowWorkerCount(i),
                    &format!("Region {n} workers"),
                    r.worker_count.to_string(),
                    &format!("regions[{i}].workerCount"),
                ));
            }
            let c = w.cost();
            v.push(Row::Info {
                label: "Estimated cost".into(),
                value: format!("€{:.4}/h (€{:.2}/mo)", c.eur_hour, c.eur_month),
            });
        }
        Step::Credentials => {
            for p in w.token_providers() {
                let field = if p == Provider::Hetzner {
                    "hetznerToken".to_string()
                } else {
                    format!("tokens.{}", p.as_str())
                };
                v.push(text(
                    &field,
                    &format!("{} token", p.label()),
                    w.token_masked(p),
                    true,
                    Some(w.token_status(p).describe()),
                ));
                if p != Provider::Hetzner {
                    v.push(Row::Action {
                        action: ActionId::DemoToken(p),
                        label: format!("use the demo token for {}", p.label()),
                        disabled: None,
                    });
                }
            }
            v.push(text(
                "hetznerProjectID",
                "Hetzner project id",
                w.hetzner_project_id().to_string(),
                false,
                None,
            ));
            v.push(choice(
                ChoiceId::SshMode,
                "SSH key",
                match w.ssh().mode {
                    SshMode::Generate => "generate through catalyst-api".into(),
                    SshMode::Paste => "paste a public key".into(),
                },
                "sshPublicKey",
            ));
            match w.ssh().mode {
                SshMode::Generate => {
                    let status = if w.ssh_key_generating() {
                        "generating…".to_string()
                    } else if let Some(e) = &w.ssh().generate_error {
                        format!("failed — {e}")
                    } else if let Some(fp) = &w.ssh().fingerprint {
                        fp.clone()
                    } else {
                        "no key yet".into()
                    };
                    v.push(Row::Action {
                        action: ActionId::GenerateKey,
                        label: format!("generate an Ed25519 key pair ({status})"),
                        disabled: w.ssh_key_generating().then(|| "in flight".into()),
                    });
                    v.push(text(
                        "sshPrivateKeyPath",
                        "Private key file",
                        private_key_path.to_string(),
                        false,
                        None,
                    ));
                    v.push(Row::Action {
                        action: ActionId::SaveKey,
                        label: match &w.ssh().private_saved_to {
                            Some(p) => format!("private key saved to {}", p.display()),
                            None => "write the private key there (0600, never shown)".into(),
                        },
                        disabled: (!w.ssh().private_key_pending())
                            .then(|| "no unsaved private key".into()),
                    });
                }
                SshMode::Paste => v.push(text(
                    "sshPublicKey",
                    "SSH public key",
                    w.ssh().pasted.clone(),
                    false,
                    None,
                )),
            }
        }
        Step::Components => {
            for c in COMPONENTS {
                let deps = if c.deps.is_empty() {
                    String::new()
                } else {
                    format!("  needs {}", c.deps.join(", "))
                };
                v.push(Row::Component {
                    id: c.id,
                    selected: w.selection().contains(c.id),
                    detail: format!("{:<11} {:<12}{deps}", c.tier.as_str(), c.family),
                });
            }
        }
        Step::Domain => {
            v.push(choice(
                ChoiceId::DomainMode,
                "Domain mode",
                w.domain().mode.as_str().into(),
                "sovereignDomainMode",
            ));
            match w.domain().mode {
                DomainMode::Pool => {
                    v.push(choice(
                        ChoiceId::Pool,
                        "Pool domain",
                        w.pool_apex(),
                        "sovereignPoolDomain",
                    ));
                    v.push(text(
                        "sovereignSubdomain",
                        "Subdomain",
                        w.domain().subdomain.clone(),
                        false,
                        Some(w.availability().describe()),
                    ));
                }
                DomainMode::ByoManual | DomainMode::ByoApi => {
                    v.push(text(
                        "sovereignFQDN",
                        "Your domain",
                        w.domain().byo_domain.clone(),
                        false,
                        None,
                    ));
                    if w.domain().mode == DomainMode::ByoApi {
                        v.push(choice(
                            ChoiceId::Registrar,
                            "Registrar",
                            w.domain()
                                .registrar
                                .map_or("(pick one)".into(), |r| r.to_string()),
                            "registrarType",
                        ));
                        v.push(text(
                            "registrarToken",
                            "Registrar token",
                            w.registrar_token_masked(),
                            true,
                            Some(w.registrar_status().describe()),
                        ));
                    }
                }
            }
            v.push(text(
                "orgEmail",
                "Admin e-mail",
                w.domain().admin_email.clone(),
                false,
                None,
            ));
        }
        Step::Review => {
            for s in w.review() {
                for r in s.rows {
                    v.push(Row::Info {
                        label: r.label,
                        value: r.value,
                    });
                }
            }
            v.push(Row::Action {
                action: ActionId::Provision,
                label: format!("Provision (€{:.4}/h)", w.cost().eur_hour),
                disabled: w.can_advance(Step::Review).err().map(|r| r.to_string()),
            });
            return v;
        }
    }
    v.push(Row::Action {
        action: ActionId::Next,
        label: "Next ▸".into(),
        disabled: w.can_advance(w.step()).err().map(|r| r.to_string()),
    });
    v
}

fn step_in<T: Copy + PartialEq>(all: &[T], cur: Option<T>, delta: i64) -> Option<T> {
    if all.is_empty() {
        return None;
    }
    let n = all.len() as i64;
    let i = cur
        .and_then(|c| all.iter().position(|x| *x == c))
        .map_or(if delta < 0 { 0 } else { -1 }, |i| i as i64);
    all.get((i + delta).rem_euclid(n) as usize).copied()
}

/// ←/→ on a choice row.
pub fn cycle(w: &mut Wizard, c: &ChoiceId, delta: i64) -> Result<(), String> {
    let e = |e: crate::provision::wizard::WizardError| e.to_string();
    match *c {
        ChoiceId::Industry => {
            let cur = INDUSTRIES.iter().copied().find(|x| *x == w.org().industry);
            match step_in(&INDUSTRIES, cur, delta) {
                Some(x) => w.set_industry(x).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::OrgSize => {
            let cur = ORG_SIZES.iter().copied().find(|x| *x == w.org().size);
            match step_in(&ORG_SIZES, cur, delta) {
                Some(x) => w.set_org_size(x).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::Compliance(f) => w.toggle_compliance(f).map(|_| ()).map_err(e),
        ChoiceId::Topology => {
            w.set_topology(step_in(&Topology::PICKER, w.topology(), delta));
            Ok(())
        }
        ChoiceId::RowProvider(i) => {
            let cur = w.regions().get(i).map(|r| r.provider);
            match step_in(&Provider::ALL, cur, delta) {
                Some(p) => w.set_row_provider(i, p).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::RowRegion(i) => {
            let Some(r) = w.regions().get(i).cloned() else {
                return Ok(());
            };
            let all = r.provider.regions();
            let cur = all.iter().copied().find(|x| *x == r.cloud_region);
            match step_in(all, cur, delta) {
                Some(x) => w.set_row_region(i, x).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::RowCpSize(i) | ChoiceId::RowWorkerSize(i) => {
            let Some(r) = w.regions().get(i).cloned() else {
                return Ok(());
            };
            let ids: Vec<&str> = r.provider.skus().iter().map(|s| s.id).collect();
            let cp = matches!(c, ChoiceId::RowCpSize(_));
            let current = if cp {
                &r.control_plane_size
            } else {
                &r.worker_size
            };
            let cur = ids.iter().copied().find(|x| x == current);
            match step_in(&ids, cur, delta) {
                Some(x) if cp => w.set_row_control_plane_size(i, x).map_err(e),
                Some(x) => w.set_row_worker_size(i, x).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::RowWorkerCount(i) => {
            let n = w.regions().get(i).map_or(0, |r| r.worker_count);
            w.set_row_worker_count(i, (n + delta).max(0)).map_err(e)
        }
        ChoiceId::SshMode => {
            let m = if w.ssh().mode == SshMode::Generate {
                SshMode::Paste
            } else {
                SshMode::Generate
            };
            w.set_ssh_mode(m);
            Ok(())
        }
        ChoiceId::DomainMode => {
            let all = [DomainMode::Pool, DomainMode::ByoManual, DomainMode::ByoApi];
            if let Some(m) = step_in(&all, Some(w.domain().mode), delta) {
                w.set_domain_mode(m);
            }
            Ok(())
        }
        ChoiceId::Pool => {
            let ids: Vec<String> = w.config().pools.iter().map(|p| p.id.clone()).collect();
            let cur = ids.iter().position(|x| *x == w.domain().pool_id);
            let idx: Vec<usize> = (0..ids.len()).collect();
            match step_in(&idx, cur, delta) {
                Some(k) => w.set_pool(&ids[k]).map_err(e),
                None => Ok(()),
            }
        }
        ChoiceId::Registrar => {
            w.set_registrar(step_in(&Registrar::ALL, w.domain().registrar, delta));
            Ok(())
        }
    }
}

/// Space/Enter on a toggle row.
pub fn flip(w: &mut Wizard, t: &ToggleId) -> Result<(), String> {
    match t {
        ToggleId::Airgap => w.set_airgap(!w.airgap()),
        ToggleId::Ha => w.set_ha_enabled(!w.ha_enabled()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_wrap_and_counts_stop_at_zero() {
        let mut w = Wizard::default();
        w.set_topology(Some(Topology::Solo));
        cycle(&mut w, &ChoiceId::Topology, 1).expect("cycle");
        assert_eq!(
            w.topology(),
            Some(Topology::PICKER[0]),
            "wraps past the end"
        );
        cycle(&mut w, &ChoiceId::Topology, -1).expect("cycle");
        assert_eq!(w.topology(), Some(Topology::Solo), "and back");
        w.seed_regions();
        w.set_row_worker_count(0, 0).expect("count");
        cycle(&mut w, &ChoiceId::RowWorkerCount(0), -1).expect("cycle");
        assert_eq!(w.regions()[0].worker_count, 0);
        cycle(&mut w, &ChoiceId::RowWorkerCount(0), 1).expect("cycle");
        assert_eq!(w.regions()[0].worker_count, 1);
        let before = w.regions()[0].cloud_region.clone();
        cycle(&mut w, &ChoiceId::RowRegion(0), 1).expect("cycle");
        assert_ne!(w.regions()[0].cloud_region, before);
        assert!(
            w.regions()[0]
                .provider
                .has_region(&w.regions()[0].cloud_region)
        );
    }

    #[test]
    fn every_step_ends_with_its_button_and_review_with_provision() {
        let mut w = Wizard::default();
        // One region: more are refused at Review (catalyst-api builds only the first).
        w.set_topology(Some(crate::provision::wizard::Topology::Solo));
        w.seed_regions();
        w.use_demo_token(Provider::Hetzner);
        w.set_hetzner_project_id("p");
        w.set_ssh_mode(SshMode::Paste);
        w.set_pasted_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKE3pPPp6pdfNnPZ2W4fOzZCMs3DGu5wQBvsHIzuT3c4 x",
        );
        w.set_domain_mode(DomainMode::ByoManual);
        w.set_byo_domain("sovereign.example.com");
        for step in Step::ALL {
            assert_eq!(w.goto(step), Ok(step), "{:?}", w.issues(w.step()));
            let list = rows(&w, "/tmp/k.pem");
            let want = if step == Step::Review {
                ActionId::Provision
            } else {
                ActionId::Next
            };
            assert!(
                matches!(list.last(), Some(Row::Action { action, disabled: None, .. }) if *action == want),
                "{step:?}: {:?}",
                list.last()
            );
        }
    }

    #[test]
    fn secrets_are_masked_in_rows() {
        let mut w = Wizard::default();
        w.seed_regions();
        w.set_token(Provider::Hetzner, &"t".repeat(64));
        let _ = w.goto(Step::Credentials);
        let list = rows(&w, "/tmp/k.pem");
        assert!(
            list.iter()
                .all(|r| !format!("{r:?}").contains(&"t".repeat(64))),
            "{list:?}"
        );
    }
}
