//! The demo as operators meet it: over a real SSH session. The test starts Debian's OpenSSH
//! server on loopback with its own config, host key and authorized key (all in a temp dir), and
//! runs `ssh -tt` on a pseudo-terminal — 80×24, TERM=xterm-256color, no COLORTERM — whose remote
//! command is `sovtui demo`. It checks the screen, that keys work, that a 256-colour terminal
//! gets no 24-bit colour, and that killing the SSH client ends the cockpit on the server side:
//! the process and everything it started gone, through the hang-up path that restores the
//! terminal (the log's "cockpit ended"). Skips with a note unless sshd is installed (fails when
//! SOVTUI_REQUIRE_TOOLS=1).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::pty::Spawn;

const SSHD: &str = "/usr/sbin/sshd";
/// Bound on each wait for a state (sshd listening, a process gone).
const PATIENCE: Duration = Duration::from_secs(60);

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen {}", path.display());
}

fn login_name() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null(), "no passwd entry for this user");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// sshd in the foreground; killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start sshd on a free loopback port. sshd cannot be given port 0, so a port is picked by
/// binding and releasing it; if another process takes it first, sshd says so and we retry.
fn start_sshd(dir: &Path) -> Sshd {
    for attempt in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("sshd_config");
        let d = dir.display();
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nPrintMotd no\nPrintLastLog no\n\
                 LogLevel VERBOSE\n"
            ),
        )
        .expect("sshd_config");
        let log = dir.join(format!("sshd-{attempt}.log"));
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("sshd log"))
            .spawn()
            .expect("sshd starts");
        let mut sshd = Sshd { child, port, log };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sshd;
            }
            if let Some(status) = sshd.child.try_wait().expect("try_wait") {
                let text = std::fs::read_to_string(&sshd.log).unwrap_or_default();
                assert!(
                    text.contains("Address already in use") || text.contains("Bind to port"),
                    "sshd exited ({status}):\n{text}"
                );
                break; // the port was taken meanwhile: another one
            }
            assert!(Instant::now() < deadline, "sshd never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("no free port for sshd after 5 attempts");
}

/// Gone: no such process, or a zombie its parent has yet to reap (it has exited).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Every process below `root` (children, their children, …).
fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok())
        {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut k = 0;
    while k < found.len() {
        let p = found[k];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        k += 1;
    }
    found.remove(0);
    found
}

#[test]
fn the_demo_over_a_real_ssh_session_renders_takes_keys_and_ends_when_the_client_dies() {
    const TEST: &str =
        "the_demo_over_a_real_ssh_session_renders_takes_keys_and_ends_when_the_client_dies";
    if !Path::new(SSHD).is_file() {
        support::tools::missing(TEST, "sshd not found (Debian: openssh-server)");
        return;
    }
    let (Some(ssh), Some(_)) = (tool("ssh"), tool("ssh-keygen")) else {
        support::tools::missing(TEST, "ssh or ssh-keygen not found (Debian: openssh-client)");
        return;
    };
    // sshd insists on its privilege-separation directory (Debian creates it at service start).
    if !Path::new("/run/sshd").is_dir() && std::fs::create_dir_all("/run/sshd").is_err() {
        support::tools::missing(TEST, "/run/sshd is missing and cannot be created");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("id"));
    std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).expect("authorized_keys");
    let home = d.join("home");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(home.join("client")).expect("client home");
    let sshd = start_sshd(d);

    // The remote side: note the cockpit's pid, then become it (exec keeps the pid).
    let remote = format!(
        "echo $$ > {d}/cockpit.pid && exec env -u COLORTERM HOME={h} XDG_STATE_HOME={h}/state \
         XDG_CONFIG_HOME={h}/config {bin} demo",
        d = d.display(),
        h = home.display(),
        bin = env!("CARGO_BIN_EXE_sovtui"),
    );
    let port = sshd.port.to_string();
    let id = d.join("id");
    let known = d.join("known_hosts");
    let mut s = Spawn::demo()
        .program(&ssh)
        .args(&[
            "-tt",
            "-F",
            "/dev/null",
            "-p",
            &port,
            "-i",
            &id.to_string_lossy(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            &format!("UserKnownHostsFile={}", known.display()),
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            &format!("{}@127.0.0.1", login_name()),
            &remote,
        ])
        .size(24, 80)
        .start(&home.join("client"));

    // The screen renders at 80×24, names whole.
    s.wait_until("the fleet over SSH", |screen| {
        screen.contains("Fleet · ")
            && screen.contains("salalah.omani.works")
            && screen.contains("● live")
    });
    // Keys work: the matrix and back.
    s.send(":matrix\r");
    s.wait_for("Matrix · 3 Sovereigns");
    s.send("\x1b");
    s.wait_until("back on the fleet list", |screen| {
        screen.contains("Fleet · ") && !screen.contains("Matrix ·")
    });
    // TERM=xterm-256color without COLORTERM: never 24-bit colour.
    let raw = s.raw_text();
    assert!(
        !raw.contains("38;2;") && !raw.contains("48;2;"),
        "24-bit colour sent to a 256-colour terminal"
    );

    let pid: i32 = std::fs::read_to_string(d.join("cockpit.pid"))
        .expect("the remote side noted its pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(!gone(pid), "the cockpit runs on the server side");
    let below = descendants(pid);

    // The client dies without a word (as when a laptop's lid closes or the network drops).
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(s.pid(), libc::SIGKILL) }, 0);
    s.wait_exit_status();

    let deadline = Instant::now() + PATIENCE;
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "the cockpit (pid {pid}) outlived its SSH session:\n{}",
            std::fs::read_to_string(&sshd.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for child in below {
        while !gone(child) {
            assert!(
                Instant::now() < deadline,
                "pid {child}, started by the cockpit, is an orphan"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // It ended through the hang-up path, which restores the terminal before it logs this.
    let logs = home.join("state/sovtui");
    let log: String = std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("{}: {e}", logs.display()))
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sovtui.log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let ended = log
        .lines()
        .find(|l| l.contains("cockpit ended"))
        .unwrap_or_else(|| panic!("no 'cockpit ended' in the log:\n{log}"));
    println!("server side: {ended}");
    assert!(
        ended.contains("SIGHUP") || ended.contains("hung up"),
        "ended other than by the hang-up: {ended}"
    );
}
