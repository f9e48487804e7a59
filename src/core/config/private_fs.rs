//! Every file sovtui writes is private to the operator: directories 0700, files 0600 from the
//! moment they exist (never created open and tightened later), because journals, reports, drafts
//! and logs name Sovereigns, objects and sometimes secrets. Every writer goes through here.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` and every missing parent with mode 0700. Directories that already exist keep
/// their mode: an operator's `~/.ssh` or `--config` directory is not ours to change.
pub fn create_dirs(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    b.mode(DIR_MODE);
    b.create(dir)
}

/// [`create_dirs`], then take group and other access away from `dir` itself: for directories
/// sovtui owns (the state dir and what is under it) that an older sovtui may have left 0755.
/// The owner's bits are kept, so a state dir made read-only on purpose stays read-only.
pub fn own_dir(dir: &Path) -> io::Result<()> {
    create_dirs(dir)?;
    #[cfg(unix)]
    {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// How [`open_append`] treats a missing or existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// The file must not exist yet (a new journal never continues an old one by accident).
    New,
    /// Create it when missing (logs, the audit log).
    IfMissing,
    /// It must exist (a journal that vanished mid-run is a failure, not a fresh start).
    No,
}

/// Open `path` for appending; a file it creates is 0600 from the start and its missing parent
/// directories 0700.
pub fn open_append(path: &Path, create: Create) -> io::Result<File> {
    if create != Create::No
        && let Some(parent) = path.parent()
    {
        create_dirs(parent)?;
    }
    let mut o = OpenOptions::new();
    o.append(true);
    match create {
        Create::New => {
            o.create_new(true);
        }
        Create::IfMissing => {
            o.create(true);
        }
        Create::No => {}
    }
    #[cfg(unix)]
    o.mode(FILE_MODE);
    o.open(path)
}

/// Create (or, with `overwrite`, replace in place) `path` with mode 0600 and `data`, synced.
/// An existing file keeps its old mode on open, so it is tightened before anything is written.
pub fn write_file(path: &Path, data: &[u8], overwrite: bool) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        create_dirs(parent)?;
    }
    let mut o = OpenOptions::new();
    o.write(true);
    if overwrite {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    #[cfg(unix)]
    o.mode(FILE_MODE);
    let mut f = o.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    f.write_all(data)?;
    f.sync_all()
}

/// Replace `path` atomically (a sibling temporary file, synced, then renamed over it), mode 0600:
/// a reader never sees half a file, a crash leaves the old one.
pub fn replace_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = write_file(&tmp, data, true).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Make a new directory entry durable (after creating a file in `dir`).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn what_we_create_is_private_and_existing_dirs_keep_their_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).expect("mkdir");
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).expect("chmod");

        let file = theirs.join("a/b/file");
        write_file(&file, b"x", false).expect("write");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&theirs.join("a")), 0o700);
        assert_eq!(mode(&theirs.join("a/b")), 0o700);
        assert_eq!(
            mode(&theirs),
            0o755,
            "an existing parent is not ours to change"
        );
        assert!(
            write_file(&file, b"y", false).is_err(),
            "no overwrite unless asked"
        );

        let loose = theirs.join("loose");
        std::fs::write(&loose, "old").expect("write");
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        replace_file(&loose, b"new").expect("replace");
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(std::fs::read_to_string(&loose).expect("read"), "new");

        let log = theirs.join("logs/today.log");
        drop(open_append(&log, Create::IfMissing).expect("append"));
        assert_eq!(mode(&log), 0o600);
        assert!(
            open_append(&log, Create::New).is_err(),
            "never continues one"
        );
        assert!(open_append(&theirs.join("gone"), Create::No).is_err());
    }

    #[test]
    fn own_dir_takes_group_and_other_away_and_keeps_the_owner_bits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ours = tmp.path().join("state");
        std::fs::create_dir(&ours).expect("mkdir");
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        own_dir(&ours).expect("own");
        assert_eq!(mode(&ours), 0o700);
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        own_dir(&ours).expect("own");
        assert_eq!(mode(&ours), 0o500, "a read-only state dir stays read-only");
        std::fs::set_permissions(&ours, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
}
