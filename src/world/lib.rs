//! sovtui-world: the simulated OpenOva world on loopback (see `sim`).
//!
//! It implements the contract on its own and takes only wire types from the library, so every
//! library-against-world test checks two implementations (docs/WORLD.md).

pub mod sim;

/// The library as the world sees it: `crate::provision::wire` and nothing else, so the compiler
/// refuses any other path into the library (`sim::independence` also checks the sources).
mod provision {
    pub use sovtui_core::provision::wire;
}
