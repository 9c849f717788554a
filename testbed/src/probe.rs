//! The 1 kHz UDP probe stream: what a user feels during a handover, as the
//! longest silence and the probes lost.
//!
//! A sender stamps each datagram with a sequence number; the receiver
//! records when each arrived. [`ProbeLog::analyse`] then cuts the run into
//! windows, one per handover, and reports the gap and the losses of each.
//! The analysis is pure, so it is tested without a network.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Probe datagram: magic, sequence number, padding to a small packet.
const MAGIC: &[u8; 4] = b"m6pr";
pub const PROBE_LEN: usize = 32;

pub fn encode(seq: u32) -> [u8; PROBE_LEN] {
    let mut b = [0u8; PROBE_LEN];
    b[..4].copy_from_slice(MAGIC);
    b[4..8].copy_from_slice(&seq.to_be_bytes());
    b
}

pub fn decode(b: &[u8]) -> Option<u32> {
    if b.len() < 8 || &b[..4] != MAGIC {
        return None;
    }
    Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
}

/// What a receiver saw, and what the sender sent.
#[derive(Debug, Clone, Default)]
pub struct ProbeLog {
    /// When the run started; every time below is relative to it.
    pub sent: u32,
    pub interval: Duration,
    /// (sequence, arrival since start); duplicates kept.
    pub arrivals: Vec<(u32, Duration)>,
}

/// One handover's effect on the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    /// The longest silence between two probes in the window, ms.
    pub gap_ms: f64,
    /// When the silence started, since the run started, ms.
    pub gap_start_ms: f64,
    /// Probes sent in the window that never arrived.
    pub lost: u32,
}

impl ProbeLog {
    /// The stream cut at `marks` (since start): window i runs from mark i
    /// to mark i+1 (the last to the end). A probe belongs to the window in
    /// which it was sent (sequence x interval), so the loss count does not
    /// depend on when the survivors arrived.
    pub fn analyse(&self, marks: &[Duration]) -> Vec<WindowStats> {
        let interval = self.interval.max(Duration::from_micros(1));
        let mut got = vec![false; self.sent as usize];
        for (seq, _) in &self.arrivals {
            if let Some(g) = got.get_mut(*seq as usize) {
                *g = true;
            }
        }
        let mut arrivals: Vec<Duration> = self.arrivals.iter().map(|a| a.1).collect();
        arrivals.sort();
        let end = interval * self.sent;
        marks
            .iter()
            .enumerate()
            .map(|(i, from)| {
                let to = marks.get(i + 1).copied().unwrap_or(end).max(*from);
                let first = (from.as_nanos() / interval.as_nanos()) as usize;
                let last = (to.as_nanos() / interval.as_nanos()) as usize;
                let lost = got
                    .get(first.min(got.len())..last.min(got.len()))
                    .map_or(0, |w| w.iter().filter(|g| !**g).count())
                    as u32;
                // The silence that straddles the window's start counts: it
                // began just before the move that opened the window.
                let mut prev = arrivals
                    .iter()
                    .rev()
                    .find(|t| **t < *from)
                    .copied()
                    .unwrap_or(*from);
                let mut best = (Duration::ZERO, prev);
                for t in arrivals.iter().filter(|t| **t >= *from && **t < to) {
                    if *t - prev > best.0 {
                        best = (*t - prev, prev);
                    }
                    prev = *t;
                }
                // Nothing arrived after the last probe in the window.
                if to > prev && to - prev > best.0 && lost > 0 {
                    best = (to - prev, prev);
                }
                WindowStats {
                    gap_ms: best.0.as_secs_f64() * 1000.0,
                    gap_start_ms: best.1.as_secs_f64() * 1000.0,
                    lost,
                }
            })
            .collect()
    }
}

/// Sends probes to `to` every `interval` until `stop`; returns how many.
/// Catches up after a late wake-up instead of drifting, so the send rate is
/// the nominal one over the run.
pub fn send(
    to: SocketAddr,
    interval: Duration,
    stop: &AtomicBool,
    start: Instant,
) -> io::Result<u32> {
    let bind: SocketAddr = if to.is_ipv6() {
        "[::]:0".parse().map_err(io::Error::other)?
    } else {
        "0.0.0.0:0".parse().map_err(io::Error::other)?
    };
    let sock = UdpSocket::bind(bind)?;
    let mut seq: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        let due = start + interval * seq;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        // A send error (no route during a move) is a lost probe, not the
        // end of the run.
        let _ = sock.send_to(&encode(seq), to);
        seq += 1;
    }
    Ok(seq)
}

/// Receives probes on `sock` until `stop`; arrival times since `start`.
pub fn receive(
    sock: &UdpSocket,
    stop: &AtomicBool,
    start: Instant,
) -> io::Result<Vec<(u32, Duration)>> {
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::SeqCst) {
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                if let Some(seq) = decode(&buf[..n]) {
                    out.push((seq, start.elapsed()));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A stop flag shared by a probe's two ends.
pub fn stop_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// When each probe arrived: (sequence, time since start).
pub type Arrivals = Vec<(u32, Duration)>;

/// A probe stream between two lab nodes: the receiver's socket is bound
/// before the first probe leaves, both ends run on threads inside their
/// namespaces, and [`ProbeStream::finish`] collects the log.
pub struct ProbeStream {
    tx: std::thread::JoinHandle<crate::harness::Result<io::Result<u32>>>,
    rx: std::thread::JoinHandle<crate::harness::Result<io::Result<Arrivals>>>,
    interval: Duration,
}

impl std::fmt::Debug for ProbeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeStream")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl ProbeStream {
    /// Probes from `from` to `to` (an address of `to_node`) every
    /// `interval` until `stop`.
    pub fn start(
        from: &crate::harness::Node,
        to_node: &crate::harness::Node,
        to: SocketAddr,
        interval: Duration,
        stop: &Arc<AtomicBool>,
        start: Instant,
    ) -> anyhow::Result<Self> {
        let port = to.port();
        let sock = to_node.run_in(|| {
            UdpSocket::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)))
        })??;
        let s = Arc::clone(stop);
        let rx = to_node.thread_in(move || receive(&sock, &s, start))?;
        let s = Arc::clone(stop);
        let tx = from.thread_in(move || send(to, interval, &s, start))?;
        Ok(Self { tx, rx, interval })
    }

    /// Waits for both ends (set the stop flag first).
    pub fn finish(self) -> anyhow::Result<ProbeLog> {
        let sent = self
            .tx
            .join()
            .map_err(|_| anyhow::anyhow!("probe sender panicked"))??
            .map_err(|e| anyhow::anyhow!("probe sender: {e}"))?;
        let arrivals = self
            .rx
            .join()
            .map_err(|_| anyhow::anyhow!("probe receiver panicked"))??
            .map_err(|e| anyhow::anyhow!("probe receiver: {e}"))?;
        Ok(ProbeLog {
            sent,
            interval: self.interval,
            arrivals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// 1 kHz for 3 s with a hole: probes 1200..1250 lost, arrivals 0.3 ms
    /// after sending.
    fn log_with_hole() -> ProbeLog {
        let arrivals = (0..3000u32)
            .filter(|s| !(1200..1250).contains(s))
            .map(|s| (s, ms(u64::from(s)) + Duration::from_micros(300)))
            .collect();
        ProbeLog {
            sent: 3000,
            interval: ms(1),
            arrivals,
        }
    }

    #[test]
    fn probe_round_trips_and_rejects_garbage() {
        assert_eq!(decode(&encode(77)), Some(77));
        assert_eq!(decode(b"nope1234"), None);
        assert_eq!(decode(b"m6p"), None);
    }

    #[test]
    fn gap_and_loss_land_in_the_window_of_the_move() {
        let w = log_with_hole().analyse(&[ms(0), ms(1000), ms(2000)]);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].lost, 0);
        assert!((w[0].gap_ms - 1.0).abs() < 0.01, "{:?}", w[0]);
        assert_eq!(w[1].lost, 50);
        // Last probe before the hole at 1199.3 ms, next at 1250.3 ms.
        assert!((w[1].gap_ms - 51.0).abs() < 0.01, "{:?}", w[1]);
        assert!((w[1].gap_start_ms - 1199.3).abs() < 0.01);
        assert_eq!(w[2].lost, 0);
    }

    #[test]
    fn a_stream_that_never_comes_back_counts_to_the_end() {
        let mut log = log_with_hole();
        log.arrivals.retain(|(s, _)| *s < 2500);
        let w = log.analyse(&[ms(0), ms(2000)]);
        assert_eq!(w[1].lost, 500);
        assert!(w[1].gap_ms > 500.0, "{:?}", w[1]);
    }

    #[test]
    fn real_sockets_on_loopback() {
        let rx = UdpSocket::bind("[::1]:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        let stop = stop_flag();
        let start = Instant::now();
        let s2 = Arc::clone(&stop);
        let sender = std::thread::spawn(move || send(to, ms(1), &s2, start));
        let s3 = Arc::clone(&stop);
        let receiver = std::thread::spawn(move || receive(&rx, &s3, start));
        std::thread::sleep(ms(300));
        stop.store(true, Ordering::SeqCst);
        let sent = sender.join().expect("join").expect("send");
        let arrivals = receiver.join().expect("join").expect("receive");
        assert!(sent >= 250, "sent {sent}");
        assert!(
            arrivals.len() as u32 >= sent - 5,
            "{} of {sent}",
            arrivals.len()
        );
    }
}
