//! The real `sovtui` binary on a pseudo-terminal: keys in, the screen parsed back with vt100,
//! the raw bytes kept for escape-sequence checks, hang-ups and exits observed. Waits fail at the
//! test's line (`#[track_caller]`) with the screen as it was.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

/// How long one wait (for a screen, for the exit) may take unless the spawn says otherwise.
pub const WAIT: Duration = Duration::from_secs(60);

const BEGIN_FRAME: &[u8] = b"\x1b[?2026h";
const END_FRAME: &[u8] = b"\x1b[?2026l";

/// What to run and how: `sovtui demo` on a 120×40 xterm-256color terminal by default.
pub struct Spawn {
    /// The program (the sovtui binary unless set).
    program: Option<std::path::PathBuf>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    rows: u16,
    cols: u16,
    wait: Duration,
    overall: Option<Duration>,
}

impl Spawn {
    pub fn demo() -> Spawn {
        Spawn {
            program: None,
            args: vec!["demo".into()],
            envs: Vec::new(),
            rows: 40,
            cols: 120,
            wait: WAIT,
            overall: None,
        }
    }

    /// Run another program on the terminal (e.g. an SSH client that runs sovtui remotely).
    pub fn program(mut self, program: &Path) -> Spawn {
        self.program = Some(program.to_path_buf());
        self
    }

    /// The binary's arguments (instead of `demo`).
    pub fn args(mut self, args: &[&str]) -> Spawn {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// One more environment variable (set after, so over, the defaults).
    pub fn env(mut self, key: &str, value: &str) -> Spawn {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn size(mut self, rows: u16, cols: u16) -> Spawn {
        self.rows = rows;
        self.cols = cols;
        self
    }

    /// The default bound of each wait (`WAIT` unless set).
    pub fn wait(mut self, wait: Duration) -> Spawn {
        self.wait = wait;
        self
    }

    /// A bound on the whole session: any wait past it fails, whatever its own timeout.
    pub fn overall(mut self, overall: Duration) -> Spawn {
        self.overall = Some(overall);
        self
    }

    /// Spawn with a clean environment: PATH, HOME=`dirs`, XDG state/config under it, TERM, and
    /// whatever `env` added.
    pub fn start(self, dirs: &Path) -> Session {
        let size = PtySize {
            rows: self.rows,
            cols: self.cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        let pair = native_pty_system().openpty(size).expect("openpty");
        let mut cmd = CommandBuilder::new(
            self.program
                .clone()
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_sovtui").into()),
        );
        cmd.args(&self.args);
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", dirs);
        cmd.env("XDG_STATE_HOME", dirs.join("state"));
        cmd.env("XDG_CONFIG_HOME", dirs.join("config"));
        cmd.env("TERM", "xterm-256color");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn sovtui");
        drop(pair.slave);
        let writer = pair.master.take_writer().expect("writer");
        let (stop, rx) = read_in_background(pair.master.as_ref());
        Session {
            child,
            master: Some(pair.master),
            writer: Some(writer),
            stop,
            rx,
            parser: vt100::Parser::new(nonzero(self.rows), nonzero(self.cols), 0),
            raw: Vec::new(),
            in_frame: false,
            eof: false,
            started: Instant::now(),
            wait: self.wait,
            overall: self.overall,
        }
    }
}

/// Our own duplicate of the master, polled with a timeout so the reader can be stopped and
/// every master descriptor closed (what an SSH drop does to the terminal).
fn read_in_background(master: &dyn MasterPty) -> (Arc<AtomicBool>, mpsc::Receiver<Vec<u8>>) {
    let master_fd = master.as_raw_fd().expect("master fd");
    // SAFETY: dup of a valid descriptor; the File owns the duplicate.
    let mut reader = unsafe { std::fs::File::from_raw_fd(libc::dup(master_fd)) };
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let stop_reader = stop.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while !stop_reader.load(Ordering::SeqCst) {
            let mut pfd = libc::pollfd {
                fd: reader.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 50) } == 0 {
                continue;
            }
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (stop, rx)
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a terminal dimension above zero")
}

pub struct Session {
    child: Box<dyn Child + Send + Sync>,
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    stop: Arc<AtomicBool>,
    rx: mpsc::Receiver<Vec<u8>>,
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// The last synchronized-output marker seen began a frame that has not ended yet.
    in_frame: bool,
    eof: bool,
    started: Instant,
    wait: Duration,
    overall: Option<Duration>,
}

impl Session {
    /// Take in what the program wrote, waiting up to `wait` for the first piece.
    pub fn pump(&mut self, wait: Duration) {
        match self.rx.recv_timeout(wait) {
            Ok(chunk) => {
                self.take_in(&chunk);
                while let Ok(more) = self.rx.try_recv() {
                    self.take_in(&more);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => self.eof = true,
        }
    }

    fn take_in(&mut self, chunk: &[u8]) {
        // A marker may straddle two chunks: look again at the previous chunk's tail.
        let from = self.raw.len().saturating_sub(BEGIN_FRAME.len() - 1);
        self.raw.extend_from_slice(chunk);
        self.parser.process(chunk);
        let fresh = &self.raw[from..];
        match (rfind(fresh, BEGIN_FRAME), rfind(fresh, END_FRAME)) {
            (Some(begin), Some(end)) => self.in_frame = begin > end,
            (Some(_), None) => self.in_frame = true,
            (None, Some(_)) => self.in_frame = false,
            (None, None) => {}
        }
    }

    /// A frame arrives in pieces; judge the screen only once the last one has ended
    /// (synchronized output: every frame ends with ESU).
    pub fn frame_complete(&self) -> bool {
        !self.in_frame
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    pub fn alternate_screen(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// Every byte the program wrote so far.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("pid") as i32
    }

    /// Wait until the complete screen shows `text` (something that can only appear after the
    /// last key).
    #[track_caller]
    pub fn wait_for(&mut self, text: &str) {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text));
    }

    /// Wait until the complete screen satisfies `pred`.
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, pred: impl Fn(&str) -> bool) {
        self.wait_until_within(what, self.wait, pred);
    }

    /// `wait_until` with its own bound (the session's overall bound still holds).
    #[track_caller]
    pub fn wait_until_within(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !(self.frame_complete() && pred(&self.screen())) {
            let overdue = self.overall.is_some_and(|o| self.started.elapsed() > o);
            if Instant::now() > deadline || overdue || self.eof {
                panic!(
                    "screen never showed {what} (eof: {}, {:?} into the session):\n{}",
                    self.eof,
                    self.started.elapsed(),
                    self.screen()
                );
            }
            self.pump(Duration::from_millis(100));
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.send_bytes(keys.as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let w = self.writer.as_mut().expect("terminal not hung up");
        w.write_all(bytes).expect("write keys");
        w.flush().expect("flush keys");
    }

    /// Resize the terminal (the program gets SIGWINCH) and the parsed screen with it.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.master
            .as_ref()
            .expect("terminal not hung up")
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize");
        self.parser
            .screen_mut()
            .set_size(nonzero(rows), nonzero(cols));
    }

    /// The terminal goes away: the reader stops and every master descriptor is closed, as when
    /// sshd drops the session. Nothing more is read or sent afterwards.
    pub fn hang_up(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        drop(self.writer.take());
        drop(self.master.take());
    }

    /// Wait for the program to exit; returns whether it exited successfully.
    #[track_caller]
    pub fn wait_exit(&mut self) -> bool {
        self.wait_exit_status().success()
    }

    /// Wait for the program to exit (then collect what it wrote before); kills it and fails
    /// after the session's wait bound.
    #[track_caller]
    pub fn wait_exit_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while !self.eof && Instant::now() < deadline {
                    self.pump(Duration::from_millis(200));
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "sovtui did not exit within {:?} (terminal hung up: {}):\n{}",
                    self.wait,
                    self.master.is_none(),
                    self.screen()
                );
            }
            if self.eof {
                // Nothing left to read (hung up): waiting for the exit, not for time.
                std::thread::sleep(Duration::from_millis(20));
            } else {
                self.pump(Duration::from_millis(50));
            }
        }
    }
}

/// A test that fails half-way leaves no program running.
impl Drop for Session {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
