//! One Hetzner resource model (contract §5.3) with plan/apply and §2.2/§2.3 recovery (hcloud crate).

pub mod apply;
pub mod client;
pub mod cloudinit;
pub mod credentials;
pub mod external;
pub mod inventory;
pub mod join_token;
pub mod model;
pub mod naming;
pub mod ownership;
pub mod plan;
pub mod planfile;
pub mod recover;
pub mod request;
