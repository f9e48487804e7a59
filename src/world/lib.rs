//! sovtui-world: the simulated OpenOva world on loopback (see `sim`).
//!
//! It implements the contract on its own and takes only wire types from the library, so every
//! library-against-world test checks two implementations (docs/WORLD.md).

pub mod sim;

// `crate::provision::…` names the library's wire types inside the world.
use sovtui_core::provision;
