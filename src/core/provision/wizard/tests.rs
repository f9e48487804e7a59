//! Walks of the whole wizard: every step's rules, live-check bookkeeping, cascades, Review, the
//! request body, API error placement and draft save/restore.

use serde_json::json;

use super::rules::tests::{ED25519, NISTP384};
use super::*;

const TOKEN: &str = "hcloudtokenhcloudtokenhcloudtokenhcloudtokenhcloudtokenhcloud1234";

fn ok(body: serde_json::Value) -> CheckReply {
    CheckReply::json(200, &body)
}

/// Answer every due check the way a healthy catalyst-api would.
fn answer_all(w: &mut Wizard) {
    for req in w.due_checks() {
        let reply = match &req.check {
            LiveCheck::ValidateCredentials { .. } => {
                ok(json!({"valid": true, "message": "read/write access confirmed"}))
            }
            LiveCheck::CheckSubdomain {
                subdomain,
                pool_domain,
            } => ok(json!({"available": true, "fqdn": format!("{subdomain}.{pool_domain}")})),
            LiveCheck::ValidateRegistrar {
                registrar, domain, ..
            } => ok(json!({"valid": true, "registrar": registrar.as_str(), "domain": domain})),
            LiveCheck::GenerateSshKey { .. } => unreachable!("never due"),
        };
        assert!(w.complete(req.ticket, &reply));
    }
}

/// A wizard walked to Review with the defaults, a Hetzner token, a pasted key and `t42` — and
/// the solo topology: a request of more regions than one is refused at Review (catalyst-api
/// would build only the first).
fn ready() -> Wizard {
    ready_with(Some(Topology::Solo))
}

/// As [`ready`] with the default topology (zoned: two Hetzner regions).
fn ready_zoned() -> Wizard {
    ready_with(None)
}

fn ready_with(topology: Option<Topology>) -> Wizard {
    let mut w = Wizard::default();
    w.next().unwrap(); // Org → Topology
    if topology.is_some() {
        w.set_topology(topology);
    }
    w.next().unwrap(); // → Provider (rows seeded)
    w.next().unwrap(); // → Credentials
    w.set_token(Provider::Hetzner, TOKEN);
    w.set_hetzner_project_id("proj_abc123");
    w.set_ssh_mode(SshMode::Paste);
    w.set_pasted_key(ED25519);
    answer_all(&mut w);
    w.next().unwrap(); // → Components
    w.next().unwrap(); // → Domain
    w.set_subdomain("t42");
    answer_all(&mut w);
    w.next().unwrap(); // → Review
    w
}

#[test]
fn defaults_match_the_web_wizard() {
    let w = Wizard::default();
    assert_eq!(w.step(), Step::Org);
    assert_eq!(w.org().name, "Acme Financial");
    assert_eq!(w.org().headquarters, "Frankfurt, Germany");
    assert_eq!(w.org().industry, "Financial Services");
    assert_eq!(w.org().size, "2,000–10,000");
    assert!(w.org().compliance.is_empty());
    assert_eq!(w.topology(), Some(Topology::Zoned));
    assert!(!w.airgap() && !w.ha_enabled());
    assert_eq!(w.domain().mode, DomainMode::Pool);
    assert_eq!(w.domain().pool_id, "omani-works");
    assert_eq!(w.domain().admin_email, "platform@acme.io");
    assert_eq!(w.selection().len(), 44);
    assert_eq!(w.can_advance(Step::Org), Ok(()));
}

#[test]
fn org_step_rules() {
    let mut w = Wizard::default();
    w.set_org_name("   ");
    // Like the web wizard, Next stays enabled: a blank name means the default.
    assert_eq!(w.can_advance(Step::Org), Ok(()));
    assert_eq!(w.warnings(Step::Org)[0].field, "orgName");
    assert_eq!(w.to_request().org_name, "Acme Financial");
    w.blur_org_name();
    assert_eq!(w.org().name, "Acme Financial");
    assert!(w.set_industry("Mining").is_err());
    w.set_industry("healthcare").unwrap();
    assert_eq!(w.org().industry, "Healthcare");
    assert!(w.set_org_size("huge").is_err());
    w.set_org_size("10,000+").unwrap();
    assert!(w.toggle_compliance("DORA").unwrap());
    assert!(w.toggle_compliance("NIS2").unwrap());
    assert!(!w.toggle_compliance("DORA").unwrap());
    assert!(w.toggle_compliance("SOX").is_err());
    assert_eq!(w.org().compliance.iter().collect::<Vec<_>>(), ["NIS2"]);
    assert_eq!(w.next(), Ok(Step::Topology));
}

#[test]
fn topology_templates_and_region_rows() {
    let mut w = Wizard::default();
    w.next().unwrap();
    w.set_topology(None);
    assert_eq!(
        w.can_advance(Step::Topology).unwrap_err().field.as_deref(),
        Some("topology")
    );
    w.set_topology(Some(Topology::Citadel));
    w.set_airgap(true);
    assert_eq!(w.wanted_region_rows(), 5);
    assert!(
        w.regions().is_empty(),
        "rows are seeded on the first Provider visit"
    );
    w.next().unwrap();
    assert_eq!(w.step(), Step::Provider);
    let rows = w.regions();
    assert_eq!(rows.len(), 5);
    // Frankfurt HQ → hetzner fsn1, nbg1, hel1, then cycling; recommended SKU, no workers.
    let regions: Vec<&str> = rows.iter().map(|r| r.cloud_region.as_str()).collect();
    assert_eq!(regions, ["fsn1", "nbg1", "hel1", "fsn1", "nbg1"]);
    assert!(rows.iter().all(|r| r.provider == Provider::Hetzner
        && r.control_plane_size == "cpx32"
        && r.worker_size == "cpx32"
        && r.worker_count == 0));
    // Later topology changes keep the rows the operator already edited.
    w.set_row_region(0, "hel1").unwrap();
    w.set_topology(Some(Topology::Solo));
    w.set_airgap(false);
    assert_eq!(w.regions().len(), 1);
    assert_eq!(w.regions()[0].cloud_region, "hel1");
    w.set_topology(Some(Topology::Dual));
    assert_eq!(w.regions().len(), 2);
    assert_eq!(w.regions()[0].cloud_region, "hel1");
    assert!(Topology::Dual.recommended());
    assert!(!Topology::PICKER.contains(&Topology::Triangle));
    assert_eq!(Topology::Triangle.region_count(), 3);
}

#[test]
fn hq_hint_seeds_other_providers() {
    let mut w = Wizard::default();
    w.set_headquarters("London, UK");
    w.goto(Step::Provider).unwrap();
    assert_eq!(w.regions()[0].provider, Provider::Aws);
    assert_eq!(w.regions()[0].control_plane_size, "m6i.xlarge");
    // Design-only provider: a warning on Provider, and Provision stays disabled.
    let warn = w.warnings(Step::Provider);
    assert!(warn.iter().any(|i| i.field == "regions[0].provider"));
    assert_eq!(w.can_advance(Step::Provider), Ok(()));
}

#[test]
fn provider_row_rules() {
    let mut w = Wizard::default();
    w.goto(Step::Provider).unwrap();
    assert_eq!(w.can_advance(Step::Provider), Ok(()));
    w.set_row_region(0, "us-east-1").unwrap();
    w.set_row_control_plane_size(1, "m6i.large").unwrap();
    w.set_row_worker_count(1, 3).unwrap();
    w.set_row_worker_size(1, "").unwrap();
    let errs = w.field_errors(Step::Provider);
    assert_eq!(
        errs.keys().collect::<Vec<_>>(),
        [
            "regions[0].cloudRegion",
            "regions[1].controlPlaneSize",
            "regions[1].workerSize"
        ]
    );
    assert_eq!(
        w.can_advance(Step::Provider).unwrap_err().field.as_deref(),
        Some("regions[0].cloudRegion")
    );
    // The stepper clamps.
    w.set_row_worker_count(1, 99).unwrap();
    assert_eq!(w.regions()[1].worker_count, 50);
    w.set_row_worker_count(1, -4).unwrap();
    assert_eq!(w.regions()[1].worker_count, 0);
    // Workers = 0 makes the worker size irrelevant.
    assert!(
        !w.field_errors(Step::Provider)
            .contains_key("regions[1].workerSize")
    );
    // Changing provider resets region and sizes to that provider's.
    w.set_row_provider(0, Provider::Azure).unwrap();
    assert_eq!(w.regions()[0].cloud_region, "westeurope");
    assert_eq!(w.regions()[0].control_plane_size, "Standard_D4s_v5");
    assert_eq!(w.set_row_region(7, "fsn1"), Err(WizardError::NoSuchRow(7)));
    assert!(w.next().is_err());
}

#[test]
fn credentials_token_rules_and_live_validation() {
    let mut w = Wizard::default();
    w.goto(Step::Provider).unwrap();
    w.set_row_provider(1, Provider::Oci).unwrap();
    w.next().unwrap();
    assert_eq!(w.token_providers(), [Provider::Hetzner, Provider::Oci]);
    assert_eq!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .field
            .as_deref(),
        Some("hetznerToken")
    );
    // Short: a client-side error, and no call is made.
    w.set_token(Provider::Hetzner, "abc");
    assert_eq!(
        w.token_status(Provider::Hetzner),
        TokenStatus::TooShort { len: 3 }
    );
    assert!(w.due_checks().is_empty());
    // Long enough: pending until validated.
    w.set_token(Provider::Hetzner, TOKEN);
    assert!(w.has_due_checks());
    let checks = w.due_checks();
    assert_eq!(checks.len(), 1);
    assert_eq!(
        checks[0].check,
        LiveCheck::ValidateCredentials {
            provider: Provider::Hetzner,
            token: TOKEN.into()
        }
    );
    assert_eq!(w.token_status(Provider::Hetzner), TokenStatus::Checking);
    assert!(w.due_checks().is_empty(), "in flight: not due again");
    // An edit supersedes the in-flight check; its late answer is ignored.
    let stale = checks[0].ticket;
    w.set_token(Provider::Hetzner, &format!("{TOKEN}9"));
    assert!(!w.complete(stale, &ok(json!({"valid": true, "message": "ok"}))));
    assert_eq!(w.token_status(Provider::Hetzner), TokenStatus::Unchecked);
    let t = w.due_checks()[0].ticket;
    assert!(w.complete(
        t,
        &ok(json!({"valid": false, "message": "token rejected — ensure it has Read & Write permissions"}))
    ));
    let r = w.can_advance(Step::Credentials).unwrap_err();
    assert!(r.message.contains("rejected"), "{r}");
    w.set_token(Provider::Hetzner, TOKEN);
    let t = w.due_checks()[0].ticket;
    w.complete(
        t,
        &CheckReply::json(
            503,
            &json!({"valid": false, "message": "could not reach Hetzner API — timeout"}),
        ),
    );
    assert!(matches!(
        w.token_status(Provider::Hetzner),
        TokenStatus::Unreachable { .. }
    ));
    w.set_token(Provider::Hetzner, TOKEN);
    answer_all(&mut w);
    assert!(w.token_status(Provider::Hetzner).is_valid());
    // OCI card: the demo bypass validates without a call.
    w.use_demo_token(Provider::Oci);
    assert_eq!(w.token_status(Provider::Oci), TokenStatus::Demo);
    assert!(w.due_checks().is_empty());
    // Project id and SSH key still missing.
    assert_eq!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .field
            .as_deref(),
        Some("hetznerProjectID")
    );
    w.set_hetzner_project_id("proj_abc123");
    assert_eq!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .field
            .as_deref(),
        Some("sshPublicKey")
    );
    w.set_ssh_mode(SshMode::Paste);
    w.set_pasted_key(ED25519);
    assert_eq!(w.can_advance(Step::Credentials), Ok(()));
    assert!(!w.token_masked(Provider::Hetzner).contains("hcloudtoken"));
    assert!(!format!("{w:?}").contains("hcloudtoken"));
    assert!(!format!("{:?}", w.to_request()).contains("hcloudtoken"));
}

#[test]
fn pasted_key_rules() {
    let mut w = ready();
    w.set_pasted_key("ssh-ed25519 AAAA");
    assert_eq!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .field
            .as_deref(),
        Some("sshPublicKey")
    );
    w.set_pasted_key(NISTP384);
    assert_eq!(
        w.can_advance(Step::Credentials),
        Ok(()),
        "nistp384 only warns"
    );
    let warn = w.warnings(Step::Credentials);
    assert_eq!(warn.len(), 1);
    assert!(warn[0].message.contains("OpenTofu"));
    // ... but a request with it is refused, because tofu-plan would fail.
    assert!(w.can_advance(Step::Review).is_err());
}

#[test]
fn generated_key_must_be_saved_0600() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ready();
    w.set_ssh_mode(SshMode::Generate);
    assert!(w.can_advance(Step::Credentials).is_err());
    let req = w.request_ssh_key();
    assert_eq!(
        req.check,
        LiveCheck::GenerateSshKey {
            fqdn: "t42.omani.works".into()
        }
    );
    assert_eq!(w.suggested_private_key_name(), "t42.omani.works.pem");
    assert!(w.ssh_key_generating());
    assert!(w.can_advance(Step::Credentials).is_err());
    // A failing generation is shown and can be retried.
    w.complete(
        req.ticket,
        &CheckReply::json(500, &json!({"error": "could not generate Ed25519 keypair"})),
    );
    assert!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .message
            .contains("could not generate")
    );
    let req = w.request_ssh_key();
    w.complete(
        req.ticket,
        &ok(json!({"publicKey": "ssh-ed25519 AAAA", "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\n", "fingerprint": "SHA256:x"})),
    );
    assert!(
        w.can_advance(Step::Credentials)
            .unwrap_err()
            .message
            .contains("unusable public key")
    );
    assert!(!w.ssh().private_key_pending());
    let req = w.request_ssh_key();
    let private =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nsecretbytes\n-----END OPENSSH PRIVATE KEY-----\n";
    w.complete(
        req.ticket,
        &ok(json!({"publicKey": ED25519, "privateKey": private, "fingerprint": "SHA256:abc"})),
    );
    assert!(w.ssh().private_key_pending());
    let r = w.can_advance(Step::Credentials).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("sshPrivateKeyPath"));
    // Refuses to clobber an existing file unless told to.
    let path = dir.path().join("t42.omani.works.pem");
    std::fs::write(&path, "old").unwrap();
    assert!(matches!(
        w.save_private_key(&path, false),
        Err(WizardError::Io { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    w.save_private_key(&path, true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), private);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!w.ssh().private_key_pending());
    assert_eq!(
        w.save_private_key(&path, true),
        Err(WizardError::NoPrivateKey)
    );
    assert_eq!(w.can_advance(Step::Credentials), Ok(()));
    assert_eq!(w.to_request().ssh_public_key, ED25519);
    // The private half appears nowhere else.
    let draft = serde_json::to_string(&w.draft()).unwrap();
    assert!(!draft.contains("secretbytes"));
    assert!(!format!("{w:?}").contains("secretbytes"));
    assert!(
        !serde_json::to_string(&w.review())
            .unwrap()
            .contains("secretbytes")
    );
}

#[test]
fn component_cascades_need_confirmation() {
    let mut w = ready();
    w.goto(Step::Components).unwrap();
    match w.toggle_component("strongswan").unwrap() {
        ToggleOutcome::Applied(p) => assert_eq!(p.add, ["strongswan"]),
        other => panic!("{other:?}"),
    }
    assert!(w.selection().contains("strongswan"));
    let before = w.selection().clone();
    match w.toggle_component("bge").unwrap() {
        ToggleOutcome::NeedsConfirmation(p) => assert!(p.add.contains(&"librechat")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.selection(),
        &before,
        "nothing applies before confirmation"
    );
    let r = w.can_advance(Step::Components).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("components"));
    assert!(w.cancel_cascade().is_some());
    assert_eq!(w.can_advance(Step::Components), Ok(()));
    assert_eq!(w.confirm_cascade(), Err(WizardError::NothingPending));
    w.toggle_component("bge").unwrap();
    let applied = w.confirm_cascade().unwrap();
    assert!(w.selection().contains("bge") && w.selection().contains("ferretdb"));
    assert!(applied.add.contains(&"neo4j"));
    // Removing a dependency cascades to dependents, again after confirmation.
    match w.toggle_component("ferretdb").unwrap() {
        ToggleOutcome::NeedsConfirmation(p) => assert_eq!(p.remove, ["ferretdb", "librechat"]),
        other => panic!("{other:?}"),
    }
    w.confirm_cascade().unwrap();
    assert!(!w.selection().contains("librechat"));
    assert!(matches!(
        w.toggle_component("cilium"),
        Err(WizardError::Selection(_))
    ));
    assert_eq!(
        w.request_change(Change::AddComponent("grafana".into()))
            .unwrap(),
        ToggleOutcome::Unchanged
    );
}

#[test]
fn pool_domain_rules_and_availability() {
    let mut w = ready();
    w.goto(Step::Domain).unwrap();
    w.set_subdomain("");
    assert_eq!(
        w.can_advance(Step::Domain).unwrap_err().field.as_deref(),
        Some("sovereignSubdomain")
    );
    w.set_subdomain("42-bad");
    assert!(matches!(w.availability(), Availability::Invalid { .. }));
    assert!(w.due_checks().is_empty(), "invalid format is never sent");
    w.set_subdomain("  T43 ");
    assert_eq!(w.domain().subdomain, "t43");
    let reqs = w.due_checks();
    assert_eq!(
        reqs[0].check,
        LiveCheck::CheckSubdomain {
            subdomain: "t43".into(),
            pool_domain: "omani.works".into()
        }
    );
    let r = w.can_advance(Step::Domain).unwrap_err();
    assert!(r.message.contains("checking"));
    w.complete(
        reqs[0].ticket,
        &ok(json!({"available": false, "reason": "active-state"})),
    );
    assert!(
        w.can_advance(Step::Domain)
            .unwrap_err()
            .message
            .contains("already in use")
    );
    // Stale answer after an edit is ignored.
    w.set_subdomain("t44");
    let t = w.due_checks()[0].ticket;
    w.set_subdomain("t45");
    assert!(!w.complete(
        t,
        &ok(json!({"available": true, "fqdn": "t44.omani.works"}))
    ));
    answer_all(&mut w);
    assert_eq!(w.fqdn().as_deref(), Some("t45.omani.works"));
    w.set_admin_email("platform@acme");
    assert_eq!(
        w.can_advance(Step::Domain).unwrap_err().field.as_deref(),
        Some("orgEmail")
    );
    w.set_admin_email("ops@bank.example");
    assert_eq!(w.can_advance(Step::Domain), Ok(()));
    assert!(
        w.set_pool("omani.rest").is_err(),
        "the UI pool list has only omani.works"
    );
}

#[test]
fn runbook_pools_are_configurable() {
    let mut w = Wizard::new(WizardConfig {
        pools: PoolDomain::runbook(),
    });
    w.set_pool("omani.trade").unwrap();
    w.set_subdomain("acme");
    assert_eq!(w.fqdn().as_deref(), Some("acme.omani.trade"));
    assert_eq!(w.to_request().sovereign_pool_domain, "omani.trade");
}

#[test]
fn byo_modes() {
    let mut w = ready();
    w.goto(Step::Domain).unwrap();
    w.set_domain_mode(DomainMode::ByoManual);
    assert_eq!(w.availability(), &Availability::Idle);
    w.set_byo_domain("localhost");
    assert_eq!(
        w.can_advance(Step::Domain).unwrap_err().field.as_deref(),
        Some("sovereignFQDN")
    );
    w.set_byo_domain("Sovereign.Acme-Bank.com.");
    assert_eq!(w.fqdn().as_deref(), Some("sovereign.acme-bank.com"));
    assert_eq!(w.can_advance(Step::Domain), Ok(()));
    assert!(
        w.warnings(Step::Domain)
            .iter()
            .any(|i| i.field == "sovereignDomainMode")
    );
    let req = w.to_request();
    assert_eq!(req.sovereign_domain_mode, "byo-manual");
    assert_eq!(req.sovereign_fqdn, "sovereign.acme-bank.com");
    assert_eq!(req.sovereign_subdomain, "");
    assert_eq!(req.sovereign_pool_domain, "");

    w.set_domain_mode(DomainMode::ByoApi);
    let r = w.can_advance(Step::Domain).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("registrarType"));
    w.set_registrar(Some(Registrar::Cloudflare));
    w.set_registrar_token("cf-token-value-123456");
    let reqs = w.due_checks();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].check.path(),
        "/api/v1/registrar/cloudflare/validate"
    );
    w.complete(
        reqs[0].ticket,
        &CheckReply::json(403, &json!({"error": "domain-not-in-account", "detail": "x", "registrar": "cloudflare", "domain": "sovereign.acme-bank.com"})),
    );
    let r = w.can_advance(Step::Domain).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("registrarToken"));
    assert!(r.message.contains("domain-not-in-account"));
    w.set_registrar_token("cf-token-value-654321");
    answer_all(&mut w);
    assert_eq!(w.registrar_status(), &RegistrarStatus::Valid);
    assert_eq!(w.can_advance(Step::Domain), Ok(()));
    let review = serde_json::to_string(&w.review()).unwrap();
    assert!(!review.contains("cf-token-value-654321"));
    // Registrar token never reaches the body.
    assert!(!w.to_request().to_json().to_string().contains("cf-token"));
    assert_eq!(DomainMode::parse("byo"), Some(DomainMode::ByoManual));
}

#[test]
fn the_request_is_exactly_the_contract_body() {
    let mut w = ready();
    assert_eq!(w.step(), Step::Review);
    assert_eq!(w.can_advance(Step::Review), Ok(()));
    let req = w.provision().unwrap();
    assert_eq!(validate_request(&req), vec![]);
    assert_eq!(
        req.to_json(),
        json!({
            "orgName": "Acme Financial",
            "orgEmail": "platform@acme.io",
            "sovereignFQDN": "t42.omani.works",
            "sovereignDomainMode": "pool",
            "sovereignPoolDomain": "omani.works",
            "sovereignSubdomain": "t42",
            "hetznerToken": TOKEN,
            "hetznerProjectID": "proj_abc123",
            "region": "fsn1",
            "controlPlaneSize": "cpx32",
            "workerSize": "cpx32",
            "workerCount": 0,
            "haEnabled": false,
            "regions": [
                {"provider": "hetzner", "cloudRegion": "fsn1", "controlPlaneSize": "cpx32", "workerSize": "cpx32", "workerCount": 0}
            ],
            "sshPublicKey": ED25519
        })
    );
}

/// Issue 15: the default (zoned) topology asks for two regions; catalyst-api would build only
/// the first, so Review refuses to provision and says which region would be left out.
#[test]
fn review_refuses_a_request_that_would_build_only_its_first_region() {
    let mut w = ready_zoned();
    assert_eq!(w.regions().len(), 2);
    let r = w.can_advance(Step::Review).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("regions"), "{r:?}");
    assert!(
        r.message.contains("only regions[0] (fsn1) would be built")
            && r.message.contains("nbg1 would silently be left out"),
        "{}",
        r.message
    );
    assert!(w.provision().is_err());
}

#[test]
fn review_lists_every_value_masked_with_cost() {
    let mut w = ready_zoned();
    w.set_row_worker_count(0, 2).unwrap();
    w.set_row_worker_size(0, "cx33").unwrap();
    let cost = w.cost();
    // 2 × cpx32 CPs (0.0232) + 2 × cx33 (0.0104)
    assert_eq!(cost.eur_hour, 0.0672);
    assert_eq!(cost.eur_month, 41.96);
    w.set_ha_enabled(true);
    assert_eq!(w.cost().eur_hour, 0.1136);
    let review = w.review();
    let text = serde_json::to_string(&review).unwrap();
    assert!(!text.contains(TOKEN));
    for want in [
        "Acme Financial",
        "Frankfurt, Germany",
        "zoned",
        "fsn1",
        "cpx32",
        "2 × cx33",
        "t42.omani.works",
        "platform@acme.io",
        "proj_abc123",
        "SHA256:",
        "€0.1136/h",
    ] {
        assert!(text.contains(want), "{want} missing from review");
    }
    assert!(text.contains(&format!("…1234 ({} chars)", TOKEN.len())));
    assert_eq!(
        review.iter().map(|s| s.step).collect::<Vec<_>>(),
        &Step::ALL[..6]
    );
}

#[test]
fn review_blocks_on_earlier_steps_and_on_request_rules() {
    let mut w = ready();
    w.set_token(Provider::Hetzner, "");
    let r = w.can_advance(Step::Review).unwrap_err();
    assert!(r.message.starts_with("step 4 (Credentials)"), "{r}");
    assert!(w.provision().is_err());
    let mut w = ready();
    w.set_row_provider(0, Provider::Aws).unwrap();
    w.use_demo_token(Provider::Aws);
    let r = w.can_advance(Step::Review).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("regions[0].provider"), "{r}");
}

#[test]
fn navigation() {
    let mut w = Wizard::default();
    assert_eq!(w.back(), Step::Org);
    let r = w.goto(Step::Domain).unwrap_err();
    assert_eq!(r.step, Step::Credentials);
    assert_eq!(w.step(), Step::Org, "a refused jump stays put");
    let mut w = ready();
    assert_eq!(w.goto(Step::Topology), Ok(Step::Topology));
    assert_eq!(w.goto(Step::Review), Ok(Step::Review));
    assert!(w.next().is_err(), "Review is last");
    assert_eq!(w.back(), Step::Domain);
    assert_eq!(w.first_incomplete_step(), Step::Review);
    assert!(Step::ALL.iter().all(|s| w.step_done(*s)));
}

#[test]
fn conflict_409_lands_on_domain_and_keeps_everything() {
    let mut w = ready();
    let before = w.to_request();
    let p = w.apply_create_error(
        409,
        Some("application/json"),
        r#"{"error":"subdomain-conflict","detail":"this subdomain has been reserved or activated for the chosen pool — pick a different name"}"#,
    );
    assert_eq!(p.step, Step::Domain);
    assert_eq!(w.step(), Step::Domain);
    assert_eq!(w.to_request(), before, "nothing typed is lost");
    let r = w.can_advance(Step::Domain).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("sovereignSubdomain"));
    assert!(r.message.contains("pick a different name"));
    w.set_subdomain("t43");
    answer_all(&mut w);
    assert_eq!(w.can_advance(Step::Review), Ok(()));
}

#[test]
fn validation_400_lands_on_its_field_until_edited() {
    let mut w = ready();
    let p = w.apply_create_error(
        400,
        Some("application/json"),
        r#"{"error":"hetzner project ID is required"}"#,
    );
    assert_eq!((p.step, w.step()), (Step::Credentials, Step::Credentials));
    assert_eq!(
        w.field_errors(Step::Credentials)
            .get("hetznerProjectID")
            .map(String::as_str),
        Some("catalyst-api: hetzner project ID is required")
    );
    assert!(w.can_advance(Step::Review).is_err());
    w.set_hetzner_project_id("proj_other");
    assert_eq!(w.can_advance(Step::Review), Ok(()));
}

#[test]
fn unavailable_503_is_a_notice_not_a_block() {
    let mut w = ready();
    let p = w.apply_create_error(
        503,
        Some("application/json"),
        r#"{"error":"pdm-unavailable","detail":"pool-domain-manager is temporarily unreachable: dial tcp"}"#,
    );
    assert!(p.transient);
    assert_eq!(w.step(), Step::Domain);
    assert_eq!(w.can_advance(Step::Domain), Ok(()));
    assert!(
        w.warnings(Step::Domain)
            .iter()
            .any(|i| i.message.contains("HTTP 503"))
    );
    w.goto(Step::Review).unwrap();
    assert!(w.provision().is_ok(), "retry without edits");
    assert!(
        !w.warnings(Step::Domain)
            .iter()
            .any(|i| i.message.contains("HTTP 503"))
    );
    // A plain-text 400 (malformed body) stays on Review.
    let p = w.apply_create_error(400, Some("text/plain"), "invalid request body: EOF");
    assert_eq!(p.step, Step::Review);
}

#[test]
fn draft_has_no_secrets_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/wizard-draft.json");
    let mut w = ready_zoned();
    w.set_org_name("Bank of Muscat");
    w.toggle_compliance("DORA").unwrap();
    w.set_airgap(true);
    w.set_row_worker_count(2, 4).unwrap();
    w.toggle_component("strongswan").unwrap();
    w.set_domain_mode(DomainMode::ByoApi);
    w.set_byo_domain("sov.bank.om");
    w.set_registrar(Some(Registrar::Ovh));
    w.set_registrar_token("ovh-app-key:ovh-app-secret:ovh-consumer");
    w.save_draft(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("hcloudtoken"));
    assert!(!text.contains("ovh-app-secret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let draft = load_draft(&path).unwrap().unwrap();
    assert_eq!(draft, w.draft());
    let (r, notes) = Wizard::restore(draft, WizardConfig::default());
    assert_eq!(r.org().name, "Bank of Muscat");
    assert!(r.org().compliance.contains("DORA"));
    assert_eq!(r.regions().len(), 3);
    assert_eq!(r.regions()[2].worker_count, 4);
    assert!(r.selection().contains("strongswan"));
    assert_eq!(r.domain().byo_domain, "sov.bank.om");
    assert_eq!(r.domain().registrar, Some(Registrar::Ovh));
    assert_eq!(r.ssh().pasted, ED25519);
    assert_eq!(r.hetzner_project_id(), "proj_abc123");
    // Secrets are gone, so the restored wizard lands on Credentials.
    assert_eq!(r.step(), Step::Credentials);
    assert_eq!(r.token_status(Provider::Hetzner), TokenStatus::Empty);
    assert!(
        notes
            .notes
            .iter()
            .any(|n| n.contains("tokens are never saved"))
    );
    assert!(notes.notes.iter().any(|n| n.contains("registrar token")));
    // Re-saving over an existing draft works (atomic replace).
    r.save_draft(&path).unwrap();
    discard_draft(&path).unwrap();
    discard_draft(&path).unwrap();
    assert_eq!(load_draft(&path).unwrap(), None);
}

#[test]
fn restore_to_the_saved_step_and_recheck() {
    let mut w = ready();
    w.goto(Step::Components).unwrap();
    let (mut r, _) = Wizard::restore(w.draft(), WizardConfig::default());
    // Credentials now fails (token missing): land there, not on Components.
    assert_eq!(r.step(), Step::Credentials);
    r.set_token(Provider::Hetzner, TOKEN);
    // The subdomain availability is re-checked along with the token.
    let kinds: Vec<CheckKind> = r.due_checks().iter().map(|c| c.ticket.kind).collect();
    assert_eq!(
        kinds,
        [
            CheckKind::Credentials(Provider::Hetzner),
            CheckKind::Subdomain
        ]
    );
}

#[test]
fn restore_drops_an_unsaved_generated_key() {
    let mut w = ready();
    w.set_ssh_mode(SshMode::Generate);
    let req = w.request_ssh_key();
    w.complete(
        req.ticket,
        &ok(json!({"publicKey": ED25519, "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n", "fingerprint": "SHA256:x"})),
    );
    let (r, notes) = Wizard::restore(w.draft(), WizardConfig::default());
    assert!(r.ssh().generated_public.is_none());
    assert!(notes.notes.iter().any(|n| n.contains("generate a new key")));
}

#[test]
fn broken_drafts_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.json");
    std::fs::write(&path, "{\n  \"version\": 1,\n  \"step\": \"org\",\n  oops").unwrap();
    match load_draft(&path) {
        Err(DraftError::Invalid { line, .. }) => assert_eq!(line, 4),
        other => panic!("{other:?}"),
    }
    std::fs::write(&path, r#"{"version": 9}"#).unwrap();
    assert!(matches!(
        load_draft(&path),
        Err(DraftError::Version { found: 9, .. })
    ));
    std::fs::write(&path, r#"{"version": 1, "step": "nowhere"}"#).unwrap();
    let err = load_draft(&path).unwrap_err().to_string();
    assert!(err.contains("d.json"), "{err}");
    // Unknown components and pools in an otherwise fine draft become notes.
    let mut d = ready().draft();
    d.components.push("quantum".into());
    d.domain.pool_id = "gone-pool".into();
    let (_, notes) = Wizard::restore(d, WizardConfig::default());
    assert!(notes.notes.iter().any(|n| n.contains("quantum")));
    assert!(notes.notes.iter().any(|n| n.contains("gone-pool")));
}

#[test]
fn field_steps() {
    assert_eq!(field_step("regions[3].workerSize"), Step::Provider);
    assert_eq!(field_step("orgEmail"), Step::Domain);
    assert_eq!(field_step("orgName"), Step::Org);
    assert_eq!(field_step("hetznerProjectID"), Step::Credentials);
    assert_eq!(field_step("mystery"), Step::Review);
}

#[test]
fn restore_seeds_rows_for_a_hand_edited_draft() {
    let mut d = Wizard::default().draft();
    d.step = Step::Components;
    d.regions_seeded = false;
    d.regions.clear();
    let (w, _) = Wizard::restore(d, WizardConfig::default());
    assert_eq!(w.regions().len(), 2);
    assert_eq!(w.step(), Step::Credentials);
}

#[test]
fn text_fields_by_wire_name() {
    let mut w = Wizard::default();
    w.goto(Step::Provider).unwrap();
    for (field, value) in [
        ("orgName", "Bank"),
        ("orgHeadquarters", "Berlin, Germany"),
        ("hetznerProjectID", "proj_1"),
        ("sshPublicKey", ED25519),
        ("sovereignSubdomain", "bank"),
        ("orgEmail", "ops@bank.de"),
    ] {
        w.set_text(field, value).unwrap();
        assert_eq!(w.text(field).as_deref(), Some(value), "{field}");
    }
    w.set_text("hetznerToken", TOKEN).unwrap();
    assert_eq!(w.text("hetznerToken"), None, "secrets are never read back");
    assert_eq!(w.token_status(Provider::Hetzner), TokenStatus::Unchecked);
    w.set_text("tokens.aws", "x").unwrap();
    assert_eq!(
        w.token_status(Provider::Aws),
        TokenStatus::TooShort { len: 1 }
    );
    assert!(w.set_text("nope", "x").is_err());
    for f in TEXT_FIELDS {
        assert_ne!(field_step(f), Step::Review, "{f} has a step");
    }
}

/// External data (files, API answers, pasted text) never panics the wizard.
#[test]
fn garbage_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "=",
        "\n",
        "é",
        "€",
        "—",
        "\u{0}",
        "ssh-ed25519 ",
        "AAAA",
        "orgName",
        "regions",
        "[[regions]]",
        "workerCount",
        "1",
        "-1",
        "true",
        "null",
        "valid",
        "available",
        "error",
        "detail",
        "@",
        ".",
        "-",
        " ",
        "\t",
        "ecdsa-sha2-nistp384",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("draft.json");
    let mut w = ready();
    for _ in 0..400 {
        let n = rng.gen_range(0..24);
        let text: String = (0..n)
            .map(|_| pieces[rng.gen_range(0..pieces.len())])
            .collect();
        let _ = parse_request(&text, RequestFormat::Json);
        let _ = parse_request(&text, RequestFormat::Toml);
        let _ = rules::check_ssh_public_key(&text);
        let _ = rules::check_email(&text);
        let _ = rules::check_byo_domain(&text);
        let _ = rules::check_subdomain(&text);
        let _ = rules::mask_secret(&text);
        let status = [200u16, 400, 401, 409, 500, 503][rng.gen_range(0..6)];
        let reply = CheckReply::Http {
            status,
            content_type: None,
            body: text.clone(),
        };
        let _ = TokenStatus::from_reply(&reply);
        let _ = Availability::from_reply(&reply);
        let _ = RegistrarStatus::from_reply(&reply);
        let _ = classify_create_error(status, None, &text);
        let _ = w.apply_create_error(status, Some("application/json"), &text);
        std::fs::write(&path, &text).unwrap();
        let _ = load_draft(&path);
        w.set_text("sovereignSubdomain", &text).unwrap();
        w.set_text("sshPublicKey", &text).unwrap();
        let _ = w.can_advance(Step::Review);
        let _ = w.review();
    }
}
