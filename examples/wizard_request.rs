//! Build a catalyst-api create body with the wizard library and print it.
//!
//! Offline (default): fills every step from the flags, prints the body with the token masked,
//! lists the live checks a real run would make, and exits 2 naming each field the static rules
//! reject. With `--api URL` (e.g. a `sovtui sim` catalyst-api) it walks the seven steps for real:
//! the live checks are POSTed, Next is only taken when the wizard allows it, and the body is
//! printed once Review passes (`--provision` also POSTs it).
//!
//! ```text
//! HCLOUD_TOKEN=... cargo run --example wizard_request -- --subdomain t42 --ssh-pub ~/.ssh/id_ed25519.pub
//! cargo run --example wizard_request -- --api http://127.0.0.1:PORT --subdomain t42 --ssh-pub key.pub
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sovtui::provision::wizard::{
    CheckReply, CheckRequest, Provider, SshMode, Step, Topology, Wizard, WizardConfig,
    validate_request,
};

#[derive(Parser)]
struct Args {
    /// catalyst-api root (e.g. http://127.0.0.1:8080 or https://console.openova.io/sovereign)
    #[arg(long)]
    api: Option<String>,
    #[arg(long, default_value = "Acme Financial")]
    org: String,
    #[arg(long, default_value = "platform@acme.io")]
    email: String,
    #[arg(long, default_value = "t42")]
    subdomain: String,
    #[arg(long, default_value = "solo")]
    topology: String,
    #[arg(long, default_value = "fsn1")]
    region: String,
    #[arg(long, default_value = "cpx32")]
    size: String,
    #[arg(long, default_value_t = 0)]
    workers: i64,
    #[arg(long, default_value = "proj_abc123")]
    project: String,
    /// The public key file to paste
    #[arg(long)]
    ssh_pub: PathBuf,
    /// Print the real token instead of a masked one (for piping into `deploy create --from -`)
    #[arg(long)]
    with_token: bool,
    /// With --api: POST the body once Review passes
    #[arg(long)]
    provision: bool,
}

async fn perform(client: &reqwest::Client, api: &str, req: &CheckRequest) -> CheckReply {
    let url = format!("{}{}", api.trim_end_matches('/'), req.check.path());
    match client.post(&url).json(&req.check.body()).send().await {
        Err(e) => CheckReply::Transport(e.to_string()),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp.text().await.unwrap_or_default();
            CheckReply::Http {
                status,
                content_type,
                body,
            }
        }
    }
}

fn fill(w: &mut Wizard, args: &Args, token: Option<&str>) -> Result<(), String> {
    w.set_org_name(&args.org);
    let topology = Topology::parse(&args.topology)
        .ok_or_else(|| format!("topology: `{}` is not a template", args.topology))?;
    w.set_topology(Some(topology));
    w.seed_regions();
    for i in 0..w.regions().len() {
        w.set_row_region(i, &args.region)
            .map_err(|e| e.to_string())?;
        w.set_row_control_plane_size(i, &args.size)
            .map_err(|e| e.to_string())?;
        w.set_row_worker_size(i, &args.size)
            .map_err(|e| e.to_string())?;
        w.set_row_worker_count(i, args.workers)
            .map_err(|e| e.to_string())?;
    }
    match token {
        Some(t) => w.set_token(Provider::Hetzner, t),
        None => w.use_demo_token(Provider::Hetzner),
    }
    w.set_hetzner_project_id(&args.project);
    let key = std::fs::read_to_string(&args.ssh_pub)
        .map_err(|e| format!("ssh-pub: {}: {e}", args.ssh_pub.display()))?;
    w.set_ssh_mode(SshMode::Paste);
    w.set_pasted_key(&key);
    w.set_subdomain(&args.subdomain);
    w.set_admin_email(&args.email);
    Ok(())
}

fn print_body(w: &Wizard, with_token: bool) {
    let req = w.to_request();
    let body = if with_token { req } else { req.masked() };
    // Serialized from the struct, so the keys come in the contract's order.
    println!(
        "{}",
        serde_json::to_string_pretty(&body).unwrap_or_default()
    );
    let cost = w.cost();
    eprintln!(
        "estimated cost: €{:.4}/h (€{:.2}/mo)",
        cost.eur_hour, cost.eur_month
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let token = std::env::var("HCLOUD_TOKEN").ok();
    let mut w = Wizard::new(WizardConfig::default());
    if let Err(e) = fill(&mut w, &args, token.as_deref()) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if token.is_none() {
        eprintln!("HCLOUD_TOKEN not set: using the web wizard's demo-mode token");
    }

    let Some(api) = args.api.clone() else {
        // Offline: no live check can run, so show what they would be and the static verdict.
        for c in w.due_checks() {
            eprintln!(
                "live check a real run makes: POST {} {:?}",
                c.check.path(),
                c.check
            );
        }
        print_body(&w, args.with_token);
        let errors = validate_request(&w.to_request());
        for e in &errors {
            eprintln!("invalid: {e}");
        }
        return if errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    };

    let client = reqwest::Client::new();
    loop {
        for req in w.due_checks() {
            let reply = perform(&client, &api, &req).await;
            w.complete(req.ticket, &reply);
        }
        if w.step() == Step::Review {
            break;
        }
        match w.next() {
            Ok(step) => eprintln!("→ step {} {step}", step.number()),
            Err(reason) => {
                eprintln!("Next disabled: {reason}");
                return ExitCode::from(2);
            }
        }
    }
    for section in w.review() {
        for row in section.rows {
            eprintln!("{:>22}: {}", row.label, row.value);
        }
    }
    let req = match w.provision() {
        Ok(req) => req,
        Err(reason) => {
            eprintln!("Provision disabled: {reason}");
            return ExitCode::from(2);
        }
    };
    print_body(&w, args.with_token);
    if !args.provision {
        return ExitCode::SUCCESS;
    }
    let url = format!("{}/api/v1/deployments", api.trim_end_matches('/'));
    match client.post(&url).json(&req).send().await {
        Err(e) => {
            eprintln!("POST {url}: {e}");
            ExitCode::from(1)
        }
        Ok(resp) if resp.status().is_success() => {
            eprintln!("created: {}", resp.text().await.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp.text().await.unwrap_or_default();
            let problem = w.apply_create_error(status, ct.as_deref(), &body);
            eprintln!(
                "HTTP {status} on step {} ({}): {}",
                problem.step,
                problem.field.as_deref().unwrap_or("-"),
                problem.message
            );
            ExitCode::from(1)
        }
    }
}
