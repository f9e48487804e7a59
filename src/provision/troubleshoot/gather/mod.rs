//! Evidence gatherers: catalyst-api (plain data in, so any catalyst client plugs in) and a
//! Sovereign cluster (kube-rs, dynamic API over the Flux kinds, pods, certificates, events).

pub mod catalyst;
pub mod kube;

pub use catalyst::CatalystSnapshot;
pub use kube::ClusterSnapshot;
