//! The harness's error type: every variant reads as one sentence.

use std::io;
use std::time::Duration;

/// What went wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The process lacks the privileges to create network namespaces.
    #[error(
        "network-namespace tests must run as root (effective uid is {uid}); run them with sudo or in a root container"
    )]
    NotRoot {
        /// The effective uid the process runs with.
        uid: u32,
    },
    /// A kernel feature the harness needs is missing.
    #[error("{0}")]
    Kernel(String),
    /// A command could not be started at all.
    #[error("could not start `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why it could not start.
        #[source]
        source: io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("`{cmd}` failed ({status}): {}", show_output(stderr, stdout))]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status, as text.
        status: String,
        /// What it wrote to stdout.
        stdout: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// A command did not finish in time and was killed.
    #[error("`{cmd}` did not finish within {after:?} and was killed")]
    CommandTimeout {
        /// The command line.
        cmd: String,
        /// The time it was given.
        after: Duration,
    },
    /// A condition polled for did not come true in time.
    #[error("timed out after {after:?} waiting for {what} (last seen: {last})")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The time it was given.
        after: Duration,
        /// The last observation, to tell what state things were in.
        last: String,
    },
    /// A node, link or interface name the harness cannot use.
    #[error("invalid name {name:?}: {why}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it cannot be used.
        why: String,
    },
    /// A name is already taken in this lab.
    #[error("{kind} {name:?} already exists in this lab")]
    Duplicate {
        /// "node" or "link".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// An I/O operation on a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: nix::Error,
    },
    /// A command's output did not have the expected form.
    #[error("could not parse the output of `{cmd}`: {why}")]
    Parse {
        /// The command line.
        cmd: String,
        /// What was wrong.
        why: String,
    },
    /// The operation makes no sense for this object.
    #[error("{0}")]
    Unsupported(String),
    /// A SIGINT or SIGTERM arrived; the harness is removing every lab.
    #[error("the harness is shutting down after a signal; no new namespaces are created")]
    ShuttingDown,
}

/// The harness's result type.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

fn show_output(stderr: &str, stdout: &str) -> String {
    let stderr = stderr.trim();
    let stdout = stdout.trim();
    match (stderr.is_empty(), stdout.is_empty()) {
        (false, _) => format!("stderr: {stderr}"),
        (true, false) => format!("no stderr; stdout: {stdout}"),
        (true, true) => "no output".to_owned(),
    }
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, source: nix::Error) -> Self {
        Self::Sys {
            what: what.into(),
            source,
        }
    }
}
