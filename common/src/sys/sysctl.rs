//! Per-interface IPv6 sysctls under `/proc/sys/net/ipv6/conf/<if>/<key>`
//! (and `neigh/<if>/<key>`), and a guard that puts back what it changed.
//!
//! What the keys used here do (kernel `Documentation/networking/
//! ip-sysctl.rst`, checked against behaviour on 6.18):
//!
//! - `accept_ra`: 0 ignores Router Advertisements entirely (no default
//!   route, no prefixes, no MTU or hop limit from RAs) and the kernel sends
//!   no Router Solicitations. 1 accepts them unless `forwarding` is 1; 2
//!   accepts them even when forwarding.
//! - `autoconf`: SLAAC from Prefix Information options (needs `accept_ra`).
//! - `addr_gen_mode`: how the kernel makes the link-local address when the
//!   link comes up: 0 EUI-64, 1 none, 2 stable privacy, 3 random. Changing
//!   it does not remove a link-local address the kernel already made; that
//!   one goes when the link is set down (all IPv6 addresses are flushed on
//!   admin down unless `keep_addr_on_down` is set), and with mode 1 none is
//!   made on the next up. Set it before the first up where you can.
//! - `accept_dad`: 0 no DAD for addresses the kernel adds or we add without
//!   IFA_F_NODAD; 1 DAD; 2 DAD and disable IPv6 if the hardware-derived
//!   link-local is a duplicate.
//! - `disable_ipv6`: 1 removes every IPv6 address of the link and stops
//!   IPv6 on it.
//! - `forwarding`: router behaviour (on `all`: for every interface).
//! - `proxy_ndp`: answer NS for proxy neighbour entries (a home agent sets
//!   it on the home link and on `all`).
//! - `hop_limit`: the default hop limit; with `accept_ra=0` the kernel no
//!   longer takes it from RAs, so the daemon must set it itself.
//!
//! With `accept_ra=0`, `autoconf=0`, `addr_gen_mode=1` and `accept_dad=0`
//! the kernel neither configures nor probes addresses, but its ND stack still
//! answers NS for addresses that the daemon installs, and does NUD.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const CONF: &str = "/proc/sys/net/ipv6/conf";
const NEIGH: &str = "/proc/sys/net/ipv6/neigh";

fn check_component(what: &str, s: &str) -> io::Result<()> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad sysctl {what} {s:?}"),
        ));
    }
    Ok(())
}

/// `/proc/sys/net/ipv6/conf/<ifname>/<key>`; `ifname` may be `all` or
/// `default`.
pub fn conf_path(ifname: &str, key: &str) -> io::Result<PathBuf> {
    check_component("interface", ifname)?;
    check_component("key", key)?;
    Ok(Path::new(CONF).join(ifname).join(key))
}

/// `/proc/sys/net/ipv6/neigh/<ifname>/<key>` (e.g. `proxy_delay`).
pub fn neigh_path(ifname: &str, key: &str) -> io::Result<PathBuf> {
    check_component("interface", ifname)?;
    check_component("key", key)?;
    Ok(Path::new(NEIGH).join(ifname).join(key))
}

/// Reads a sysctl file, trimmed.
pub fn read_path(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| io::Error::new(e.kind(), format!("read {}: {e}", path.display())))
}

/// Writes a sysctl file.
pub fn write_path(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("write {value:?} to {}: {e}", path.display()),
        )
    })
}

/// Reads `net.ipv6.conf.<ifname>.<key>`.
pub fn read(ifname: &str, key: &str) -> io::Result<String> {
    read_path(&conf_path(ifname, key)?)
}

/// Writes `net.ipv6.conf.<ifname>.<key>`.
pub fn write(ifname: &str, key: &str, value: &str) -> io::Result<()> {
    write_path(&conf_path(ifname, key)?, value)
}

/// Records the original value of every sysctl it changes and writes them
/// back, newest first, on [`SysctlGuard::restore`] or drop. A key changed
/// twice is restored to the value it had before the first change. Keys of
/// an interface that has since disappeared are skipped silently.
///
/// Memory dies with the process: a daemon killed with SIGKILL would leave
/// the host with forwarding on or the kernel's autoconfiguration off for
/// good. [`SysctlGuard::with_journal`] also keeps the originals in a file,
/// written before each change, that the next start restores first and a
/// clean restore removes.
#[derive(Debug, Default)]
pub struct SysctlGuard {
    saved: Vec<(PathBuf, String)>,
    journal: Option<PathBuf>,
}

/// Only sysctls of the network stack are restored from a journal, whatever
/// the file says.
const JOURNAL_ROOT: &str = "/proc/sys/net/";

impl SysctlGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// A guard that keeps the original values in `journal` too. A journal
    /// an earlier run left (it was killed) is restored and removed first;
    /// returns the guard and how many values that put back.
    pub fn with_journal(journal: PathBuf) -> io::Result<(Self, usize)> {
        Self::with_journal_in(journal, Path::new(JOURNAL_ROOT))
    }

    fn with_journal_in(journal: PathBuf, root: &Path) -> io::Result<(Self, usize)> {
        let recovered = restore_journal_in(&journal, root)?;
        Ok((
            Self {
                saved: Vec::new(),
                journal: Some(journal),
            },
            recovered,
        ))
    }

    fn write_journal(&self) -> io::Result<()> {
        let Some(path) = &self.journal else {
            return Ok(());
        };
        let mut text = String::new();
        for (p, v) in &self.saved {
            text.push_str(&format!("{}\t{v}\n", p.display()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, text)
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|e| io::Error::new(e.kind(), format!("write {}: {e}", path.display())))
    }

    fn remove_journal(&self) {
        if let Some(p) = &self.journal {
            let _ = fs::remove_file(p);
        }
    }

    /// Sets `net.ipv6.conf.<ifname>.<key>` to `value`.
    pub fn set(&mut self, ifname: &str, key: &str, value: &str) -> io::Result<()> {
        self.set_path(conf_path(ifname, key)?, value)
    }

    /// Sets any sysctl file (e.g. from [`neigh_path`]).
    pub fn set_path(&mut self, path: PathBuf, value: &str) -> io::Result<()> {
        let old = read_path(&path)?;
        if !self.saved.iter().any(|(p, _)| *p == path) {
            self.saved.push((path.clone(), old.clone()));
            // On disk before the change: a kill right after it must still
            // find the original.
            self.write_journal()?;
        }
        if old != value {
            write_path(&path, value)?;
        }
        Ok(())
    }

    /// Stops the kernel from configuring or probing addresses on `ifname`:
    /// `accept_ra=0`, `autoconf=0`, `addr_gen_mode=1` (none),
    /// `accept_dad=0`. A link-local address the kernel already made stays
    /// until the link is next set down (see the module notes).
    pub fn disable_kernel_autoconf(&mut self, ifname: &str) -> io::Result<()> {
        for (key, value) in [
            ("accept_ra", "0"),
            ("autoconf", "0"),
            ("addr_gen_mode", "1"),
            ("accept_dad", "0"),
        ] {
            self.set(ifname, key, value)?;
        }
        Ok(())
    }

    /// The sysctl files changed so far, with their original values.
    pub fn saved(&self) -> &[(PathBuf, String)] {
        &self.saved
    }

    /// Keeps the current values: nothing is restored later. For a tool that
    /// leaves an interface configured on purpose (like a DHCP client leaving
    /// its lease in place).
    pub fn keep(&mut self) {
        self.saved.clear();
        self.remove_journal();
    }

    /// Writes the original values back (newest first) and forgets them.
    /// Returns the first error; keeps going past errors and skips files
    /// that no longer exist (their interface is gone).
    pub fn restore(&mut self) -> io::Result<()> {
        let mut first = None;
        while let Some((path, value)) = self.saved.pop() {
            if !path.exists() {
                continue;
            }
            if let Err(e) = write_path(&path, &value) {
                first.get_or_insert(e);
            }
        }
        // A failed write stays in the journal for the next start to retry.
        if first.is_none() {
            self.remove_journal();
        }
        first.map_or(Ok(()), Err)
    }
}

/// Restores the values a journal holds (newest first) and removes it; a
/// missing journal restores nothing.
pub fn restore_journal(journal: &Path) -> io::Result<usize> {
    restore_journal_in(journal, Path::new(JOURNAL_ROOT))
}

fn restore_journal_in(journal: &Path, root: &Path) -> io::Result<usize> {
    let text = match fs::read_to_string(journal) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("read {}: {e}", journal.display()),
            ));
        }
    };
    let mut n = 0;
    for line in text.lines().rev() {
        let Some((p, v)) = line.split_once('\t') else {
            continue;
        };
        let p = Path::new(p);
        if !p.starts_with(root)
            || p.components().any(|c| c == std::path::Component::ParentDir)
            || !p.exists()
        {
            continue;
        }
        write_path(p, v)?;
        n += 1;
    }
    fs::remove_file(journal)
        .map_err(|e| io::Error::new(e.kind(), format!("remove {}: {e}", journal.display())))?;
    Ok(n)
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert_eq!(
            conf_path("eth0", "accept_ra").expect("ok"),
            Path::new("/proc/sys/net/ipv6/conf/eth0/accept_ra")
        );
        assert_eq!(
            neigh_path("all", "proxy_delay").expect("ok"),
            Path::new("/proc/sys/net/ipv6/neigh/all/proxy_delay")
        );
        assert!(conf_path("../x", "accept_ra").is_err());
        assert!(conf_path("eth0", "").is_err());
        assert!(conf_path("..", "accept_ra").is_err());
    }

    /// Issue 11 item 17: the originals survive a SIGKILL (no drop, no
    /// restore) in the journal; the next start puts them back before it
    /// changes anything, and a clean restore removes the journal. Plain
    /// files stand in for /proc/sys here.
    #[test]
    fn journal_restores_what_a_killed_run_changed() {
        let dir = crate::testing::scratch_dir("sysctl");
        let root = dir.join("proc");
        fs::create_dir_all(&root).expect("dir");
        let (a, b) = (root.join("accept_ra"), root.join("forwarding"));
        fs::write(&a, "1\n").expect("a");
        fs::write(&b, "0\n").expect("b");
        let journal = dir.join("run/ha.sock.main.sysctl");

        let (mut g, recovered) =
            SysctlGuard::with_journal_in(journal.clone(), &root).expect("guard");
        assert_eq!(recovered, 0);
        g.set_path(a.clone(), "0").expect("set a");
        g.set_path(b.clone(), "1").expect("set b");
        g.set_path(a.clone(), "2").expect("set a again");
        assert!(journal.exists());
        // SIGKILL: nothing runs.
        std::mem::forget(g);
        assert_eq!(read_path(&a).expect("a"), "2");
        assert_eq!(read_path(&b).expect("b"), "1");

        // The next start: originals first, journal gone until it changes
        // something itself.
        let (mut g, recovered) =
            SysctlGuard::with_journal_in(journal.clone(), &root).expect("guard");
        assert_eq!(recovered, 2);
        assert_eq!(read_path(&a).expect("a"), "1");
        assert_eq!(read_path(&b).expect("b"), "0");
        assert!(!journal.exists());
        g.set_path(b.clone(), "1").expect("set b");
        assert_eq!(
            fs::read_to_string(&journal).expect("journal"),
            format!("{}\t0\n", b.display())
        );
        g.restore().expect("restore");
        assert_eq!(read_path(&b).expect("b"), "0");
        assert!(!journal.exists(), "a clean restore removes the journal");

        // A journal naming files outside the root is not obeyed.
        let outside = dir.join("elsewhere");
        fs::write(&outside, "x").expect("outside");
        fs::write(&journal, format!("{}\ty\n", outside.display())).expect("journal");
        assert_eq!(restore_journal_in(&journal, &root).expect("restore"), 0);
        assert_eq!(fs::read_to_string(&outside).expect("outside"), "x");
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
