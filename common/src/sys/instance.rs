//! One daemon per configuration: an exclusive `flock(2)` on a lock file,
//! taken before the daemon changes anything on the system. A second
//! instance started with the same configuration (or started while the
//! first still deregisters after SIGTERM) fails at once, naming the pid
//! that holds it, instead of tearing down the first one's routes, rules
//! and nftables table on its way to a later error.
//!
//! The kernel drops the lock when its holder dies, however it dies, so a
//! SIGKILLed daemon never blocks the next start. The file is removed on a
//! clean exit; a starter that locked a file someone unlinked meanwhile
//! (the holder exiting between our `open` and our `flock`) sees that the
//! path no longer names its inode and tries again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Held while the daemon runs; released (and the file removed) on drop.
#[derive(Debug)]
pub struct InstanceLock {
    path: PathBuf,
    file: File,
}

impl InstanceLock {
    /// Takes the lock at `path` (its directory is created) or fails with
    /// `WouldBlock` and a message naming the holder's pid.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", dir.display())))?;
        }
        for _ in 0..16 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
            // SAFETY: a plain flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("lock {}: {e}", path.display()),
                    ));
                }
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "another instance with this configuration is running (pid {}, lock {}); \
                         stop it first (it may still be deregistering)",
                        if pid.is_empty() { "?" } else { pid },
                        path.display()
                    ),
                ));
            }
            let ours = file.metadata()?;
            match fs::metadata(path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {}
                // Unlinked by its last holder meanwhile: lock the new one.
                _ => continue,
            }
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            return Ok(Self {
                path: path.to_owned(),
                file,
            });
        }
        Err(io::Error::other(format!(
            "lock {}: the file keeps changing",
            path.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so nobody locks the old
        // inode believing it current.
        let _ = fs::remove_file(&self.path);
        let _ = &self.file;
    }
}

/// The lock file of a daemon whose control socket is `control_socket`:
/// beside it, so that whatever makes two configurations distinct for the
/// control socket makes them distinct here too.
pub fn lock_path(control_socket: &Path) -> PathBuf {
    with_suffix(control_socket, ".lock")
}

/// Where a daemon with that control socket keeps the original values of
/// the sysctls it changed (see [`super::sysctl::SysctlGuard::with_journal`]),
/// `tag` telling several journals of one daemon apart.
pub fn sysctl_journal_path(control_socket: &Path, tag: &str) -> PathBuf {
    with_suffix(control_socket, &format!(".{tag}.sysctl"))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn second_lock_fails_and_names_the_holder_until_released() {
        let dir = crate::testing::scratch_dir("lock");
        let path = lock_path(&dir.join("sub/ha.sock"));
        assert!(path.ends_with("ha.sock.lock"));
        let first = InstanceLock::acquire(&path).unwrap();
        let e = InstanceLock::acquire(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(
            e.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(first);
        assert!(!path.exists());
        let again = InstanceLock::acquire(&path).unwrap();
        drop(again);
        fs::remove_dir_all(&dir).unwrap();
    }
}
