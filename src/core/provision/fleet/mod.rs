//! Fleet: Flux status from many Sovereign clusters at once.
//!
//! `Fleet::start` reads the fleet file, starts one watcher task per Sovereign (HelmRelease,
//! Kustomization, GitRepository) and returns a handle plus a bounded receiver of `FleetEvent`s.
//! The fleet file and the kubeconfigs are watched: Sovereigns appear and disappear live, and a
//! broken file keeps the last good fleet while an event says what is wrong and where.

pub mod actions;
pub mod arrange;
pub mod cluster;
pub mod dag;
pub mod events;
pub mod hub;
pub mod join;
pub mod model;
pub mod objects;
pub mod ondemand;
mod watch_lines;

pub use actions::{AuditRecord, FluxAction, ObjectRef};
pub use arrange::{FleetIndex, GroupBy, Health, Order};
pub use cluster::WatchTuning;
pub use events::FleetEvent;
pub use hub::{Fleet, FleetHandle, FleetOptions, FleetSnapshot};
pub use join::{JoinError, JoinOutcome, join};
pub use objects::FluxKind;
pub use ondemand::{EventView, PodView};
