//! Fleet: Flux status from many Sovereign clusters at once.

pub mod model;
