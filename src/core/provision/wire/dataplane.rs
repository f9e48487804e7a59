//! What the simulated world's modelled data plane says about itself on the PostgreSQL wire: the
//! start of its `SELECT version()` answer. A real server answers `PostgreSQL …`; the drill labels
//! its data plane by what the server says, never by where it came from.

/// The first words of the modelled data plane's `version()`.
pub const MODELLED_VERSION_PREFIX: &str = "sovtui modelled data plane";
