//! The command-line surface (README "Headless"), parsed with clap. Every subcommand is a thin
//! shell over a library call; human text goes to stderr, `--json` documents to stdout.
//! Every human line goes through [`say!`] / [`say_part!`], which make it terminal-safe
//! (`provision::safe_text`): servers supply much of what is printed. `--json` output is exact.

/// `eprintln!` for human output: the formatted line made terminal-safe.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::provision::safe_text::terminal_safe(&format!($($arg)*)))
    };
}

/// `eprint!` for human output: the formatted text made terminal-safe.
macro_rules! say_part {
    ($($arg:tt)*) => {
        eprint!("{}", $crate::provision::safe_text::terminal_safe(&format!($($arg)*)))
    };
}

mod armed;
mod cockpit;
mod decommission;
#[cfg(feature = "world")]
mod demo;
mod deploy;
mod diagnose;
mod drill;
mod fleet;
mod logs;
mod phase0;
mod preflight;
mod recover;
#[cfg(feature = "world")]
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The exit statuses of every subcommand, one meaning each (README "Exit codes",
/// docs/SAFETY.md). One home: [`CliError::exit_code`] maps onto these and nothing else does.
pub mod exit {
    /// Done (for a drill: passed, the region back as it was).
    pub const OK: u8 = 0;
    /// The operation failed or is incomplete (a drill: failed, or stopped before a verdict).
    pub const FAILED: u8 = 1;
    /// Usage or input error, naming the bad field or file and line; nothing was changed.
    pub const USAGE: u8 = 2;
    /// A drill ran but proved nothing (no data plane to verify): not a pass, not a loss.
    pub const UNVERIFIED: u8 = 3;
    /// The project changed after the plan the run executes: what appeared or changed after it
    /// was left alone (`recover --apply --plan`), or nothing was done (`phase0 apply --plan`).
    pub const CHANGED: u8 = 4;
    /// Nothing failed, but the drill's `--kill terminate` destroyed the killed region's control
    /// planes: the Sovereign stays failed over until Phase 0 rebuilds them.
    pub const REGION_DESTROYED: u8 = 5;

    /// Every status with its meaning, in order (the README's table is checked against this).
    pub const ALL: [(u8, &str); 6] = [
        (OK, "done"),
        (FAILED, "failed"),
        (USAGE, "usage"),
        (UNVERIFIED, "drill unverified"),
        (CHANGED, "changed after the plan"),
        (REGION_DESTROYED, "drill passed, region destroyed"),
    ];
}

/// How a subcommand ended, mapped onto the documented exit statuses ([`exit`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// [`exit::USAGE`]: usage or input error, naming the bad field or file and line.
    #[error("{0}")]
    Usage(String),
    /// [`exit::FAILED`]: the operation itself failed.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
    /// [`exit::UNVERIFIED`]: a drill ran but proved nothing (no data plane to verify).
    #[error("{0}")]
    Unverified(String),
    /// [`exit::CHANGED`]: the project changed after the plan the run executes (objects that
    /// appeared after it were left alone; a Phase-0 plan no longer matches): review a fresh plan.
    #[error("{0}")]
    Changed(String),
    /// [`exit::REGION_DESTROYED`]: a drill passed (or was rolled back as asked) but its terminate
    /// kill destroyed the region's control planes, which Phase 0 must rebuild.
    #[error("{0}")]
    RegionDestroyed(String),
}

impl CliError {
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Failed(_) => exit::FAILED,
            CliError::Unverified(_) => exit::UNVERIFIED,
            CliError::Changed(_) => exit::CHANGED,
            CliError::RegionDestroyed(_) => exit::REGION_DESTROYED,
        }
    }
}

pub type CliResult = Result<(), CliError>;

#[derive(Debug, Parser)]
#[command(
    name = "sovtui",
    version,
    about = "A terminal cockpit for OpenOva Sovereigns"
)]
pub struct Cli {
    /// Fleet file (default: $XDG_CONFIG_HOME/sovtui/fleet.toml)
    #[arg(long, global = true, value_name = "FLEET.toml")]
    pub config: Option<PathBuf>,

    /// catalyst-api root for the cockpit's wizard and progress views (overrides
    /// SOVTUI_CATALYST_API and the fleet file's catalyst_api)
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,

    /// Allow plain http:// to hosts other than loopback (tokens and kubeconfigs travel in
    /// clear); also SOVTUI_INSECURE_HTTP=1 or `[limits] insecure_http = true`
    #[arg(long, global = true)]
    pub insecure_http: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The cockpit on the embedded simulated world
    #[cfg(feature = "world")]
    Demo(DemoArgs),
    /// Run the simulated world in the foreground
    #[cfg(feature = "world")]
    Sim(SimArgs),
    /// Print the cockpit's log file
    Logs {
        #[arg(long, short)]
        follow: bool,
    },
    /// Flux status of every Sovereign in the fleet
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Create and follow deployments through catalyst-api
    #[command(subcommand)]
    Deploy(DeployCommand),
    /// Walk the troubleshooting tree for a Sovereign, answered from live evidence
    Diagnose(DiagnoseArgs),
    /// Decision-tree files
    #[command(subcommand)]
    Troubleshoot(TroubleshootCommand),
    /// Region-kill failover drills
    #[command(subcommand)]
    Drill(DrillCommand),
    /// Hetzner resources of Phase 0: desired vs actual, and apply
    #[command(subcommand)]
    Phase0(Phase0Command),
    /// Runbook §2.2/§2.3 purge, PDM release and record cancel
    Recover(RecoverArgs),
    /// Runbook §1.2 pre-flight checklist A–H (Hetzner, mothership, registry, CI)
    Preflight(preflight::PreflightArgs),
    /// Runbook §1.7/§2.1: wipe a Sovereign through catalyst-api, then verify nothing is left
    Decommission(decommission::DecommissionArgs),
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Built-in scenario (demo, happy, leaf-C1 … leaf-M4, leaf-D2.6 …) or a scenario file
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// Time scale: 60 means a minute of the real timeline takes a second
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    /// The drill's data plane behind the Sovereign with the CNPG pair: `postgres` (two real
    /// PostgreSQL servers; needs the server binaries) or `modelled` (no database: a model
    /// speaking the PostgreSQL wire protocol). Default: postgres when found, else modelled
    #[arg(long, value_name = "postgres|modelled")]
    pub data_plane: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Where endpoints.json, kubeconfig and fleet.toml are written
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Address to listen on (port 0 picks free ports)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    /// A generated fleet of N running Sovereigns instead of a scenario: the bootstrap kit on
    /// each, one in 50 failing (stuck or failed HelmRelease, apiserver down, stalled, source)
    #[arg(long, value_name = "N", conflicts_with = "scenario")]
    pub sovereigns: Option<usize>,
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    /// The data plane behind each Sovereign with a CNPG pair (see `sovtui demo --help`)
    #[arg(long, value_name = "postgres|modelled")]
    pub data_plane: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// One-shot status of every Sovereign
    Status {
        #[arg(long)]
        json: bool,
        /// Seconds to wait for every cluster's initial sync before printing what is known
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        /// Group as the cockpit does (`tag`, `worst` state first, or `none`); adds `groups` to
        /// the JSON document
        #[arg(long, value_name = "none|tag|worst", value_parser = parse_group_by)]
        group_by: Option<crate::provision::fleet::GroupBy>,
    },
    /// NDJSON stream of state changes
    Watch {
        #[arg(long)]
        json: bool,
    },
    /// Ask Flux to reconcile HelmReleases now (armed: --confirm FQDN; audited) — the cockpit's
    /// :reconcile
    Reconcile(FluxActionArgs),
    /// Suspend HelmReleases (armed: --confirm FQDN; audited) — the cockpit's :suspend
    Suspend(FluxActionArgs),
    /// Resume HelmReleases and reconcile them (armed: --confirm FQDN; audited) — the cockpit's
    /// :resume
    Resume(FluxActionArgs),
    /// Add a provisioned Sovereign to the fleet file; its kubeconfig is fetched from
    /// catalyst-api into memory whenever it is needed, never written to disk
    Join {
        fqdn: String,
        #[arg(long, value_name = "URL")]
        api: String,
        #[arg(long, value_name = "ID")]
        deployment: String,
        /// Tag of the new Sovereign (repeatable), e.g. prod
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Add it even when catalyst-api does not serve its kubeconfig (yet)
        #[arg(long)]
        no_verify: bool,
        #[arg(long)]
        json: bool,
    },
}

/// `sovtui fleet reconcile|suspend|resume FQDN [HELMRELEASE] --confirm FQDN`.
#[derive(Debug, Args)]
pub struct FluxActionArgs {
    pub fqdn: String,
    /// HelmRelease name (or NAMESPACE/NAME); without it, every HelmRelease of the Sovereign
    pub helmrelease: Option<String>,
    /// The Sovereign's FQDN typed back: arms the action
    #[arg(long, value_name = "FQDN")]
    pub confirm: String,
    /// Seconds to wait for the Sovereign's first sync (to find its HelmReleases)
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// POST a deployment request (JSON or TOML), gated on the §1.2 pre-flight when the fleet
    /// file has a [mothership]: refused while an item is ✗ unless overridden (journaled)
    Create {
        #[arg(long)]
        api: String,
        #[arg(long, value_name = "REQUEST")]
        from: PathBuf,
        /// Provision despite these ✗ pre-flight items (every one named, e.g. `A,C`, or
        /// `override` for all); recorded in the provision journal before the create
        #[arg(long, value_name = "ITEMS")]
        override_preflight: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Follow Phase 0/1 until a terminal state
    Watch {
        #[arg(long)]
        api: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List deployments
    List {
        #[arg(long)]
        api: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    pub fqdn: String,
    #[arg(long)]
    pub deployment: Option<String>,
    #[arg(long)]
    pub api: Option<String>,
    /// pool-domain-manager URL, filled into the `sovtui recover` commands a leaf suggests (a
    /// whole recovery releases the PDM name; without it they show `<pdm-url>`)
    #[arg(long, value_name = "URL")]
    pub pdm: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Kubeconfig of the Sovereign (until the fleet file names it)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: the FQDN)
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub context: Option<String>,
    /// Evidence set file (fixtures/troubleshoot/evidence/*.json shape) to add to what is gathered
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// Answer a question yourself, overriding the evidence: NODE=LABEL (repeatable)
    #[arg(long = "answer", value_name = "NODE=LABEL")]
    pub answers: Vec<String>,
    /// Also probe https://console.FQDN/ and https://api.FQDN/healthz
    #[arg(long)]
    pub probe: bool,
    /// Context of the mothership in --kubeconfig: tail catalyst-api's log as evidence
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub catalyst_context: Option<String>,
    /// Namespace of catalyst-api on the mothership
    #[arg(
        long,
        value_name = "NS",
        default_value = "catalyst",
        env = "CATALYST_NAMESPACE"
    )]
    pub catalyst_namespace: String,
}

#[derive(Debug, Subcommand)]
pub enum TroubleshootCommand {
    /// Validate a decision-tree file
    Lint { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Check preconditions and list exactly what a drill would touch
    Plan {
        fqdn: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        how: DrillHow,
    },
    /// Run a drill (armed: the FQDN typed back with --confirm)
    Run {
        fqdn: String,
        #[arg(long, value_name = "FQDN")]
        confirm: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        how: DrillHow,
    },
    /// Resume an interrupted drill from its journal (armed: its Sovereign's FQDN typed back)
    Resume {
        id: String,
        #[arg(long, value_name = "FQDN")]
        confirm: String,
        #[arg(long)]
        json: bool,
    },
    /// Roll an interrupted drill back from its journal (armed: its Sovereign's FQDN typed back)
    Rollback {
        id: String,
        #[arg(long, value_name = "FQDN")]
        confirm: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a drill's report
    Report {
        id: String,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
}

/// How a drill kills the region and promotes the replica (shown in the plan, journaled with it).
#[derive(Debug, Clone, Copy, Args)]
pub struct DrillHow {
    /// What happens to the primary region's control-plane server
    #[arg(long, value_enum, default_value = "power-off")]
    pub kill: DrillKill,
    /// How the replica is promoted (contract §7.4/§7.5)
    #[arg(long, value_enum, default_value = "switchover")]
    pub promotion: DrillPromotion,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DrillKill {
    /// Power it off (reversible: powered on again)
    PowerOff,
    /// Delete it (the region is rebuilt by Phase 0 on failback)
    Terminate,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DrillPromotion {
    /// A Continuum switchover request
    Switchover,
    /// `spec.values.cnpgPair.replica.promoted: true` on the replica's HelmRelease
    HelmValue,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Phase0Command {
    /// Hetzner resources: desired vs actual
    Plan {
        #[arg(long, value_name = "REQUEST")]
        from: PathBuf,
        /// Write the plan to this file (0600) for `phase0 apply --plan`
        #[arg(long, value_name = "PLAN.json")]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: phase0::ModelArgs,
    },
    /// Create what is missing, in dependency order (armed)
    Apply {
        #[arg(long, value_name = "REQUEST")]
        from: PathBuf,
        #[arg(long, value_name = "FQDN")]
        confirm: String,
        /// Plan file of `phase0 plan --out`: refuse unless the project still matches it
        #[arg(long, value_name = "PLAN.json")]
        plan: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: phase0::ModelArgs,
    },
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    pub fqdn: String,
    /// Delete for real (default is a dry run)
    #[arg(long, requires = "confirm")]
    pub apply: bool,
    #[arg(long, value_name = "FQDN")]
    pub confirm: Option<String>,
    /// Write the plan to this file (0600) for `--apply --plan`
    #[arg(long, value_name = "PLAN.json")]
    pub out: Option<PathBuf>,
    /// With --apply: delete exactly this plan file's objects (from `recover --out`)
    #[arg(long, value_name = "PLAN.json", requires = "apply")]
    pub plan: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub recover: recover::RecoverFlags,
}

/// Entry point of the binary: parse, dispatch, map errors onto exit statuses.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            say!("sovtui: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// The limits of this run: defaults, then the fleet file's `[limits]`, then `SOVTUI_*`, then
/// `--insecure-http`. A broken fleet file is reported by the commands that read it, not here.
fn install_limits(config: Option<&std::path::Path>, insecure_http: bool) -> CliResult {
    use crate::provision::limits::{self, Limits, LimitsOverride};
    let path = config.map_or_else(crate::config::paths::fleet_file, |p| p.to_path_buf());
    let from_file = if path.exists() {
        crate::config::fleet_file::load(&path)
            .map(|f| f.limits)
            .unwrap_or_default()
    } else {
        LimitsOverride::default()
    };
    let from_env = LimitsOverride::from_env().map_err(CliError::usage)?;
    let mut l = Limits::default().with(&from_file).with(&from_env);
    l.insecure_http |= insecure_http;
    limits::install(l);
    Ok(())
}

pub fn run(cli: Cli) -> CliResult {
    // The state dir is made private (0700) before anything is written under it. A failure here
    // is not fatal for reading commands; a destructive run then refuses with its journal's error.
    let _ = crate::config::paths::ensure_state_dir();
    install_limits(cli.config.as_deref(), cli.insecure_http)?;
    let config = cli.config;
    let api = cli.api;
    match cli.command {
        None => cockpit::run_fleet_with_api(config, api),
        #[cfg(feature = "world")]
        Some(Command::Demo(args)) => demo::run_demo(args),
        #[cfg(feature = "world")]
        Some(Command::Sim(args)) => sim::run(args),
        Some(Command::Logs { follow }) => logs::run(follow),
        Some(Command::Fleet(cmd)) => fleet::run(config, cmd),
        Some(Command::Deploy(cmd)) => deploy::run(config, cmd),
        Some(Command::Diagnose(args)) => diagnose::run_diagnose(config, args),
        Some(Command::Troubleshoot(TroubleshootCommand::Lint { file })) => {
            diagnose::run_lint(&file)
        }
        Some(Command::Drill(cmd)) => drill::run(config, cmd),
        Some(Command::Phase0(cmd)) => phase0::run(config, cmd),
        Some(Command::Recover(args)) => recover::run(config, args),
        Some(Command::Preflight(args)) => preflight::run(config, args),
        Some(Command::Decommission(args)) => decommission::run(config, args),
    }
}

fn parse_group_by(s: &str) -> Result<crate::provision::fleet::GroupBy, String> {
    crate::provision::fleet::GroupBy::parse(s)
        .ok_or_else(|| format!("{s:?}: expected none, tag or worst"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each status has one meaning: no two variants share a code, and the README's "Exit codes"
    /// table lists exactly the codes of [`exit::ALL`], each once.
    #[test]
    fn every_exit_code_has_one_meaning_and_the_readme_lists_them() {
        let errors = [
            CliError::usage("u"),
            CliError::Failed(anyhow::anyhow!("f")),
            CliError::Unverified("n".into()),
            CliError::Changed("c".into()),
            CliError::RegionDestroyed("r".into()),
        ];
        let mut codes: Vec<u8> = errors.iter().map(CliError::exit_code).collect();
        codes.push(exit::OK);
        codes.sort_unstable();
        let all: Vec<u8> = exit::ALL.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, all, "one variant per code, and every code used");

        let readme = include_str!("../../README.md");
        let table = readme
            .split("\n### Exit codes\n")
            .nth(1)
            .expect("README has an \"### Exit codes\" section");
        let listed: Vec<u8> = table
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.trim_start_matches('|').split('|').next())
            .filter_map(|cell| cell.trim().trim_matches('`').parse().ok())
            .collect();
        assert_eq!(listed, all, "README's exit-code table:\n{table}");
    }
}
