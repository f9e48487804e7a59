//! The commands every simulated container has, and a small `sh -c` (quotes, `$VAR`, `;`, `&&`,
//! `||`, pipes, `<`, `>`, `>>`, `2>`, `2>&1`, `>&2`, `exit N`) whose simple commands go through the
//! pod's handlers first, so scripts can mix registered programs with built-ins.

use super::{ExecCall, ExecHandler, ExecOutput, PodFiles, PodView};

/// Where commands run: the pod, its handlers (newest first) and its files.
pub(crate) struct Context<'a> {
    pub pod: &'a PodView,
    pub handlers: &'a [ExecHandler],
    pub files: &'a PodFiles,
}

/// The names [`Context::exec`] answers itself when no handler does.
pub const BUILTINS: &[&str] = &[
    "sh", "bash", "ash", "echo", "cat", "env", "printenv", "ls", "true", "false", "hostname",
    "grep", "wc", "head", "tail", "test", "[", "mkdir", "rm", "pwd", "sleep",
];

fn text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

impl Context<'_> {
    /// Run one command as the container runtime would (argv[0] not found: exit 126 with
    /// containerd's message).
    pub fn exec(&self, argv: &[String], stdin: &[u8]) -> ExecOutput {
        match self.dispatch(argv, stdin) {
            Some(out) => out,
            None => {
                let prog = argv.first().map(String::as_str).unwrap_or("");
                ExecOutput {
                    stdout: format!(
                        "OCI runtime exec failed: exec failed: unable to start container process: \
                         exec: \"{prog}\": executable file not found in $PATH: unknown\r\n"
                    )
                    .into_bytes(),
                    stderr: Vec::new(),
                    exit_code: 126,
                }
            }
        }
    }

    /// Handlers, then built-ins; None if nothing knows `argv[0]`.
    fn dispatch(&self, argv: &[String], stdin: &[u8]) -> Option<ExecOutput> {
        let call = ExecCall {
            namespace: &self.pod.namespace,
            pod: &self.pod.name,
            container: &self.pod.container,
            labels: &self.pod.labels,
            env: &self.pod.env,
            argv,
            stdin,
            files: self.files,
        };
        for h in self.handlers {
            if let Some(out) = h(&call) {
                return Some(out);
            }
        }
        self.builtin(call.program(), argv.get(1..).unwrap_or(&[]), stdin)
    }

    fn read(&self, path: &str) -> Option<Vec<u8>> {
        if path == "/dev/null" {
            return Some(Vec::new());
        }
        self.files.get(path)
    }

    fn builtin(&self, prog: &str, args: &[String], stdin: &[u8]) -> Option<ExecOutput> {
        let mut out = ExecOutput::default();
        match prog {
            "sh" | "bash" | "ash" => match args.first().map(String::as_str) {
                Some("-c") => {
                    let script = args.get(1).map(String::as_str).unwrap_or("");
                    return Some(self.script(prog, script, stdin));
                }
                // `sh` reading its script from stdin (`kubectl exec -i … -- sh < script`).
                None => {
                    return Some(self.script(prog, &String::from_utf8_lossy(stdin), b""));
                }
                Some(file) => match self.read(file) {
                    Some(s) => return Some(self.script(prog, &String::from_utf8_lossy(&s), stdin)),
                    None => {
                        return Some(ExecOutput::fail(
                            127,
                            format!("{prog}: can't open '{file}': No such file or directory\n"),
                        ));
                    }
                },
            },
            "echo" => {
                let newline = args.first().map(String::as_str) != Some("-n");
                let words = if newline { args } else { &args[1..] };
                text(&mut out.stdout, &words.join(" "));
                if newline {
                    out.stdout.push(b'\n');
                }
            }
            "cat" => {
                if args.is_empty() || args.iter().all(|a| a == "-") {
                    out.stdout.extend_from_slice(stdin);
                }
                for f in args.iter().filter(|a| *a != "-") {
                    match self.read(f) {
                        Some(c) => out.stdout.extend_from_slice(&c),
                        None if self.files.is_dir(f) => {
                            text(
                                &mut out.stderr,
                                "cat: read error: Is a directory
",
                            );
                            out.exit_code = 1;
                        }
                        None => {
                            text(
                                &mut out.stderr,
                                &format!("cat: can't open '{f}': No such file or directory\n"),
                            );
                            out.exit_code = 1;
                        }
                    }
                }
            }
            "env" => {
                for (k, v) in &self.pod.env {
                    text(&mut out.stdout, &format!("{k}={v}\n"));
                }
            }
            "printenv" => match args.first() {
                None => return self.builtin("env", &[], stdin),
                Some(k) => match self.pod.env.get(k) {
                    Some(v) => text(&mut out.stdout, &format!("{v}\n")),
                    None => out.exit_code = 1,
                },
            },
            "ls" => {
                let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                let root = "/".to_string();
                let paths = if paths.is_empty() { vec![&root] } else { paths };
                for p in paths {
                    if self.files.get(p).is_some() {
                        text(&mut out.stdout, &format!("{p}\n"));
                    } else if self.files.is_dir(p) || p == "/" {
                        for name in self.files.list(p) {
                            text(&mut out.stdout, &format!("{name}\n"));
                        }
                    } else {
                        text(
                            &mut out.stderr,
                            &format!("ls: {p}: No such file or directory\n"),
                        );
                        out.exit_code = 1;
                    }
                }
            }
            "true" | "mkdir" | "sleep" => {}
            "false" => out.exit_code = 1,
            "hostname" => text(&mut out.stdout, &format!("{}\n", self.pod.name)),
            "pwd" => text(&mut out.stdout, "/\n"),
            "rm" => {
                let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
                for f in args.iter().filter(|a| !a.starts_with('-')) {
                    if self.files.remove(f).is_none() && !force {
                        text(
                            &mut out.stderr,
                            &format!("rm: can't remove '{f}': No such file or directory\n"),
                        );
                        out.exit_code = 1;
                    }
                }
            }
            "test" | "[" => {
                let args: Vec<&str> = args
                    .iter()
                    .map(String::as_str)
                    .filter(|a| *a != "]")
                    .collect();
                let yes = match args.as_slice() {
                    ["-f", p] => self.files.get(p).is_some(),
                    ["-d", p] => self.files.is_dir(p),
                    ["-e", p] => self.files.get(p).is_some() || self.files.is_dir(p),
                    ["-n", s] => !s.is_empty(),
                    ["-z", s] => s.is_empty(),
                    [a, "=", b] => a == b,
                    [a, "!=", b] => a != b,
                    [s] => !s.is_empty(),
                    _ => false,
                };
                out.exit_code = i32::from(!yes);
            }
            "grep" => return Some(self.grep(args, stdin)),
            "wc" | "head" | "tail" => return Some(self.lines(prog, args, stdin)),
            _ => return None,
        }
        Some(out)
    }

    /// `grep [-q] [-v] [-i] [-c] [-F|-E ignored] PATTERN [FILE…]`: fixed strings only.
    fn grep(&self, args: &[String], stdin: &[u8]) -> ExecOutput {
        let (mut quiet, mut invert, mut icase, mut count) = (false, false, false, false);
        let mut rest = args.iter();
        let mut pattern = None;
        for a in rest.by_ref() {
            match a.strip_prefix('-') {
                Some(flags) if !flags.is_empty() && pattern.is_none() => {
                    quiet |= flags.contains('q');
                    invert |= flags.contains('v');
                    icase |= flags.contains('i');
                    count |= flags.contains('c');
                }
                _ => {
                    pattern = Some(a.clone());
                    break;
                }
            }
        }
        let Some(pattern) = pattern else {
            return ExecOutput::fail(2, "Usage: grep [-qvic] PATTERN [FILE]...\n");
        };
        let files: Vec<&String> = rest.collect();
        let mut input = Vec::new();
        if files.is_empty() {
            input.extend_from_slice(stdin);
        }
        for f in &files {
            match self.read(f) {
                Some(c) => input.extend_from_slice(&c),
                None => {
                    return ExecOutput::fail(2, format!("grep: {f}: No such file or directory\n"));
                }
            }
        }
        let norm = |s: &str| {
            if icase {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let p = norm(&pattern);
        let input = String::from_utf8_lossy(&input);
        let hits: Vec<&str> = input
            .lines()
            .filter(|l| norm(l).contains(&p) != invert)
            .collect();
        let mut out = ExecOutput {
            exit_code: i32::from(hits.is_empty()),
            ..ExecOutput::default()
        };
        if count {
            text(&mut out.stdout, &format!("{}\n", hits.len()));
        } else if !quiet {
            for h in hits {
                text(&mut out.stdout, &format!("{h}\n"));
            }
        }
        out
    }

    /// `wc -l`, `head -n N`, `tail -n N` over stdin or one file.
    fn lines(&self, prog: &str, args: &[String], stdin: &[u8]) -> ExecOutput {
        let mut n: usize = 10;
        let mut file = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-l" => {}
                "-n" => n = it.next().and_then(|v| v.parse().ok()).unwrap_or(n),
                a if a.starts_with("-n") => n = a[2..].parse().unwrap_or(n),
                a if a.starts_with('-') && a[1..].parse::<usize>().is_ok() => {
                    n = a[1..].parse().unwrap_or(n)
                }
                _ => file = Some(a.clone()),
            }
        }
        let input = match &file {
            Some(f) => match self.read(f) {
                Some(c) => c,
                None => {
                    return ExecOutput::fail(
                        1,
                        format!("{prog}: {f}: No such file or directory\n"),
                    );
                }
            },
            None => stdin.to_vec(),
        };
        let s = String::from_utf8_lossy(&input);
        let all: Vec<&str> = s.lines().collect();
        let pick: Vec<&str> = match prog {
            "wc" => return ExecOutput::ok(format!("{}\n", all.len())),
            "head" => all.iter().take(n).copied().collect(),
            _ => all[all.len().saturating_sub(n)..].to_vec(),
        };
        let mut out = String::new();
        for l in pick {
            out.push_str(l);
            out.push('\n');
        }
        ExecOutput::ok(out)
    }

    /// Run a script the way `sh -c` would, within this module's grammar.
    fn script(&self, shell: &str, script: &str, stdin: &[u8]) -> ExecOutput {
        let tokens = match tokenize(script, &self.pod.env) {
            Ok(t) => t,
            Err(e) => return ExecOutput::fail(2, format!("{shell}: syntax error: {e}\n")),
        };
        let mut total = ExecOutput::default();
        let mut last = 0;
        let mut skip = false; // the current pipeline is skipped by && / ||
        let mut pipeline: Vec<Vec<Token>> = vec![Vec::new()];
        let mut tokens = tokens.into_iter().peekable();
        loop {
            let tok = tokens.next();
            let end = match &tok {
                None => Some(";"),
                Some(Token::Op(op)) if matches!(*op, ";" | "&&" | "||") => Some(*op),
                _ => None,
            };
            let Some(sep) = end else {
                match tok {
                    Some(Token::Op("|")) => pipeline.push(Vec::new()),
                    Some(t) => pipeline.last_mut().map(|c| c.push(t)).unwrap_or(()),
                    None => {}
                }
                continue;
            };
            let cmds = std::mem::replace(&mut pipeline, vec![Vec::new()]);
            if !skip && cmds.iter().any(|c| !c.is_empty()) {
                match self.pipeline(shell, cmds, stdin) {
                    Flow::Next(out) => {
                        total.stdout.extend_from_slice(&out.stdout);
                        total.stderr.extend_from_slice(&out.stderr);
                        last = out.exit_code;
                    }
                    Flow::Exit(out) => {
                        total.stdout.extend_from_slice(&out.stdout);
                        total.stderr.extend_from_slice(&out.stderr);
                        total.exit_code = out.exit_code;
                        return total;
                    }
                }
            }
            skip = match sep {
                "&&" => skip || last != 0,
                "||" => !skip && last == 0,
                _ => false,
            };
            if tok.is_none() {
                break;
            }
        }
        total.exit_code = last;
        total
    }

    fn pipeline(&self, shell: &str, cmds: Vec<Vec<Token>>, stdin: &[u8]) -> Flow {
        let mut input = stdin.to_vec();
        let mut stderr = Vec::new();
        let mut last = ExecOutput::default();
        let n = cmds.len();
        for (i, cmd) in cmds.into_iter().enumerate() {
            let mut argv = Vec::new();
            let mut redirects = Vec::new();
            let mut it = cmd.into_iter();
            while let Some(t) = it.next() {
                match t {
                    Token::Word(w) => argv.push(w),
                    Token::Op(op @ ("2>&1" | ">&2" | "1>&2")) => {
                        redirects.push((op, String::new()))
                    }
                    Token::Op(op) => match it.next() {
                        Some(Token::Word(target)) => redirects.push((op, target)),
                        _ => {
                            return Flow::Exit(ExecOutput::fail(
                                2,
                                format!("{shell}: syntax error: missing name after {op}\n"),
                            ));
                        }
                    },
                }
            }
            let mut cmd_in = if i == 0 {
                input.clone()
            } else {
                std::mem::take(&mut input)
            };
            for (op, target) in &redirects {
                if *op == "<" {
                    match self.read(target) {
                        Some(c) => cmd_in = c,
                        None => {
                            return Flow::Next(ExecOutput::fail(
                                1,
                                format!("{shell}: can't open {target}: no such file\n"),
                            ));
                        }
                    }
                }
            }
            if argv.first().map(String::as_str) == Some("exit") {
                let code = argv
                    .get(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(last.exit_code);
                stderr.extend_from_slice(&last.stderr);
                return Flow::Exit(ExecOutput {
                    stdout: Vec::new(),
                    stderr,
                    exit_code: code,
                });
            }
            let mut out = if argv.is_empty() {
                ExecOutput::default()
            } else {
                self.dispatch(&argv, &cmd_in).unwrap_or_else(|| {
                    ExecOutput::fail(127, format!("{shell}: {}: not found\n", argv[0]))
                })
            };
            for (op, target) in &redirects {
                match *op {
                    ">" | ">>" => {
                        let data = std::mem::take(&mut out.stdout);
                        if target != "/dev/null" {
                            if *op == ">" {
                                self.files.put(target, data);
                            } else {
                                self.files.append(target, &data);
                            }
                        }
                    }
                    "2>" => {
                        let data = std::mem::take(&mut out.stderr);
                        if target != "/dev/null" {
                            self.files.put(target, data);
                        }
                    }
                    "2>&1" => {
                        let err = std::mem::take(&mut out.stderr);
                        out.stdout.extend_from_slice(&err);
                    }
                    ">&2" | "1>&2" => {
                        let data = std::mem::take(&mut out.stdout);
                        out.stderr.extend_from_slice(&data);
                    }
                    _ => {}
                }
            }
            stderr.extend_from_slice(&out.stderr);
            if i + 1 < n {
                input = std::mem::take(&mut out.stdout);
            }
            last = out;
        }
        last.stderr = stderr;
        Flow::Next(last)
    }
}

enum Flow {
    Next(ExecOutput),
    Exit(ExecOutput),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "2>&1", "1>&2", ">&2", "&&", "||", ">>", "2>", ";", "|", ">", "<", "\n",
];

/// Split a script into words (quotes removed, `$VAR` / `${VAR}` expanded outside single quotes)
/// and operators.
fn tokenize(
    script: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = script.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let expand = |i: &mut usize, word: &mut String| {
        // chars[*i] == '$'
        let braced = chars.get(*i + 1) == Some(&'{');
        let start = *i + 1 + usize::from(braced);
        let mut j = start;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        if j == start {
            word.push('$');
            *i += 1;
            return;
        }
        let name: String = chars[start..j].iter().collect();
        if let Some(v) = env.get(&name) {
            word.push_str(v);
        }
        *i = if braced && chars.get(j) == Some(&'}') {
            j + 1
        } else {
            j
        };
    };
    while i < chars.len() {
        let c = chars[i];
        if !in_word || word.is_empty() {
            let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
            if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op))
                && (!op.starts_with(['1', '2']) || !in_word)
            {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                out.push(Token::Op(if *op == "\n" { ";" } else { op }));
                i += op.len();
                continue;
            }
        }
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                i += 1;
            }
            // An operator ends the word; the next turn reads it.
            ';' | '|' | '&' | '>' | '<' | '\n' if in_word => {
                out.push(Token::Word(std::mem::take(&mut word)));
                in_word = false;
            }
            ';' | '|' | '&' | '>' | '<' => return Err(format!("unexpected \"{c}\"")),
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => {
                in_word = true;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unterminated quoted string")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
            }
            '"' => {
                in_word = true;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('$') => expand(&mut i, &mut word),
                        Some(&c) => {
                            word.push(c);
                            i += 1;
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&n) = chars.get(i + 1)
                    && n != '\n'
                {
                    word.push(n);
                }
                i += 2;
            }
            '$' => {
                in_word = true;
                expand(&mut i, &mut word);
            }
            c => {
                in_word = true;
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        out.push(Token::Word(word));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{ExecOutput, ExecRegistry, ExecTarget};
    use serde_json::json;

    fn run(r: &ExecRegistry, script: &str, stdin: &[u8]) -> ExecOutput {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"},
                         "spec": {"containers": [{"name": "c", "env": [{"name": "WHO", "value": "world"}]}]}});
        r.run(
            &pod,
            None,
            &["sh".into(), "-c".into(), script.into()],
            stdin,
        )
        .expect("runs")
    }

    fn s(out: &ExecOutput) -> (String, String, i32) {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.exit_code,
        )
    }

    #[test]
    fn quoting_expansion_and_lists() {
        let r = ExecRegistry::default();
        assert_eq!(
            s(&run(&r, "echo \"hello $WHO\" 'and $WHO' ${WHO}!", b"")).0,
            "hello world and $WHO world!\n"
        );
        assert_eq!(
            s(&run(&r, "false && echo no || echo yes; echo end", b"")).0,
            "yes\nend\n"
        );
        assert_eq!(
            s(&run(&r, "true || echo no; exit 3; echo never", b"")),
            (String::new(), String::new(), 3)
        );
        assert_eq!(
            s(&run(&r, "nosuch", b"")),
            (String::new(), "sh: nosuch: not found\n".into(), 127)
        );
        assert_eq!(s(&run(&r, "echo 'unterminated", b"")).2, 2);
    }

    #[test]
    fn pipes_redirects_and_files() {
        let r = ExecRegistry::default();
        assert_eq!(
            s(&run(
                &r,
                "cat > /tmp/x; cat /tmp/x | grep b | wc -l",
                b"a\nb\nbb\n"
            ))
            .0,
            "2\n"
        );
        assert_eq!(
            s(&run(&r, "echo more >> /tmp/x && tail -n 2 /tmp/x", b"")).0,
            "bb\nmore\n"
        );
        assert_eq!(
            s(&run(&r, "cat /nope 2>&1", b"")).0,
            "cat: can't open '/nope': No such file or directory\n"
        );
        assert_eq!(
            s(&run(&r, "cat /nope 2>/dev/null", b"")),
            (String::new(), String::new(), 1)
        );
        assert_eq!(
            s(&run(
                &r,
                "test -f /tmp/x && echo file; [ -d /tmp ] && echo dir",
                b""
            ))
            .0,
            "file\ndir\n"
        );
        assert_eq!(s(&run(&r, "grep -c b < /tmp/x", b"")).0, "2\n");
        assert_eq!(
            s(&run(&r, "echo out; echo err >&2", b"")),
            ("out\n".into(), "err\n".into(), 0)
        );
    }

    #[test]
    fn handlers_run_inside_scripts() {
        let r = ExecRegistry::default();
        r.register(ExecTarget::pod("ns", "p"), |c| {
            (c.program() == "pdnsutil").then(|| ExecOutput::ok("omani.works\nexample.org\n"))
        });
        assert_eq!(
            s(&run(&r, "pdnsutil list-all-zones | grep omani", b"")).0,
            "omani.works\n"
        );
    }
}
