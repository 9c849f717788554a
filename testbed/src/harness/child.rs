//! `Child`: a process running in a node, stopped and reaped when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use super::error::{HarnessError, Result};
use super::wait;

/// A process started with [`Node::spawn`](super::Node::spawn). On drop it
/// gets SIGTERM, then SIGKILL after the grace period, and is reaped.
/// The signals go to its process group, so helpers it forked go too.
#[derive(Debug)]
pub struct Child {
    proc: std::process::Child,
    cmd: String,
    log: PathBuf,
    grace: Duration,
    status: Option<ExitStatus>,
}

impl Child {
    pub(crate) fn new(
        proc: std::process::Child,
        cmd: String,
        log: PathBuf,
        grace: Duration,
    ) -> Self {
        Self {
            proc,
            cmd,
            log,
            grace,
            status: None,
        }
    }

    /// Its pid (also its process group id).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.proc.id()
    }

    /// The command line, prefixed by the node's name.
    #[must_use]
    pub fn cmd(&self) -> &str {
        &self.cmd
    }

    /// The file its stdout and stderr go to.
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// What it has written so far (empty once the lab is removed).
    #[must_use]
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Its exit status if it has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .proc
                .try_wait()
                .map_err(|e| HarnessError::io(format!("waiting for `{}`", self.cmd), e))?;
        }
        Ok(self.status)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> Result<bool> {
        Ok(self.try_wait()?.is_none())
    }

    /// Waits until its log contains `needle` (a daemon saying it is ready);
    /// fails early if it exits.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let what = format!("{needle:?} in the log of `{}`", self.cmd);
        wait::poll(&what, timeout, Duration::from_millis(20), || {
            let log = self.log();
            if log.contains(needle) {
                return Ok(Ok(()));
            }
            if let Some(status) = self.try_wait()? {
                return Err(HarnessError::Command {
                    cmd: self.cmd.clone(),
                    status: status.to_string(),
                    stdout: log,
                    stderr: format!("exited before printing {needle:?}"),
                });
            }
            Ok(Err(tail(&log)))
        })
    }

    /// Stops it (SIGTERM to its group, SIGKILL after the grace period) and
    /// returns how it exited.
    pub fn stop(mut self) -> Result<ExitStatus> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        // The group is signalled only while the leader is unreaped (running
        // or a zombie): until then its pid, and so the group id, cannot be
        // given to another process.
        if !self.exited_unreaped() {
            self.signal_group(Signal::SIGTERM);
            let start = Instant::now();
            while !self.exited_unreaped() && start.elapsed() < self.grace {
                thread::sleep(Duration::from_millis(10));
            }
            if !self.exited_unreaped() {
                tracing::debug!(cmd = self.cmd, "ignored SIGTERM; killing");
            }
        }
        // Leftover helpers of the group (and the leader, if it resisted).
        self.signal_group(Signal::SIGKILL);
        let s = self
            .proc
            .wait()
            .map_err(|e| HarnessError::io(format!("reaping `{}`", self.cmd), e))?;
        self.status = Some(s);
        Ok(s)
    }

    /// Whether the leader has exited, without reaping it.
    fn exited_unreaped(&self) -> bool {
        let Ok(pid) = i32::try_from(self.proc.id()) else {
            return true;
        };
        !matches!(
            waitid(
                Id::Pid(Pid::from_raw(pid)),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
            ),
            Ok(WaitStatus::StillAlive)
        )
    }

    fn signal_group(&self, sig: Signal) {
        let Ok(pgid) = i32::try_from(self.proc.id()) else {
            return;
        };
        match killpg(Pid::from_raw(pgid), sig) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(cmd = self.cmd, %sig, error = %e, "signal failed"),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Err(e) = self.terminate() {
            tracing::warn!(cmd = self.cmd, error = %e, "could not stop a spawned process");
        }
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines.len().saturating_sub(3);
    if lines.is_empty() {
        "empty log".to_owned()
    } else {
        lines[from..].join(" | ")
    }
}
