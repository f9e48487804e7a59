//! XDG locations: config in `$XDG_CONFIG_HOME/sovtui/`, state and logs in `$XDG_STATE_HOME/sovtui/`.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn xdg(var: &str, fallback: &[&str]) -> PathBuf {
    match std::env::var_os(var) {
        // The spec says relative values are invalid and must be ignored.
        Some(v) if PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => fallback.iter().fold(home(), |p, part| p.join(part)),
    }
}

/// `$XDG_CONFIG_HOME/sovtui` (default `~/.config/sovtui`).
pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", &[".config"]).join("sovtui")
}

/// `$XDG_STATE_HOME/sovtui` (default `~/.local/state/sovtui`): logs, journals, audit log, drafts.
pub fn state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", &[".local", "state"]).join("sovtui")
}

/// [`state_dir`], created 0700 when missing and made private (group and other bits dropped) when
/// an older sovtui left it open. Everything sovtui writes lives under it.
pub fn ensure_state_dir() -> std::io::Result<PathBuf> {
    let dir = state_dir();
    super::private_fs::own_dir(&dir)?;
    Ok(dir)
}

/// The default fleet file.
pub fn fleet_file() -> PathBuf {
    config_dir().join("fleet.toml")
}
