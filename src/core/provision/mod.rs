//! The provisioning library: everything the cockpit, the headless CLI and the examples do.
//! Nothing in this tree imports ratatui or crossterm.

pub mod catalyst;
pub mod confirm;
pub mod decommission;
pub mod dns;
pub mod drill;
pub mod fleet;
pub mod flux;
pub mod hetzner;
pub mod journal;
pub mod kube_cap;
pub mod kube_transport;
pub mod limits;
pub mod mothership;
pub mod net_error;
pub mod preflight;
pub mod safe_text;
pub mod tls_sessions;
pub mod troubleshoot;
pub mod wire;
pub mod wizard;
