//! Vendor runtimes: a `command:` model is the vendor's own program, started by attest, that
//! answers one JSON line on stdout for each JSON-line request on stdin.
//!
//! The protocol and the failure handling are documented for users in `command.md` (shown by
//! `attest explain command`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

/// The protocol name the hello line must carry.
pub const PROTOCOL: &str = "attest-model/1";
/// The user documentation.
pub const DOC: &str = include_str!("command.md");
/// Lines of stderr kept for findings.
const STDERR_LINES: usize = 20;

/// How to start the program.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandModel {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The working directory (the spec's folder).
    pub dir: PathBuf,
    /// How long one case (and the hello line) may take.
    pub timeout: Duration,
}

/// One case to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub case_id: String,
    pub files: Vec<String>,
}

/// The model's identity, from its hello line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hello {
    pub model: String,
    pub version: String,
}

/// What became of one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Score(f64),
    /// The case failed: a finding code (`model-timeout`, `model-crashed`, `invalid-response`,
    /// `wrong-case`, `invalid-score`, `model-error`, `model-unavailable`) and its message.
    Failed {
        code: &'static str,
        message: String,
    },
}

/// The whole conversation's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLog {
    /// The identity from the first successful start.
    pub hello: Option<Hello>,
    /// How often the program was started.
    pub starts: usize,
    /// One outcome per request, in request order.
    pub outcomes: Vec<Outcome>,
}

struct Running {
    child: Child,
    /// Dropped (closed) to tell the program that no more cases come.
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Running {
    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!(
                "; stderr: {}",
                lines.into_iter().collect::<Vec<_>>().join(" | ")
            )
        }
    }

    /// Stops the program (and, on Unix, its process group) and reaps it.
    fn stop(mut self) {
        #[cfg(unix)]
        {
            // SAFETY: killpg only sends a signal to the group the child leads.
            unsafe {
                libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl CommandModel {
    /// Runs every request through the program. Err only when the program cannot be started
    /// and greeted at all (then no case can be scored); later failures are per-case outcomes.
    pub fn run(&self, requests: &[Request]) -> Result<RunLog, String> {
        let (first, hello) = self.start()?;
        let mut log = RunLog {
            hello: Some(hello),
            starts: 1,
            outcomes: Vec::with_capacity(requests.len()),
        };
        let mut running = Some(first);
        let mut unavailable: Option<String> = None;
        for req in requests {
            if let Some(why) = &unavailable {
                log.outcomes.push(Outcome::Failed {
                    code: "model-unavailable",
                    message: why.clone(),
                });
                continue;
            }
            let mut proc = match running.take() {
                Some(p) => p,
                None => match self.start() {
                    Ok((p, _)) => {
                        log.starts += 1;
                        p
                    }
                    Err(e) => {
                        let why = format!("the program could not be restarted: {e}");
                        log.outcomes.push(Outcome::Failed {
                            code: "model-unavailable",
                            message: why.clone(),
                        });
                        unavailable = Some(why);
                        continue;
                    }
                },
            };
            let (outcome, keep) = self.ask(&mut proc, req);
            log.outcomes.push(outcome);
            if keep {
                running = Some(proc);
            } else {
                proc.stop();
            }
        }
        if let Some(mut p) = running {
            // Closing stdin asks the program to exit; give it one timeout to do so.
            p.stdin = None;
            let deadline = std::time::Instant::now() + self.timeout;
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = p.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            p.stop();
        }
        Ok(log)
    }

    /// Sends one request and reads its answer; the flag says whether the program may go on.
    fn ask(&self, p: &mut Running, req: &Request) -> (Outcome, bool) {
        let line = serde_json::to_string(req).expect("a request always serialises");
        let sent = match p.stdin.as_mut() {
            Some(w) => writeln!(w, "{line}").and_then(|()| w.flush()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        let failed = |code, message: String| Outcome::Failed { code, message };
        match p.lines.recv_timeout(self.timeout) {
            Err(RecvTimeoutError::Timeout) => (
                failed(
                    "model-timeout",
                    format!(
                        "no answer within {} s; the program was stopped{}",
                        self.timeout.as_secs_f64(),
                        p.stderr_tail()
                    ),
                ),
                false,
            ),
            Err(RecvTimeoutError::Disconnected) | Ok(Err(_)) => {
                let status = wait_briefly(&mut p.child);
                let why = if sent.is_err() {
                    "the program stopped reading its input"
                } else {
                    "the program closed its output"
                };
                (
                    failed(
                        "model-crashed",
                        format!("{why} ({status}){}", p.stderr_tail()),
                    ),
                    false,
                )
            }
            Ok(Ok(answer)) => parse_answer(&answer, &req.case_id),
        }
    }

    fn start(&self) -> Result<(Running, Hello), String> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err("the command is empty".to_string());
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", self.argv.join(" ")))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                if let Ok(mut l) = keep.lock() {
                    if l.len() == STDERR_LINES {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            }
        });
        let running = Running {
            child,
            stdin: Some(stdin),
            lines,
            stderr,
        };
        let hello = match running.lines.recv_timeout(self.timeout) {
            Ok(Ok(line)) => parse_hello(&line),
            Ok(Err(e)) => Err(format!("cannot read its output: {e}")),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "no hello line within {} s",
                self.timeout.as_secs_f64()
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err("it exited before its hello line".to_string())
            }
        };
        match hello {
            Ok(h) => Ok((running, h)),
            Err(e) => {
                let tail = running.stderr_tail();
                running.stop();
                Err(format!("`{}`: {e}{tail}", self.argv.join(" ")))
            }
        }
    }
}

fn parse_hello(line: &str) -> Result<Hello, String> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|_| format!("its first line is not a hello line: {}", shorten(line)))?;
    if v["protocol"].as_str() != Some(PROTOCOL) {
        return Err(format!(
            "its hello line does not name the protocol `{PROTOCOL}`: {}",
            shorten(line)
        ));
    }
    let text = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match (text("model"), text("version")) {
        (Some(model), Some(version)) => Ok(Hello { model, version }),
        _ => Err(format!(
            "its hello line lacks `model` or `version`: {}",
            shorten(line)
        )),
    }
}

/// Judges one response line; the flag says whether the conversation is still in step.
fn parse_answer(line: &str, case_id: &str) -> (Outcome, bool) {
    let failed = |code, message: String| Outcome::Failed { code, message };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return (
            failed(
                "invalid-response",
                format!("not a JSON response line: {}", shorten(line)),
            ),
            false,
        );
    };
    match v["case_id"].as_str() {
        Some(c) if c == case_id => {}
        Some(other) => {
            return (
                failed(
                    "wrong-case",
                    format!("asked for case `{case_id}`, the answer is for `{other}`"),
                ),
                false,
            )
        }
        None => {
            return (
                failed(
                    "invalid-response",
                    format!("the response has no `case_id`: {}", shorten(line)),
                ),
                false,
            )
        }
    }
    if let Some(e) = v.get("error") {
        let why = e.as_str().map_or_else(|| e.to_string(), str::to_string);
        return (
            failed("model-error", format!("the program reports: {why}")),
            true,
        );
    }
    match v.get("score").and_then(serde_json::Value::as_f64) {
        Some(s) if s.is_finite() => (Outcome::Score(s), true),
        _ => (
            failed(
                "invalid-score",
                format!("no finite numeric `score`: {}", shorten(line)),
            ),
            true,
        ),
    }
}

fn shorten(line: &str) -> String {
    let mut s: String = line.chars().take(120).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    format!("`{s}`")
}

fn wait_briefly(child: &mut Child) -> String {
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            return format!("exit {status}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    "still running".to_string()
}
