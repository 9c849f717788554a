//! Rate limits for what an unauthenticated sender can make a daemon do:
//! log lines (a rejected BU once cost 322 octets of log, 251 MB in 8 s of
//! flood) and answers (RFC 6275 9.3.3 asks Binding Errors to be limited).
//! Sans-IO: the caller passes the time.

use std::time::{Duration, Instant};

/// At most `burst` events per `interval` (a fixed window); what is held
/// back is counted and reported with the next event allowed, so a log
/// line can say how many similar ones it stands for.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    burst: u32,
    interval: Duration,
    window: Option<Instant>,
    used: u32,
    held_back: u64,
    held_back_total: u64,
}

impl RateLimiter {
    pub const fn new(burst: u32, interval: Duration) -> Self {
        Self {
            burst,
            interval,
            window: None,
            used: 0,
            held_back: 0,
            held_back_total: 0,
        }
    }

    /// The limit for log lines about what strangers send: ten lines per
    /// ten seconds per kind.
    pub const fn for_logs() -> Self {
        Self::new(10, Duration::from_secs(10))
    }

    /// `Some(n)` when the event may happen now, `n` being how many were
    /// held back since the last one allowed; `None` when it must not.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.window {
            Some(start) if now.saturating_duration_since(start) < self.interval => {}
            _ => {
                self.window = Some(now);
                self.used = 0;
            }
        }
        if self.used < self.burst {
            self.used += 1;
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back += 1;
            self.held_back_total += 1;
            None
        }
    }

    /// Events held back since this limiter was made.
    pub fn held_back_total(&self) -> u64 {
        self.held_back_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_a_burst_per_window_and_a_count() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(3, Duration::from_secs(10));
        let allowed: Vec<Option<u64>> = (0..1000)
            .map(|i| l.allow(t0 + Duration::from_millis(i)))
            .collect();
        assert_eq!(allowed.iter().filter(|a| a.is_some()).count(), 3);
        assert!(allowed[..3].iter().all(|a| *a == Some(0)));
        assert_eq!(l.held_back_total(), 997);
        // The next window's first line tells how many were held back.
        assert_eq!(l.allow(t0 + Duration::from_secs(10)), Some(997));
        assert_eq!(l.allow(t0 + Duration::from_secs(11)), Some(0));
        assert_eq!(l.held_back_total(), 997);
    }
}
