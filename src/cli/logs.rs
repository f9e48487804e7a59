//! `sovtui logs [--follow]`: print the cockpit's log file, optionally following it like
//! `tail -f`, across the daily roll-over.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::{CliError, CliResult};
use crate::logging;

pub fn run(follow: bool) -> CliResult {
    let dir = logging::log_dir();
    let Some(mut file_path) = logging::newest_log_file(&dir) else {
        if !follow {
            return Err(CliError::Failed(anyhow::anyhow!(
                "no log yet in {} (it is written once the cockpit has run)",
                dir.display()
            )));
        }
        say!("sovtui: waiting for a log in {}", dir.display());
        let path = wait_for_log(&dir);
        return follow_from(path, 0);
    };
    let mut out = std::io::stdout().lock();
    let mut f = std::fs::File::open(&file_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file_path.display()))?;
    let copied = std::io::copy(&mut f, &mut out).map_err(anyhow::Error::from)?;
    out.flush().map_err(anyhow::Error::from)?;
    drop(out);
    if !follow {
        return Ok(());
    }
    file_path = file_path.clone();
    follow_from(file_path, copied)
}

fn wait_for_log(dir: &std::path::Path) -> PathBuf {
    loop {
        if let Some(p) = logging::newest_log_file(dir) {
            return p;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Print what is appended from `offset` on, switching to a newer file when the log rolls over.
/// Runs until interrupted.
fn follow_from(mut path: PathBuf, mut offset: u64) -> CliResult {
    let dir = logging::log_dir();
    let mut buf = Vec::new();
    loop {
        if let Ok(mut f) = std::fs::File::open(&path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < offset {
                // Truncated or replaced: start over.
                offset = 0;
            }
            if len > offset {
                buf.clear();
                f.seek(SeekFrom::Start(offset))
                    .map_err(anyhow::Error::from)?;
                f.read_to_end(&mut buf).map_err(anyhow::Error::from)?;
                offset += buf.len() as u64;
                let mut out = std::io::stdout().lock();
                if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                    // The reader went away (e.g. `| head`): done.
                    return Ok(());
                }
            }
        }
        if let Some(newer) = logging::newest_log_file(&dir).filter(|p| *p != path) {
            path = newer;
            offset = 0;
            continue;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
