//! The troubleshooting walk view in the cockpit: snapshots of a question with the evidence's
//! answer marked and of a leaf with its recovery, plus back / restart / jump / copy through the
//! reducer. The PTY walk through `sovtui demo` lives at the end.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sovtui::provision::fleet::model::SovereignStatus;
use sovtui::tui::app::{App, FleetMsg, Msg, Settings};
use sovtui::tui::source::{DEMO_FIXTURE, DEMO_FIXTURE_PATH, parse_fleet};
use sovtui::tui::theme::ColorLevel;
use sovtui::tui::ui;

fn app_with(fleet: Vec<SovereignStatus>) -> App {
    let mut app = App::new(Settings {
        banner: "test".into(),
        level: ColorLevel::Mono,
        theme: None,
        keymap: None,
        config_dir: None,
    });
    app.update(Msg::Fleet(FleetMsg::Snapshot(fleet)));
    app
}

fn demo_fleet() -> Vec<SovereignStatus> {
    parse_fleet(DEMO_FIXTURE_PATH, DEMO_FIXTURE).expect("fixture")
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Input(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| ui::draw(f, app)).expect("draw");
    t
}

fn screen_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn open(app: &mut App) {
    chars(app, ":troubleshoot");
    key(app, KeyCode::Enter);
    assert!(app.troubleshoot.is_some(), "view opened: {:?}", app.notice);
}

#[test]
fn walk_question_marks_the_evidence_answer() {
    let mut app = app_with(demo_fleet());
    open(&mut app);
    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    assert!(text.contains("Did wizard reach tofu-plan?"), "{text}");
    insta::assert_snapshot!("troubleshoot_question", t.backend());
}

#[test]
fn jump_to_a_leaf_shows_recovery_with_the_fqdn_and_copies_it() {
    let mut app = app_with(demo_fleet());
    let fqdn = app.fleet[0].fqdn.clone();
    open(&mut app);
    chars(&mut app, "j");
    chars(&mut app, "C9");
    key(&mut app, KeyCode::Enter);
    let t = render(&mut app, 120, 40);
    let text = screen_text(&t);
    assert!(text.contains("Recovery:"), "{text}");
    assert!(text.contains(&fqdn), "FQDN filled in: {text}");
    insta::assert_snapshot!("troubleshoot_leaf_c9", t.backend());

    chars(&mut app, "y");
    let clip = app.clipboard.clone().expect("commands for the clipboard");
    assert!(!clip.is_empty() && !clip.contains("{fqdn}"), "{clip}");
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("OSC 52"))
    );

    // Back from the jump returns to the question; restart goes to Q1 with an empty path.
    key(&mut app, KeyCode::Esc);
    let t = app.troubleshoot.as_ref().expect("still open");
    assert_eq!(t.walk().at(), "Q1");
    chars(&mut app, "2"); // Q1 "Yes"
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q3");
    chars(&mut app, "r");
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q1");
    // Esc at the first question leaves the view.
    key(&mut app, KeyCode::Esc);
    assert!(app.troubleshoot.is_none());
}

#[test]
fn unknown_leaf_says_so_and_keeps_the_walk() {
    let mut app = app_with(demo_fleet());
    open(&mut app);
    chars(&mut app, "j");
    chars(&mut app, "C99");
    key(&mut app, KeyCode::Enter);
    assert!(
        app.notice.as_ref().is_some_and(|n| n.text.contains("C99")),
        "{:?}",
        app.notice
    );
    assert_eq!(app.troubleshoot.as_ref().expect("open").walk().at(), "Q1");
}

#[test]
fn without_a_fleet_it_asks_for_a_sovereign() {
    let mut app = app_with(Vec::new());
    chars(&mut app, ":troubleshoot");
    key(&mut app, KeyCode::Enter);
    assert!(app.troubleshoot.is_none());
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.contains("select a Sovereign"))
    );
}

// ───────────────────── by hand, in a pseudo-terminal: `sovtui demo` ─────────────────────

mod pty {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::{Duration, Instant};

    use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

    const TIMEOUT: Duration = Duration::from_secs(60);

    pub struct Session {
        child: Box<dyn Child + Send + Sync>,
        writer: Box<dyn Write + Send>,
        stop: Arc<AtomicBool>,
        rx: mpsc::Receiver<Vec<u8>>,
        parser: vt100::Parser,
        pub raw: Vec<u8>,
        eof: bool,
    }

    impl Session {
        pub fn start(dirs: &Path) -> Session {
            let pair = native_pty_system()
                .openpty(PtySize {
                    rows: 40,
                    cols: 120,
                    pixel_width: 0,
                    pixel_height: 0,
                })
                .expect("openpty");
            let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_sovtui"));
            cmd.arg("demo");
            cmd.env_clear();
            cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
            cmd.env("HOME", dirs);
            cmd.env("XDG_STATE_HOME", dirs.join("state"));
            cmd.env("XDG_CONFIG_HOME", dirs.join("config"));
            cmd.env("TERM", "xterm-256color");
            let child = pair.slave.spawn_command(cmd).expect("spawn sovtui");
            drop(pair.slave);
            let writer = pair.master.take_writer().expect("writer");
            let master_fd = pair.master.as_raw_fd().expect("master fd");
            // SAFETY: dup of a valid descriptor; the File owns the duplicate.
            let mut reader = unsafe { std::fs::File::from_raw_fd(libc::dup(master_fd)) };
            // The master itself stays open until the session ends (dropping it hangs up).
            std::mem::forget(pair.master);
            let stop = Arc::new(AtomicBool::new(false));
            let (tx, rx) = mpsc::channel();
            let stop_reader = stop.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
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
            Session {
                child,
                writer,
                stop,
                rx,
                parser: vt100::Parser::new(
                    std::num::NonZeroU16::new(40).expect("rows"),
                    std::num::NonZeroU16::new(120).expect("cols"),
                    0,
                ),
                raw: Vec::new(),
                eof: false,
            }
        }

        fn pump(&mut self, wait: Duration) {
            match self.rx.recv_timeout(wait) {
                Ok(chunk) => {
                    self.parser.process(&chunk);
                    self.raw.extend_from_slice(&chunk);
                    while let Ok(more) = self.rx.try_recv() {
                        self.parser.process(&more);
                        self.raw.extend_from_slice(&more);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => self.eof = true,
            }
        }

        pub fn screen(&self) -> String {
            self.parser.screen().contents()
        }

        fn frame_complete(&self) -> bool {
            let text = String::from_utf8_lossy(&self.raw);
            match (text.rfind("\x1b[?2026h"), text.rfind("\x1b[?2026l")) {
                (Some(begin), Some(end)) => end > begin,
                (None, _) => true,
                (Some(_), None) => false,
            }
        }

        pub fn wait_for(&mut self, text: &str) {
            let deadline = Instant::now() + TIMEOUT;
            while !(self.screen().contains(text) && self.frame_complete()) {
                if Instant::now() > deadline || self.eof {
                    panic!(
                        "screen never showed {text:?} (eof: {}):\n{}",
                        self.eof,
                        self.screen()
                    );
                }
                self.pump(Duration::from_millis(100));
            }
        }

        pub fn send(&mut self, keys: &str) {
            self.writer.write_all(keys.as_bytes()).expect("write keys");
            self.writer.flush().expect("flush keys");
        }

        pub fn wait_exit(&mut self) -> bool {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    return status.success();
                }
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    panic!("sovtui did not exit:\n{}", self.screen());
                }
                self.pump(Duration::from_millis(50));
            }
        }
    }

    impl Drop for Session {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if self.child.try_wait().ok().flatten().is_none() {
                let _ = self.child.kill();
            }
        }
    }
}

#[test]
fn pty_walks_one_path_by_hand_in_the_demo() {
    let dirs = tempfile::tempdir().expect("tempdir");
    let mut s = pty::Session::start(dirs.path());
    // The demo is the simulated world; salalah's bp-harbor fails to install.
    s.wait_for("salalah.omani.works");
    s.wait_for("bp-harbor fail");
    s.send("\x1b[B"); // select salalah
    s.send(":troubleshoot\r");
    s.wait_for("Troubleshoot · salalah.omani.works");
    s.wait_for("Did wizard reach tofu-plan?");
    // Enter takes the answer the fleet's Flux evidence marks.
    s.send("\r");
    s.wait_for("tofu-apply succeed?");
    s.send("\r");
    s.wait_for("cloud-init finish 5min?");
    s.send("\r");
    s.wait_for("bootstrap-kit Ready?");
    s.send("\r");
    s.wait_for("bp-* HelmReleases Ready?");
    // A failure no rule knows: the walk asks instead of guessing.
    s.wait_for("answer it yourself");
    s.wait_for("context deadline exceeded"); // the failing release, shown as material

    s.send("\x1b"); // back to Q7
    s.wait_for("path: Q1 Yes=⚑ › Q3 Yes=⚑ › Q4 Yes=⚑ › Q7");
    s.send("j");
    s.wait_for("jump to leaf:");
    s.send("C5\r");
    s.wait_for("Recovery:");
    s.send("y");
    s.wait_for("(OSC 52)");
    let raw = String::from_utf8_lossy(&s.raw).into_owned();
    assert!(
        raw.contains("\x1b]52;c;"),
        "the clipboard sequence was written"
    );
    s.send("\x03");
    assert!(s.wait_exit(), "clean exit:\n{}", s.screen());
}
