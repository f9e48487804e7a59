//! sovtui-core: the provisioning library every front-end uses — the cockpit, the headless CLI and
//! the examples. It has no terminal and no server crate among its dependencies, so nothing here
//! can draw or serve; `provision` holds the logic, `config` where sovtui reads and writes.

pub mod config;
pub mod provision;
