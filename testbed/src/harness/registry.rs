//! The process-wide registry of live labs and the SIGINT/SIGTERM handler
//! that removes them (a `Drop` does not run when a signal ends the
//! process).
//!
//! Namespace creation holds the registry lock, and the handler takes it and
//! never gives it back, so no namespace can appear after the handler has
//! listed what to remove.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use signal_hook::consts::signal::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::error::{HarnessError, Result};
use super::{cmd, naming, netns};

/// How long processes get to exit on SIGTERM when a signal removes labs.
const SIGNAL_GRACE: Duration = Duration::from_secs(1);
/// Bound on each `ip` command while handling a signal.
const SIGNAL_CMD_TIMEOUT: Duration = Duration::from_secs(20);

struct Registry {
    live: BTreeSet<String>,
    shutting_down: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    live: BTreeSet::new(),
    shutting_down: false,
});
static COUNTER: AtomicU32 = AtomicU32::new(0);
static HANDLER: Once = Once::new();

fn lock() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the set intact; keep using it.
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the SIGINT/SIGTERM handler once per process.
pub fn install_signal_handler() {
    HANDLER.call_once(|| match Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new()
                .name("mip6-lab-signals".to_owned())
                .spawn(move || {
                    if let Some(sig) = signals.forever().next() {
                        on_signal(sig);
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no signal thread: a Ctrl-C would leave namespaces behind");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no signal handler: a Ctrl-C would leave namespaces behind");
        }
    });
}

fn on_signal(sig: i32) -> ! {
    let mut reg = lock();
    reg.shutting_down = true;
    let live: Vec<String> = reg.live.iter().cloned().collect();
    eprintln!(
        "mip6-testbed: signal {sig}: removing {} lab(s) before exiting",
        live.len()
    );
    for prefix in &live {
        if let Err(e) = netns::remove_lab(prefix, SIGNAL_GRACE, SIGNAL_CMD_TIMEOUT) {
            eprintln!("mip6-testbed: cleanup of {prefix} incomplete: {e}");
        }
    }
    // The lock guard is deliberately held: nothing may create namespaces
    // between here and the exit.
    std::process::exit(128 + sig);
}

/// Picks a fresh prefix for a new lab and registers it as live.
pub fn register_new_prefix() -> Result<String> {
    install_signal_handler();
    let mut reg = lock();
    if reg.shutting_down {
        return Err(HarnessError::ShuttingDown);
    }
    let existing: BTreeSet<String> = netns::labs_by_prefix(&netns::list()?).into_keys().collect();
    let pid = std::process::id();
    for _ in 0..256 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let counter = u8::try_from(n & 0xff).unwrap_or_default();
        let prefix = naming::prefix(pid, counter);
        if reg.live.contains(&prefix)
            || existing.contains(&prefix)
            || netns::workdir(&prefix).exists()
        {
            continue;
        }
        reg.live.insert(prefix.clone());
        return Ok(prefix);
    }
    Err(HarnessError::Unsupported(
        "all 256 lab prefixes of this process are in use; drop some labs first".to_owned(),
    ))
}

/// Forgets a lab after its cleanup.
pub fn deregister(prefix: &str) {
    lock().live.remove(prefix);
}

/// Held while something enters a lab's namespaces (a namespace is created,
/// a process is started in one), so the signal handler, which takes the
/// same lock, never misses it.
#[derive(Debug)]
pub struct CreationGuard(#[allow(dead_code)] MutexGuard<'static, Registry>);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.live)
            .field("shutting_down", &self.shutting_down)
            .finish()
    }
}

/// Takes the creation lock, unless a signal is being handled.
pub fn creation_lock() -> Result<CreationGuard> {
    let reg = lock();
    if reg.shutting_down {
        return Err(HarnessError::ShuttingDown);
    }
    Ok(CreationGuard(reg))
}

/// Creates the named namespace `name` (`ip netns add`), unless a signal
/// is being handled.
pub fn create_netns(name: &str, timeout: Duration) -> Result<()> {
    let guard = creation_lock()?;
    let r = cmd::run_ok(&["ip", "netns", "add", name], timeout);
    drop(guard);
    r.map(drop)
}

/// The prefixes of the labs alive in this process.
#[must_use]
pub fn live_prefixes() -> Vec<String> {
    lock().live.iter().cloned().collect()
}
