//! catalyst-api and PDM clients (reqwest): routes, SSE reader, the deployment event fold.

pub mod client;
pub mod error;
pub mod fold;
pub mod follow;
pub mod model;
pub mod pdm;
pub mod sse;

pub use client::{CatalystClient, Kubeconfig, ObjectStorageCredentials, SseStream};
pub use error::{ClientError, ErrorBody};
pub use fold::{DeploymentFold, LogRing, Phase0Failure, PhaseSpan};
pub use follow::{
    FollowMsg, FollowOptions, FollowSink, FollowUpdate, follow, follow_async, spawn_follow,
};
pub use model::{CreateResponse, DeploymentState, Event};
pub use pdm::{Allocation, PdmClient};
