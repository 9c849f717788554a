//! Running short commands with a time limit and captured output.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::error::{HarnessError, Result};

/// How long after a command exits we wait for its pipes to close (a
/// background grandchild may hold them open forever).
const PIPE_DRAIN: Duration = Duration::from_millis(500);

/// The captured result of a command that ran to completion.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// The command line, for messages.
    pub cmd: String,
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout, lossily decoded.
    pub stdout: String,
    /// Its stderr, lossily decoded.
    pub stderr: String,
}

impl CmdOutput {
    /// Whether the command exited with status 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Its stdout if it exited with status 0, else an error naming the
    /// command, its status and its stderr.
    pub fn into_stdout(self) -> Result<String> {
        if self.status.success() {
            Ok(self.stdout)
        } else {
            Err(HarnessError::Command {
                cmd: self.cmd,
                status: self.status.to_string(),
                stdout: self.stdout,
                stderr: self.stderr,
            })
        }
    }
}

/// Renders an argument vector as a shell-like line for messages.
pub(crate) fn render(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                format!("{a:?}")
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` to completion (or until `timeout`), feeding it `stdin`.
/// A non-zero exit is not an error here; see [`CmdOutput::into_stdout`].
pub(crate) fn run(argv: &[&str], stdin: Option<&str>, timeout: Duration) -> Result<CmdOutput> {
    let line = render(argv);
    let Some((prog, args)) = argv.split_first() else {
        return Err(HarnessError::InvalidName {
            name: String::new(),
            why: "empty command".to_owned(),
        });
    };
    tracing::trace!(cmd = %line, "run");
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            cmd: line.clone(),
            source,
        })?;

    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_owned();
        // A writer thread, so a command that does not read cannot block us.
        thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let out_rx = drain(child.stdout.take());
    let err_rx = drain(child.stderr.take());

    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(HarnessError::io(format!("waiting for `{line}`"), e)),
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HarnessError::CommandTimeout {
                cmd: line,
                after: timeout,
            });
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    let stdout = out_rx.recv_timeout(PIPE_DRAIN).unwrap_or_default();
    let stderr = err_rx.recv_timeout(PIPE_DRAIN).unwrap_or_default();
    Ok(CmdOutput {
        cmd: line,
        status,
        stdout,
        stderr,
    })
}

/// Runs `argv` and returns its stdout, or an error if it failed.
pub(crate) fn run_ok(argv: &[&str], timeout: Duration) -> Result<String> {
    run(argv, None, timeout)?.into_stdout()
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
        });
    } else {
        let _ = tx.send(String::new());
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn captures_stdout_and_status() {
        let out = run(&["sh", "-c", "echo hi; echo oops >&2; exit 3"], None, T).expect("sh runs");
        assert_eq!(out.stdout, "hi\n");
        assert_eq!(out.stderr, "oops\n");
        assert_eq!(out.status.code(), Some(3));
        let err = out.into_stdout().expect_err("status 3 is a failure");
        let msg = err.to_string();
        assert!(msg.contains("oops"), "{msg}");
        assert!(msg.contains("exit status: 3"), "{msg}");
    }

    #[test]
    fn feeds_stdin() {
        let out = run(&["cat"], Some("abc"), T).expect("cat runs");
        assert_eq!(out.stdout, "abc");
    }

    #[test]
    fn kills_on_timeout() {
        let start = Instant::now();
        let err = run(&["sleep", "30"], None, Duration::from_millis(200))
            .expect_err("sleep 30 outlives 200 ms");
        assert!(matches!(err, HarnessError::CommandTimeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run(&["/nonexistent/mip6-xyz"], None, T).expect_err("no such program");
        assert!(matches!(err, HarnessError::Spawn { .. }), "{err}");
    }

    #[test]
    fn render_quotes_spaces() {
        assert_eq!(render(&["sh", "-c", "a b"]), "sh -c \"a b\"");
    }
}
