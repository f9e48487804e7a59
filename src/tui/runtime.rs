//! The terminal and the event loop: raw mode and the alternate screen (restored on every exit
//! path, panics included), input, signals, the bounded message channel into the reducer, and
//! frames drawn only when something changed, at most 30 per second, each inside synchronized
//! output (DEC mode 2026). An idle cockpit writes nothing.

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use crossterm::{cursor, execute, queue, terminal};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{App, Msg, Settings};
use super::source::FleetSender;
use super::ui;

/// At most 30 frames per second: changes arriving faster are coalesced, the last state wins.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// Capacity of the channel from background tasks into the reducer.
pub const CHANNEL_CAPACITY: usize = 256;

/// Why the event loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    Quit,
    Signal(&'static str),
    /// The terminal went away (stdin hung up or input failed): an SSH drop.
    InputClosed(String),
}

/// Draw one frame, wrapped in synchronized output so a slow link never shows half a frame.
pub fn draw_frame<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    app: &mut App,
) -> io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|f| ui::draw(f, app))?;
    queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    if let Some(text) = app.clipboard.take() {
        terminal
            .backend_mut()
            .write_all(super::troubleshoot::osc52(&text).as_bytes())?;
    }
    terminal.backend_mut().flush()
}

/// Run the reducer until quit, a shutdown signal, or the input ends.
pub async fn event_loop<W, S, F>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    app: &mut App,
    input: S,
    rx: mpsc::Receiver<Msg>,
    shutdown: F,
) -> io::Result<ExitReason>
where
    W: Write,
    S: Stream<Item = io::Result<Event>> + Unpin,
    F: Future<Output = ExitReason>,
{
    event_loop_observed(terminal, app, input, rx, shutdown, |_| {}).await
}

/// [`event_loop`], calling `on_frame` with the state each frame was drawn from, right after the
/// frame was flushed: the fleet benchmark measures change-to-frame latency through it.
pub async fn event_loop_observed<W, S, F, O>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    app: &mut App,
    mut input: S,
    mut rx: mpsc::Receiver<Msg>,
    shutdown: F,
    mut on_frame: O,
) -> io::Result<ExitReason>
where
    W: Write,
    S: Stream<Item = io::Result<Event>> + Unpin,
    F: Future<Output = ExitReason>,
    O: FnMut(&App),
{
    tokio::pin!(shutdown);
    app.take_dirty();
    draw_frame(terminal, app)?;
    on_frame(app);
    let mut last_frame = Instant::now();
    let mut rx_open = true;
    let far = Duration::from_secs(3600);
    loop {
        let next_frame = app.is_dirty().then(|| last_frame + FRAME_INTERVAL);
        tokio::select! {
            reason = &mut shutdown => return Ok(reason),
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if let Event::Resize(..) = ev {
                        // The next draw resizes the buffers; a full repaint is needed anyway.
                        terminal.autoresize()?;
                    }
                    app.update(Msg::Input(ev));
                }
                Some(Err(e)) => return Ok(ExitReason::InputClosed(e.to_string())),
                None => return Ok(ExitReason::InputClosed("end of input".into())),
            },
            msg = rx.recv(), if rx_open => match msg {
                Some(msg) => {
                    app.update(msg);
                    // Drain what is already queued so a burst costs one frame.
                    while let Ok(msg) = rx.try_recv() {
                        app.update(msg);
                    }
                }
                None => rx_open = false,
            },
            _ = tokio::time::sleep_until(next_frame.unwrap_or_else(|| Instant::now() + far)),
                if next_frame.is_some() => {
                if app.take_dirty() {
                    draw_frame(terminal, app)?;
                    on_frame(app);
                }
                last_frame = Instant::now();
            }
        }
        if app.should_quit() {
            return Ok(ExitReason::Quit);
        }
    }
}

/// Where the real stderr was saved while fd 2 points at the log (−1: not redirected).
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// Point fd 2 at the log file, so nothing a library or child process (kube exec credential
/// plugins) writes to stderr can smear the screen.
fn redirect_stderr(to: Option<&std::path::Path>) {
    let target = to
        .and_then(|p| {
            crate::config::private_fs::open_append(p, crate::config::private_fs::Create::IfMissing)
                .ok()
        })
        .or_else(|| {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok()
        });
    let Some(file) = target else { return };
    // SAFETY: dup/dup2 on valid descriptors; `file` stays open until dup2 returns.
    unsafe {
        let saved = libc::dup(2);
        if saved >= 0 && libc::dup2(file.as_raw_fd(), 2) >= 0 {
            SAVED_STDERR.store(saved, Ordering::SeqCst);
        } else if saved >= 0 {
            libc::close(saved);
        }
    }
}

fn restore_stderr() {
    let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if saved >= 0 {
        // SAFETY: `saved` is the descriptor dup'ed in `redirect_stderr`, owned by us.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
}

/// Leave raw mode and the alternate screen; safe to call twice and from the panic hook.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

fn install_panic_hook(log_hint: String) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        restore_stderr();
        tracing::error!(panic = %info, "sovtui panicked");
        previous(info);
        eprintln!("sovtui: the terminal has been restored; the log is at {log_hint}");
        // A panic in any task (tokio would keep the others running) ends the cockpit: drawing on
        // after the terminal was restored would leave the operator a garbled shell.
        std::process::exit(101);
    }));
}

/// Blocks (on its own thread) until stdin hangs up: the SSH connection or the terminal is gone.
/// crossterm's reader cannot report this (it retries the dead descriptor forever).
fn watch_stdin_hangup() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("stdin-hangup".into())
        .spawn(move || {
            let mut pfd = libc::pollfd {
                fd: 0,
                events: 0,
                revents: 0,
            };
            loop {
                // SAFETY: one valid pollfd; with no requested events only HUP/ERR/NVAL wake us.
                let n = unsafe { libc::poll(&mut pfd, 1, -1) };
                if n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    let _ = tx.send(());
                    return;
                }
                if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
        })
        .ok();
    rx
}

async fn shutdown_signal(hangup: tokio::sync::oneshot::Receiver<()>) -> ExitReason {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return std::future::pending().await;
    };
    let hangup = async {
        match hangup.await {
            Ok(()) => {}
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = hup.recv() => ExitReason::Signal("SIGHUP"),
        _ = term.recv() => ExitReason::Signal("SIGTERM"),
        _ = int.recv() => ExitReason::Signal("SIGINT"),
        _ = hangup => ExitReason::InputClosed("stdin hung up".into()),
    }
}

/// Run the cockpit on this process's terminal until the operator quits. `source` is spawned
/// with the sending half of the reducer's channel and is the only way fleet data arrives.
pub fn run<F, Fut>(settings: Settings, source: F) -> anyhow::Result<ExitReason>
where
    F: FnOnce(FleetSender) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        anyhow::bail!("the cockpit needs a terminal on stdin and stdout");
    }
    let log_file = crate::logging::current_log_file();
    let log_hint = log_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| crate::logging::log_dir().display().to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut app = App::new(settings);
    app.offer_unfinished();

    install_panic_hook(log_hint);
    redirect_stderr(log_file.as_deref());
    let result = (|| -> anyhow::Result<ExitReason> {
        terminal::enable_raw_mode()?;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        let backend = CrosstermBackend::new(io::BufWriter::with_capacity(1 << 16, io::stdout()));
        let mut term = Terminal::new(backend)?;
        runtime.block_on(async {
            let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
            app.effects.tx = Some(tx.clone());
            let _watcher = app
                .watched_dir()
                .and_then(|dir| super::watch::spawn(&dir, tx.clone()));
            tokio::spawn(source(FleetSender::new(tx)));
            let shutdown = shutdown_signal(watch_stdin_hangup());
            let reason = event_loop(&mut term, &mut app, EventStream::new(), rx, shutdown).await?;
            Ok(reason)
        })
    })();
    restore_terminal();
    restore_stderr();
    runtime.shutdown_timeout(Duration::from_millis(500));
    match &result {
        Ok(reason) => tracing::info!(?reason, "cockpit ended"),
        Err(e) => tracing::error!(error = %e, "cockpit failed"),
    }
    result
}
