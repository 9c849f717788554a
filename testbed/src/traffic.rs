//! A long TCP stream whose survival across handovers is what a user cares
//! about: the client writes a known byte pattern at a steady rate, the
//! server checks every byte, and either side's error (a reset, a timeout, a
//! corrupted byte) marks the connection as broken.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The byte at stream offset `n`: position-dependent, so a lost, repeated or
/// reordered segment shows up as a mismatch.
fn pattern(n: u64) -> u8 {
    (n.wrapping_mul(2_654_435_761) >> 13) as u8
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamResult {
    pub bytes: u64,
    pub error: Option<String>,
    /// The receiver's running byte count, sampled at most every
    /// [`PROGRESS_EVERY`] (a silence shows as a flat stretch): what the
    /// report turns into throughput over time.
    pub progress: Vec<(Instant, u64)>,
}

/// How often the receiver samples its byte count.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Throughput in bins of `bin` from a receiver's `progress`, in
/// milliseconds since `start`: each sample is the rate over the bin that
/// ends at `at_ms`.
pub fn throughput(
    progress: &[(Instant, u64)],
    start: Instant,
    bin: Duration,
) -> Vec<crate::report::Throughput> {
    let mut out = Vec::new();
    let Some(&(first, _)) = progress.first() else {
        return out;
    };
    let bin_ms = bin.as_secs_f64() * 1000.0;
    // Bytes known at time t: the last sample at or before it.
    let at = |t: Instant| {
        progress
            .iter()
            .take_while(|(when, _)| *when <= t)
            .last()
            .map_or(0, |(_, b)| *b)
    };
    let Some(&(last, _)) = progress.last() else {
        return out;
    };
    let mut from = first;
    while from + bin <= last {
        let to = from + bin;
        let bytes = at(to).saturating_sub(at(from));
        out.push(crate::report::Throughput {
            at_ms: to.saturating_duration_since(start).as_secs_f64() * 1000.0,
            bits_per_second: bytes as f64 * 8.0 / (bin_ms / 1000.0),
        });
        from = to;
    }
    out
}

impl StreamResult {
    pub fn survived(&self) -> bool {
        self.error.is_none()
    }
}

/// Accepts one connection and checks the pattern until the peer closes or
/// `stop` is set. A silence longer than `idle_limit` counts as broken (a
/// handover should cost tens of milliseconds, not seconds).
pub fn serve_one(listener: &TcpListener, stop: &AtomicBool, idle_limit: Duration) -> StreamResult {
    listener.set_nonblocking(true).ok();
    let start = Instant::now();
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || start.elapsed() > idle_limit {
                    return StreamResult {
                        bytes: 0,
                        error: Some("no connection arrived".into()),
                        ..StreamResult::default()
                    };
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                return StreamResult {
                    bytes: 0,
                    error: Some(format!("accept: {e}")),
                    ..StreamResult::default()
                };
            }
        }
    };
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    let mut last_data = Instant::now();
    let mut progress = vec![(last_data, 0)];
    loop {
        let now = Instant::now();
        if progress
            .last()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= PROGRESS_EVERY)
        {
            progress.push((now, offset));
        }
        match conn.read(&mut buf) {
            Ok(0) => {
                return StreamResult {
                    bytes: offset,
                    error: None,
                    progress: std::mem::take(&mut progress),
                };
            }
            Ok(n) => {
                for (i, b) in buf[..n].iter().enumerate() {
                    let at = offset + i as u64;
                    if *b != pattern(at) {
                        return StreamResult {
                            bytes: at,
                            error: Some(format!("corrupt byte at offset {at}")),
                            progress: std::mem::take(&mut progress),
                        };
                    }
                }
                offset += n as u64;
                last_data = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return StreamResult {
                        bytes: offset,
                        error: None,
                        progress: std::mem::take(&mut progress),
                    };
                }
                if last_data.elapsed() > idle_limit {
                    return StreamResult {
                        bytes: offset,
                        error: Some(format!("no data for {idle_limit:?}")),
                        progress: std::mem::take(&mut progress),
                    };
                }
            }
            Err(e) => {
                return StreamResult {
                    bytes: offset,
                    error: Some(format!("read: {e}")),
                    progress: std::mem::take(&mut progress),
                };
            }
        }
    }
}

/// Connects to `to` and writes the pattern at about `rate` bytes per second
/// until `stop`, then closes cleanly.
pub fn send_stream(
    to: SocketAddr,
    rate: u64,
    stop: &AtomicBool,
    connect_timeout: Duration,
) -> StreamResult {
    let mut conn = match TcpStream::connect_timeout(&to, connect_timeout) {
        Ok(c) => c,
        Err(e) => {
            return StreamResult {
                bytes: 0,
                error: Some(format!("connect {to}: {e}")),
                ..StreamResult::default()
            };
        }
    };
    let _ = conn.set_nodelay(true);
    // A write may block through a handover; it must not block forever.
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let chunk = 4096usize;
    let mut offset = 0u64;
    let start = Instant::now();
    let mut buf = vec![0u8; chunk];
    while !stop.load(Ordering::SeqCst) {
        let due = Duration::from_secs_f64(offset as f64 / rate.max(1) as f64);
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep((due - elapsed).min(Duration::from_millis(20)));
            continue;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = pattern(offset + i as u64);
        }
        if let Err(e) = conn.write_all(&buf) {
            return StreamResult {
                bytes: offset,
                error: Some(format!("write: {e}")),
                ..StreamResult::default()
            };
        }
        offset += chunk as u64;
    }
    if let Err(e) = conn.shutdown(std::net::Shutdown::Write) {
        return StreamResult {
            bytes: offset,
            error: Some(format!("close: {e}")),
            ..StreamResult::default()
        };
    }
    StreamResult {
        bytes: offset,
        error: None,
        ..StreamResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_stream_on_loopback_survives_and_counts_every_byte() {
        let listener = TcpListener::bind("[::1]:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let s1 = Arc::clone(&stop);
        let server = std::thread::spawn(move || serve_one(&listener, &s1, Duration::from_secs(5)));
        let s2 = Arc::clone(&stop);
        let client =
            std::thread::spawn(move || send_stream(addr, 4 << 20, &s2, Duration::from_secs(2)));
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
        let sent = client.join().expect("join");
        let got = server.join().expect("join");
        assert!(sent.survived() && got.survived(), "{sent:?} {got:?}");
        assert!(sent.bytes > 100_000, "{sent:?}");
        assert!(got.bytes <= sent.bytes);
    }

    #[test]
    fn throughput_in_bins_shows_a_silence() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // 1 MB/s, then nothing for 400 ms (a handover), then 1 MB/s again.
        let progress = [
            (ms(0), 0),
            (ms(100), 100_000),
            (ms(200), 200_000),
            (ms(300), 200_000),
            (ms(400), 200_000),
            (ms(500), 200_000),
            (ms(600), 200_000),
            (ms(700), 300_000),
            (ms(800), 400_000),
        ];
        let bins = throughput(&progress, t0, Duration::from_millis(200));
        let rates: Vec<(f64, f64)> = bins.iter().map(|b| (b.at_ms, b.bits_per_second)).collect();
        assert_eq!(
            rates,
            vec![(200.0, 8e6), (400.0, 0.0), (600.0, 0.0), (800.0, 8e6)]
        );
        assert!(throughput(&[], t0, Duration::from_millis(200)).is_empty());
    }

    #[test]
    fn a_corrupted_byte_is_caught() {
        let listener = TcpListener::bind("[::1]:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = AtomicBool::new(false);
        let writer = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).expect("connect");
            let mut b: Vec<u8> = (0..100).map(pattern).collect();
            b[57] ^= 1;
            c.write_all(&b).expect("write");
        });
        let r = serve_one(&listener, &stop, Duration::from_secs(5));
        writer.join().expect("join");
        assert_eq!(r.error.as_deref(), Some("corrupt byte at offset 57"));
    }

    #[test]
    fn a_reset_is_broken() {
        let listener = TcpListener::bind("[::1]:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = AtomicBool::new(false);
        let writer = std::thread::spawn(move || {
            let c = TcpStream::connect(addr).expect("connect");
            (&c).write_all(&[pattern(0)]).expect("write");
            // SO_LINGER 0: close with a reset.
            socket_linger_zero(&c);
            drop(c);
        });
        let r = serve_one(&listener, &stop, Duration::from_secs(5));
        writer.join().expect("join");
        assert!(!r.survived(), "{r:?}");
    }

    fn socket_linger_zero(c: &TcpStream) {
        use std::os::fd::AsRawFd;
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized option value.
        unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&l as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
}

/// An iperf3 client's `--json` output as a report entry: bytes and rate
/// the receiver saw, the sender's retransmissions, and the one-second
/// intervals in which nothing moved. Any `error` iperf3 wrote, or output
/// that is not iperf3's JSON, marks the stream as broken.
pub fn iperf3_result(name: &str, json: &str) -> crate::report::Iperf3Result {
    let broken = |error: String| crate::report::Iperf3Result {
        name: name.to_string(),
        bytes_received: 0,
        bits_per_second: 0.0,
        retransmits: None,
        stalled_intervals: 0,
        survived: false,
        error: Some(error),
    };
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) if json.trim().is_empty() => return broken(format!("iperf3 wrote nothing ({e})")),
        Err(e) => return broken(format!("iperf3's output is not JSON: {e}")),
    };
    let end = &v["end"];
    let received = &end["sum_received"];
    let mut r = crate::report::Iperf3Result {
        name: name.to_string(),
        bytes_received: received["bytes"].as_u64().unwrap_or(0),
        bits_per_second: received["bits_per_second"].as_f64().unwrap_or(0.0),
        retransmits: end["sum_sent"]["retransmits"].as_u64(),
        stalled_intervals: v["intervals"].as_array().map_or(0, |a| {
            a.iter()
                .filter(|i| i["sum"]["bytes"].as_u64() == Some(0))
                .count() as u32
        }),
        survived: true,
        error: None,
    };
    if let Some(e) = v["error"].as_str() {
        r.survived = false;
        r.error = Some(e.to_string());
    } else if received.is_null() {
        r.survived = false;
        r.error = Some("iperf3 reported no end of test".into());
    }
    r
}

#[cfg(test)]
mod iperf3_tests {
    use super::iperf3_result;

    #[test]
    fn a_finished_stream_survives() {
        let r = iperf3_result("cn -> mn", include_str!("fixtures/iperf3-ok.json"));
        assert!(r.survived, "{r:?}");
        assert_eq!(r.bytes_received, 2_621_440);
        assert!((r.bits_per_second - 10.48e6).abs() < 0.01e6, "{r:?}");
        assert_eq!(r.retransmits, Some(0));
        assert_eq!(r.stalled_intervals, 0);
    }

    #[test]
    fn an_error_or_garbage_is_a_broken_stream() {
        let r = iperf3_result(
            "x",
            r#"{"start":{},"intervals":[{"sum":{"bytes":0}}],"end":{},"error":"control socket has closed unexpectedly"}"#,
        );
        assert!(!r.survived);
        assert_eq!(r.stalled_intervals, 1);
        assert!(r.error.as_deref().is_some_and(|e| e.contains("closed")));
        assert!(!iperf3_result("x", "iperf3: error - unable to connect").survived);
        assert!(!iperf3_result("x", "").survived);
        assert!(!iperf3_result("x", r#"{"start":{},"intervals":[],"end":{}}"#).survived);
    }
}
