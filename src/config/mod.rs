//! Where sovtui reads and writes: XDG paths, the fleet file, secret sources, file watching.

pub mod paths;
