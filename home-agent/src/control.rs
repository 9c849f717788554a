//! The control socket: a Unix stream socket (mode 0600) where a client
//! writes one JSON request line and reads one JSON response line, then the
//! daemon closes the connection.
//!
//! ```text
//! > {"command":"status"}
//! < {"ok":true,"status":{"ha_address":"2001:db8:1::1",...,"bindings":[...]}}
//! > {"command":"bogus"}
//! < {"ok":false,"error":"unknown command \"bogus\""}
//! ```
//!
//! Served on its own thread from what the loop publishes (`state`), so a
//! slow client never holds up a Binding Update.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::{Shared, StatusReport};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The listening socket; the file is removed on drop.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket file) and serves it on a new
    /// thread.
    pub fn start(path: &Path, shared: Arc<Shared>) -> io::Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", dir.display())))?;
        }
        // A socket file left by a killed daemon: refuse only if someone
        // answers on it.
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another daemon is listening", path.display()),
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| io::Error::new(e.kind(), format!("remove {}: {e}", path.display())))?;
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| io::Error::new(e.kind(), format!("bind {}: {e}", path.display())))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    match conn {
                        Ok(stream) => {
                            if let Err(e) = serve(stream, &shared) {
                                tracing::debug!(error = %e, "control connection");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "control socket accept"),
                    }
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .take_line(&mut line)
        .map_err(|e| io::Error::new(e.kind(), format!("read request: {e}")))?;
    let resp = match serde_json::from_str::<Request>(line.trim()) {
        Ok(r) if r.command == "status" => Response {
            ok: true,
            status: Some(shared.report()),
            error: None,
        },
        Ok(r) => Response {
            ok: false,
            status: None,
            error: Some(format!("unknown command {:?}", r.command)),
        },
        Err(e) => Response {
            ok: false,
            status: None,
            error: Some(format!("bad request: {e}")),
        },
    };
    let mut out = serde_json::to_string(&resp).map_err(io::Error::other)?;
    out.push('\n');
    (&stream).write_all(out.as_bytes())
}

/// Reads one line of at most 64 KiB.
trait TakeLine {
    fn take_line(self, line: &mut String) -> io::Result<usize>;
}

impl<R: io::Read> TakeLine for BufReader<R> {
    fn take_line(self, line: &mut String) -> io::Result<usize> {
        io::Read::take(self, 64 * 1024).read_line(line)
    }
}

/// Asks the daemon at `path` for its status.
pub fn request_status(path: &Path) -> anyhow::Result<StatusReport> {
    use anyhow::Context;
    let stream = UnixStream::connect(path).with_context(|| {
        format!(
            "connect to {} (is mip6-ha running? pass -c or --socket)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut req = serde_json::to_string(&Request {
        command: "status".into(),
    })?;
    req.push('\n');
    (&stream).write_all(req.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .context("read the daemon's answer")?;
    let resp: Response = serde_json::from_str(line.trim()).context("parse the daemon's answer")?;
    match (resp.ok, resp.status, resp.error) {
        (true, Some(s), _) => Ok(s),
        (_, _, Some(e)) => anyhow::bail!("the daemon says: {e}"),
        _ => anyhow::bail!("the daemon gave no status"),
    }
}

/// `mip6-ha status` as a table.
pub fn render_table(s: &StatusReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "home agent {} on {} (tunnel {}), up {} s, {} binding(s){}",
        s.ha_address,
        s.home_interface,
        s.tunnel_device,
        s.uptime_secs,
        s.bindings.len(),
        if s.allow_unauthenticated {
            ", UNAUTHENTICATED BUs ALLOWED"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<28} {:<28} {:<22} {:>5} {:<5} {:>9} {:>19} {:>23}",
        "HOME ADDRESS",
        "CARE-OF ADDRESS",
        "MN ID",
        "SEQ",
        "FLAGS",
        "LIFETIME",
        "PACKETS TO/FROM MN",
        "BYTES TO/FROM MN"
    );
    for b in &s.bindings {
        let _ = writeln!(
            out,
            "{:<28} {:<28} {:<22} {:>5} {:<5} {:>9} {:>19} {:>23}",
            b.hoa.to_string(),
            b.coa.to_string(),
            b.mn_id.as_deref().unwrap_or("-"),
            b.sequence,
            b.flags,
            format!("{}/{}", b.lifetime_left_secs, b.lifetime_secs),
            format!("{}/{}", b.packets_to_mn, b.packets_from_mn),
            format!("{}/{}", b.bytes_to_mn, b.bytes_from_mn),
        );
    }
    // The history of each binding, one line under the table: when it was
    // made, its last BU, its moves, what was last refused.
    for b in &s.bindings {
        let _ = writeln!(
            out,
            "  {}: created {} s ago, last BU {} s ago, {} handover(s), last rejection {}",
            b.hoa,
            b.created_secs_ago,
            b.last_bu_secs_ago,
            b.handovers,
            b.last_rejection.as_deref().unwrap_or("none")
        );
    }
    for r in s
        .rejections
        .iter()
        .filter(|r| !s.bindings.iter().any(|b| b.hoa == r.hoa))
    {
        let _ = writeln!(
            out,
            "  {} (no binding): last rejection {} ({}), {} s ago",
            r.hoa, r.status, r.reason, r.secs_ago
        );
    }
    if !s.pending_dad.is_empty() {
        let pending: Vec<String> = s.pending_dad.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "waiting for DAD: {}", pending.join(", "));
    }
    let by: Vec<String> = s
        .binding_updates
        .by_status
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    let _ = writeln!(
        out,
        "binding updates: {} received, {} dropped, {} acks; by status {}",
        s.binding_updates.received,
        s.binding_updates.dropped,
        s.binding_updates.acks_sent,
        if by.is_empty() {
            "-".to_owned()
        } else {
            by.join(" ")
        }
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::PubBinding;
    use crate::tunnel::FakePlane;
    use mip6_common::wire::mh::BuFlags;
    use std::net::Ipv6Addr;
    use std::time::Instant;

    #[test]
    fn status_round_trip_over_the_socket() {
        let dir = mip6_common::testing::scratch_dir("ha-ctl");
        let path = dir.join("ha.sock");
        let shared = Arc::new(
            FakePlane {
                counters: (3, 300, 4, 400),
                name: "tun9",
                drops: Vec::new(),
            }
            .into_shared("2001:db8:1::1", true),
        );
        let hoa: Ipv6Addr = "2001:db8:1::100".parse().unwrap();
        shared.lock().bindings.insert(
            hoa,
            PubBinding {
                hoa,
                coa: "2001:db8:2::100".parse().unwrap(),
                mn_id: Some("mn1@example.org".into()),
                sequence: 9,
                flags: BuFlags::A | BuFlags::H,
                lifetime_secs: 600,
                expires: Instant::now() + Duration::from_secs(300),
                created: Instant::now(),
                updated: Instant::now(),
                handovers: 3,
            },
        );
        let server = ControlServer::start(&path, Arc::clone(&shared)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // A second daemon on the same socket is refused.
        assert!(ControlServer::start(&path, Arc::clone(&shared)).is_err());
        let s = request_status(&path).unwrap();
        assert_eq!(s.tunnel_device, "tun9");
        let b = &s.bindings[0];
        assert_eq!((b.hoa, b.sequence, b.flags.as_str()), (hoa, 9, "AH"));
        assert_eq!((b.packets_to_mn, b.bytes_from_mn), (3, 400));
        assert!(b.lifetime_left_secs <= 300 && b.lifetime_left_secs >= 298);
        shared.lock().rejections.insert(
            hoa,
            crate::state::Rejection {
                at: Instant::now(),
                status: 146,
            },
        );
        let s = request_status(&path).unwrap();
        assert_eq!(s.bindings[0].handovers, 3);
        assert_eq!(s.rejections[0].reason, "MIPV6-AUTH-FAIL");
        let table = render_table(&s);
        assert!(
            table.contains("3 handover(s), last rejection 146 (MIPV6-AUTH-FAIL), 0 s ago"),
            "{table}"
        );
        assert!(
            table.contains("created 0 s ago, last BU 0 s ago"),
            "{table}"
        );
        assert!(table.contains("mn1@example.org") && table.contains("UNAUTHENTICATED"));
        assert!(
            table.contains("3/4") && table.contains("300/400"),
            "{table}"
        );
        // A bad request gets an error line, not a hang.
        let stream = UnixStream::connect(&path).unwrap();
        (&stream).write_all(b"{\"command\":\"reboot\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        let r: Response = serde_json::from_str(&line).unwrap();
        assert!(!r.ok && r.error.unwrap().contains("reboot"));
        drop(server);
        assert!(!path.exists(), "socket file removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
