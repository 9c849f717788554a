//! Checks that the machine can run the namespace tests at all, each failing
//! with one clear sentence.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::OnceLock;

use super::error::{HarnessError, Result};
use super::lab::Lab;

/// Fails with a one-sentence error unless the process runs as root.
pub fn require_root() -> Result<()> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        Ok(())
    } else {
        Err(HarnessError::NotRoot { uid: uid.as_raw() })
    }
}

/// Verifies that network namespaces, veth pairs, bridges and `/dev/net/tun`
/// work here (it builds and removes a throwaway lab once per process).
pub fn check_kernel() -> Result<()> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| probe().map_err(|e| e.to_string()))
        .clone()
        .map_err(HarnessError::Kernel)
}

fn probe() -> Result<()> {
    require_root()?;
    if !Path::new("/proc/self/ns/net").exists() {
        return Err(HarnessError::Kernel(
            "this kernel has no network namespaces (CONFIG_NET_NS is off)".to_owned(),
        ));
    }
    if let Err(e) = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        return Err(HarnessError::Kernel(format!(
            "/dev/net/tun cannot be opened ({e}); load the tun module or create the device node"
        )));
    }
    let lab = Lab::new("kernel-check")
        .map_err(|e| HarnessError::Kernel(format!("cannot create a network namespace: {e}")))?;
    let node = lab
        .node("probe")
        .map_err(|e| HarnessError::Kernel(format!("cannot create a network namespace: {e}")))?;
    let link = lab
        .link("probe")
        .map_err(|e| HarnessError::Kernel(format!("cannot create a bridge: {e}")))?;
    lab.attach(&node, &link, "eth0")
        .map_err(|e| HarnessError::Kernel(format!("cannot create a veth pair: {e}")))?;
    lab.cleanup()
}
