//! Evidence gatherers: catalyst-api (plain data in, so any catalyst client plugs in) and a
//! Sovereign cluster (kube-rs, dynamic API over the Flux kinds, pods, certificates, events), and
//! HTTP probes of its public hosts.

pub mod catalyst;
pub mod fleet;
pub mod kube;
pub mod probe;
pub mod sources;

pub use catalyst::CatalystSnapshot;
pub use kube::ClusterSnapshot;
pub use sources::{Gathered, SourceResult, Sources};
