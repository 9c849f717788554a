//! The control socket: a Unix stream socket where `mip6-mn status` asks
//! the running daemon for its [`Status`]. One request per connection, one
//! line each way: the client writes `status`, the daemon answers with the
//! snapshot as one JSON object (or `{"error": ...}`) and closes.
//!
//! The daemon's loop only publishes snapshots into shared memory; a thread
//! of its own answers clients, so a slow client never delays a BU.

use crate::status::Status;
use anyhow::{Context, bail};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the daemon publishes its snapshot.
pub type Published = Arc<Mutex<Option<Status>>>;

/// The listening side; removes its socket file when stopped or dropped.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Listens on `path`, creating its directory. A socket file that no
    /// daemon answers on (left by a crash) is replaced; a live one is an
    /// error.
    pub fn start(path: &Path, published: Published) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                bail!(
                    "control socket path {} exists and is not a socket",
                    path.display()
                );
            }
            if UnixStream::connect(path).is_ok() {
                bail!(
                    "another daemon answers on {}; stop it first or choose another control_socket",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        // The status names addresses and the home agent: root's business
        // only, as the home agent's socket.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to mode 0600", path.display()))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("control".into())
            .spawn(move || serve(&listener, &flag, &published))?;
        Ok(Self {
            path: path.to_owned(),
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops answering and removes the socket file.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: &UnixListener, stop: &AtomicBool, published: &Published) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, published) {
                    tracing::debug!(error = %e, "control client");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn answer(stream: UnixStream, published: &Published) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(&stream).take_line(&mut line)?;
    let reply = match line.trim() {
        "status" | "" => {
            let snap = published
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match snap {
                Some(mut s) => {
                    s.now_unix_ms =
                        crate::status::WallClock::now().unix_ms(std::time::Instant::now());
                    serde_json::to_string(&s).unwrap_or_else(|e| error_json(&e.to_string()))
                }
                None => error_json("the daemon is still starting"),
            }
        }
        other => error_json(&format!("unknown request {other:?} (try \"status\")")),
    };
    let mut w = &stream;
    w.write_all(reply.as_bytes())?;
    w.write_all(b"\n")
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

trait TakeLine {
    fn take_line(&mut self, buf: &mut String) -> io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    /// Reads one line of at most 256 octets.
    fn take_line(&mut self, buf: &mut String) -> io::Result<usize> {
        use std::io::Read as _;
        self.take(256).read_line(buf)
    }
}

/// Asks the daemon listening on `path` for its status.
pub fn query(path: &Path) -> anyhow::Result<Status> {
    let stream = UnixStream::connect(path).with_context(|| {
        format!(
            "no mip6-mn daemon answers on {} (is `mip6-mn run` running, with this control_socket?)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut w = &stream;
    w.write_all(b"status\n")?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .context("reading the daemon's answer")?;
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).context("the daemon's answer is not JSON")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("the daemon says: {e}");
    }
    serde_json::from_value(v).context("the daemon's answer is not a status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_daemon_is_a_clear_error() {
        let dir = mip6_common::testing::scratch_dir("ctl");
        let e = query(&dir.join("none.sock")).expect_err("nobody listens");
        assert!(format!("{e:#}").contains("no mip6-mn daemon"), "{e:#}");
    }

    #[test]
    fn starting_daemon_answers_error_then_status() {
        let dir = mip6_common::testing::scratch_dir("ctl2");
        let path = dir.join("mn.sock");
        let published: Published = Arc::new(Mutex::new(None));
        let mut server = ControlServer::start(&path, Arc::clone(&published)).expect("listen");
        let mode = std::fs::metadata(&path).expect("socket").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let e = query(&path).expect_err("no snapshot yet");
        assert!(format!("{e:#}").contains("still starting"), "{e:#}");
        // A second daemon on the same path is refused.
        assert!(ControlServer::start(&path, Arc::clone(&published)).is_err());
        server.stop();
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&dir);
    }
}
