//! Where sovtui reads and writes: XDG paths, the fleet file, secret sources, file watching.

pub mod fleet_file;
pub mod paths;
pub mod private_fs;
