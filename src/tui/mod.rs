//! The cockpit: app state, one reducer, views, themes, keymaps, the terminal and its render loop.
