//! What every destructive subcommand settles before it touches anything: the FQDN is a
//! Sovereign's, the FQDN is typed back in `--confirm`, and a `--plan` file is read — and is this
//! Sovereign's — first.

use std::path::Path;

use super::CliError;
use crate::provision::hetzner::planfile::PlanFileError;
use crate::provision::wizard::rules::check_fqdn_tofu;

/// `--confirm` must be `fqdn` typed back; `what` names what it arms (`the purge`, `the apply`).
pub(super) fn confirmed(typed: &str, fqdn: &str, what: &str) -> Result<(), CliError> {
    crate::provision::confirm::typed_back(typed, fqdn)
        .map_err(|why| CliError::usage(format!("--confirm arms {what}: {why}")))
}

/// The `--plan` file for `fqdn`, read before anything is contacted; `plan_fqdn` says whose a
/// plan `read` made is.
pub(super) fn plan_for<P>(
    fqdn: &str,
    plan: Option<&Path>,
    read: impl FnOnce(&Path) -> Result<P, PlanFileError>,
    plan_fqdn: impl FnOnce(&P) -> &str,
) -> Result<Option<P>, CliError> {
    let Some(path) = plan else {
        return Ok(None);
    };
    let p = read(path).map_err(|e| CliError::usage(e.to_string()))?;
    let planned = plan_fqdn(&p);
    if planned != fqdn {
        return Err(CliError::usage(format!(
            "{} is a plan for {planned}, not {fqdn}: nothing was touched",
            path.display()
        )));
    }
    Ok(Some(p))
}

/// `recover` and `decommission`: a Sovereign FQDN given on the command line, `--confirm` when
/// `--apply` arms `what`, then the plan file.
pub(super) fn preamble<P>(
    fqdn: &str,
    apply: Option<(&str, &str)>,
    plan: Option<&Path>,
    read: impl FnOnce(&Path) -> Result<P, PlanFileError>,
    plan_fqdn: impl FnOnce(&P) -> &str,
) -> Result<Option<P>, CliError> {
    if check_fqdn_tofu(fqdn).is_err() {
        return Err(CliError::usage(format!(
            "FQDN: {fqdn:?} is not a Sovereign FQDN (lowercase labels, at least two)"
        )));
    }
    if let Some((typed, what)) = apply {
        confirmed(typed, fqdn, what)?;
    }
    plan_for(fqdn, plan, read, plan_fqdn)
}

/// `--plan`'s path as the messages show it.
pub(super) fn plan_path(plan: Option<&Path>) -> String {
    plan.map(|p| p.display().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_as(fqdn: &'static str) -> impl FnOnce(&Path) -> Result<String, PlanFileError> {
        move |_| Ok(fqdn.to_string())
    }

    #[test]
    fn nothing_is_read_before_the_fqdn_and_the_confirmation_hold() {
        let f = "omantel.omani.works";
        let never = |_: &Path| -> Result<String, PlanFileError> { panic!("plan read too early") };
        let plan = Some(Path::new("/tmp/plan.json"));
        let bad = preamble("Not_An_FQDN", None, plan, never, |p| p.as_str());
        assert!(bad.is_err_and(|e| e.to_string().contains("not a Sovereign FQDN")));
        let never = |_: &Path| -> Result<String, PlanFileError> { panic!("plan read too early") };
        let wrong = preamble(
            f,
            Some(("omantel.omani.work", "the purge")),
            plan,
            never,
            |p| p.as_str(),
        );
        assert!(wrong.is_err_and(|e| e.to_string().contains("--confirm arms the purge")));
    }

    #[test]
    fn a_plan_for_another_sovereign_is_refused() {
        let f = "omantel.omani.works";
        let plan = Some(Path::new("/tmp/plan.json"));
        let other = preamble(
            f,
            Some((f, "the wipe")),
            plan,
            read_as("other.omani.works"),
            |p| p.as_str(),
        );
        assert!(other.is_err_and(|e| e.to_string().contains("is a plan for other.omani.works")));
        let own = preamble(f, Some((f, "the wipe")), plan, read_as(f), |p| p.as_str());
        assert_eq!(own.ok().flatten().as_deref(), Some(f));
        let none = preamble(f, None, None, read_as(f), |p| p.as_str());
        assert!(none.is_ok_and(|p| p.is_none()));
    }
}
