//! Evidence from what the fleet view already watches: a [`SovereignStatus`] carries every
//! bp-* HelmRelease with its conditions, the Kustomizations and the GitRepositories, so the
//! cockpit can pre-answer Q7/Q8 without listing anything again.

use crate::provision::fleet::model::{FluxObjectStatus, SovereignStatus};
use crate::provision::troubleshoot::evidence::Evidence;
use crate::provision::troubleshoot::gather::kube::ready_text;

fn flux_object_line(o: &FluxObjectStatus) -> String {
    let status = match o.ready {
        Some(true) => "True",
        Some(false) => "False",
        None => "absent",
    };
    ready_text(
        &format!("{}/{}", o.namespace, o.name),
        status,
        &o.reason,
        &o.message,
    )
}

/// Add the fleet's view of one Sovereign. Nothing is marked gathered until the connection has
/// been live at least once (an empty list from a cluster never reached is not evidence).
pub fn add_sovereign_status(ev: &mut Evidence, s: &SovereignStatus) {
    if !s.connection.is_live() && s.last_live.is_none() {
        ev.error(format!(
            "{}: cluster not reached yet ({})",
            s.fqdn,
            s.connection.label()
        ));
        return;
    }
    if !s.connection.is_live() {
        ev.error(format!(
            "{}: cluster connection {}; Flux evidence is the last state seen",
            s.fqdn,
            s.connection.label()
        ));
    }
    ev.mark("flux.helmrelease");
    for c in s.components.iter().filter(|c| c.name.starts_with("bp-")) {
        let id = format!("{}/{}", c.namespace, c.name);
        let line = match c.conditions.iter().find(|k| k.type_ == "Ready") {
            Some(r) => ready_text(&id, &r.status, &r.reason, &r.message),
            None => format!("{id} Ready=absent"),
        };
        ev.push(
            "flux.helmrelease",
            line,
            Some(format!("{}: HelmRelease {id}", s.fqdn)),
        );
    }
    ev.mark("flux.kustomization");
    for k in &s.kustomizations {
        ev.push(
            "flux.kustomization",
            flux_object_line(k),
            Some(format!(
                "{}: Kustomization {}/{}",
                s.fqdn, k.namespace, k.name
            )),
        );
    }
    ev.mark("flux.gitrepository");
    for g in &s.git_repositories {
        ev.push(
            "flux.gitrepository",
            flux_object_line(g),
            Some(format!(
                "{}: GitRepository {}/{}",
                s.fqdn, g.namespace, g.name
            )),
        );
    }
}
