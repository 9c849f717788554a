//! Removal of labs left behind by processes that died without cleaning up
//! (SIGKILL, a crash, a power cut of the test runner).

use std::fs;
use std::time::Duration;

use super::error::Result;
use super::naming;
use super::netns;

/// What [`sweep_stale`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The lab prefixes whose namespaces were removed.
    pub labs: Vec<String>,
    /// The namespaces removed.
    pub namespaces: Vec<String>,
}

/// Removes every namespace named by the harness's scheme
/// (`m6PPPPPPCC-...`) whose creator pid `PPPPPP` no longer exists, with the
/// processes inside it and its work directory. Namespaces of live
/// processes (including this one) and names outside the scheme are never
/// touched. Called by [`Lab::new`](super::Lab::new).
pub fn sweep_stale() -> Result<SweepReport> {
    sweep_stale_with(Duration::from_secs(1), Duration::from_secs(30))
}

/// [`sweep_stale`] with the SIGTERM grace period and per-command timeout.
pub fn sweep_stale_with(grace: Duration, timeout: Duration) -> Result<SweepReport> {
    let own = std::process::id();
    let all = netns::list()?;
    let mut report = SweepReport::default();
    let mut dead: Vec<(String, u32)> = netns::labs_by_prefix(&all)
        .into_iter()
        .filter(|&(_, pid)| pid != own && !netns::pid_alive(pid))
        .collect();
    dead.sort();
    let mut first_err = None;
    for (prefix, pid) in dead {
        let names = netns::list_prefix(&prefix)?;
        tracing::info!(
            prefix,
            pid,
            ?names,
            "removing a stale lab of a dead process"
        );
        match netns::remove_lab(&prefix, grace, timeout) {
            Ok(()) => {
                report.namespaces.extend(names);
                report.labs.push(prefix);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    // Work directories whose namespaces are already gone.
    if let Ok(entries) = fs::read_dir(netns::workroot()) {
        for e in entries.filter_map(|e| e.ok()) {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if let Some((prefix, pid)) = naming::parse_netns(&format!("{name}-x"))
                && prefix == name
                && pid != own
                && !netns::pid_alive(pid)
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    first_err.map_or(Ok(report), Err)
}
