//! Low-level namespace operations: listing, finding the processes inside,
//! killing them, deleting namespaces. Everything here acts only on named
//! namespaces under [`NETNS_DIR`], never on the root namespace.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cmd;
use super::error::{HarnessError, Result};

/// Where `ip netns` keeps its bind mounts.
pub const NETNS_DIR: &str = "/var/run/netns";

/// Path of a named namespace's bind mount.
#[must_use]
pub fn path(netns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(netns)
}

/// The names of all named namespaces (empty if the directory is missing).
pub fn list() -> Result<Vec<String>> {
    let entries = match fs::read_dir(NETNS_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HarnessError::io(format!("listing {NETNS_DIR}"), e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The named namespaces belonging to the lab with `prefix`.
pub fn list_prefix(prefix: &str) -> Result<Vec<String>> {
    let dash = format!("{prefix}-");
    Ok(list()?
        .into_iter()
        .filter(|n| n.starts_with(&dash))
        .collect())
}

/// Whether process `pid` is alive: it exists and is not a zombie (a
/// killed creator whose parent has not reaped it yet is dead for us).
#[must_use]
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match kill(Pid::from_raw(raw), None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn ns_id(p: &Path) -> Option<(u64, u64)> {
    fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The processes whose network namespace is one of `names` (our own
/// process is never included: threads that entered a namespace with
/// `setns` do not make the process belong to it).
#[must_use]
pub fn pids_in(names: &[String]) -> Vec<u32> {
    let ids: HashSet<(u64, u64)> = names.iter().filter_map(|n| ns_id(&path(n))).collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let own = std::process::id();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = proc_dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| pid != own)
        .filter(|&pid| {
            ns_id(&Path::new("/proc").join(pid.to_string()).join("ns/net"))
                .is_some_and(|id| ids.contains(&id))
        })
        .collect();
    pids.sort_unstable();
    pids
}

fn signal_all(pids: &[u32], sig: Signal) {
    for &pid in pids {
        if let Ok(raw) = i32::try_from(pid) {
            match kill(Pid::from_raw(raw), sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!(pid, %sig, error = %e, "could not signal a process"),
            }
        }
    }
}

/// Kills every process inside `names`: SIGTERM, then SIGKILL for those
/// still there after `grace`. Returns the pids that would not go.
pub fn kill_all_in(names: &[String], grace: Duration) -> Vec<u32> {
    let pids = pids_in(names);
    if pids.is_empty() {
        return pids;
    }
    tracing::debug!(?pids, "terminating processes in lab namespaces");
    signal_all(&pids, Signal::SIGTERM);
    if wait_empty(names, grace) {
        return Vec::new();
    }
    let left = pids_in(names);
    tracing::debug!(pids = ?left, "killing processes that ignored SIGTERM");
    signal_all(&left, Signal::SIGKILL);
    if wait_empty(names, Duration::from_secs(5)) {
        Vec::new()
    } else {
        pids_in(names)
    }
}

fn wait_empty(names: &[String], within: Duration) -> bool {
    let start = Instant::now();
    loop {
        if pids_in(names).is_empty() {
            return true;
        }
        if start.elapsed() >= within {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Deletes the named namespaces with one `ip -force -batch -`. Succeeds if
/// none of them exists afterwards.
pub fn delete(names: &[String], timeout: Duration) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let script: String = names.iter().map(|n| format!("netns del {n}\n")).collect();
    let out = cmd::run(&["ip", "-force", "-batch", "-"], Some(&script), timeout)?;
    let existing: HashSet<String> = list()?.into_iter().collect();
    let left: Vec<&String> = names.iter().filter(|n| existing.contains(*n)).collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(HarnessError::Command {
            cmd: format!("ip -force -batch - (netns del {left:?})"),
            status: out.status.to_string(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// The directory holding the logs of the lab with `prefix`.
#[must_use]
pub fn workdir(prefix: &str) -> PathBuf {
    workroot().join(prefix)
}

/// The directory holding every lab's work directory.
#[must_use]
pub fn workroot() -> PathBuf {
    std::env::temp_dir().join("mip6-testbed")
}

/// Removes everything of the lab with `prefix`: kills the processes in its
/// namespaces, deletes the namespaces, removes its work directory. Keeps
/// going past failures, logs each, and returns the first.
pub fn remove_lab(prefix: &str, grace: Duration, timeout: Duration) -> Result<()> {
    let mut first: Option<HarnessError> = None;
    let mut note = |e: HarnessError| {
        tracing::warn!(prefix, error = %e, "lab cleanup");
        first.get_or_insert(e);
    };
    let names = match list_prefix(prefix) {
        Ok(n) => n,
        Err(e) => {
            note(e);
            Vec::new()
        }
    };
    let stubborn = kill_all_in(&names, grace);
    if !stubborn.is_empty() {
        note(HarnessError::Unsupported(format!(
            "processes {stubborn:?} survived SIGKILL in namespaces of {prefix}"
        )));
    }
    if let Err(e) = delete(&names, timeout) {
        note(e);
    }
    let dir = workdir(prefix);
    if let Err(e) = fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        note(HarnessError::io(format!("removing {}", dir.display()), e));
    }
    tracing::debug!(prefix, namespaces = names.len(), "lab removed");
    first.map_or(Ok(()), Err)
}

/// Groups namespace names by lab prefix (names outside the scheme are
/// skipped) with the creator pid of each prefix.
#[must_use]
pub fn labs_by_prefix(names: &[String]) -> HashMap<String, u32> {
    names
        .iter()
        .filter_map(|n| super::naming::parse_netns(n))
        .map(|(p, pid)| (p.to_owned(), pid))
        .collect()
}
