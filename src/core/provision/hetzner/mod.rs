//! One Hetzner resource model (contract §5.3) with plan/apply and §2.2/§2.3 recovery (hcloud crate).

pub mod apply;
pub mod client;
pub mod cloudinit;
pub mod external;
pub mod inventory;
pub mod model;
pub mod naming;
pub mod plan;
pub mod recover;
pub mod request;
