//! Wire types: the JSON bodies and events of catalyst-api (contract §1, §2), field names matching
//! the wire byte for byte, nothing else.
//!
//! This is the only part of the library the simulated world may import (docs/WORLD.md): the world
//! implements every rule of the contract itself, so a library-vs-world test checks two
//! implementations. A type here therefore carries no rule: validation, mirroring, derivations and
//! "is this terminal?" live in `impl` blocks next to the library code that applies them
//! (`provision::catalyst::model`, `provision::wizard::request`, `provision::hetzner::request`).
//! The one exception is `Debug` of a body holding a secret, which masks it.

pub mod catalyst;
pub mod dataplane;
pub mod registry;
pub mod request;

pub use catalyst::{
    ComponentSnapshot, ComponentsState, CreateResponse, CredentialsVerdict, DeploymentResult,
    DeploymentState, Event, EventsResponse, GeneratedKey, RetryResponse, SubdomainVerdict,
};
pub use request::{DeploymentRequest, RegionRequest};
