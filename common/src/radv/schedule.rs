use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// RFC 4861 6.2.1 / 10 and RFC 6275 7.5 timing of one advertising interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaTiming {
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// MIN_DELAY_BETWEEN_RAS: 3 s in RFC 4861; RFC 6275 7.5 lets a router
    /// serving mobile nodes go down to 30 ms (MinDelayBetweenRAs).
    pub min_delay_between_ras: Duration,
    /// MAX_RA_DELAY_TIME before answering a solicitation.
    pub max_ra_delay: Duration,
    /// MAX_INITIAL_RTR_ADVERT_INTERVAL and MAX_INITIAL_RTR_ADVERTISEMENTS.
    pub max_initial_interval: Duration,
    pub initial_advertisements: u8,
}

impl Default for RaTiming {
    fn default() -> Self {
        let max = Duration::from_secs(600);
        Self {
            min_interval: max.mul_f64(0.33),
            max_interval: max,
            min_delay_between_ras: Duration::from_secs(3),
            max_ra_delay: Duration::from_millis(500),
            max_initial_interval: Duration::from_secs(16),
            initial_advertisements: 3,
        }
    }
}

impl RaTiming {
    /// A router on a link that mobile nodes visit: frequent RAs so movement
    /// is detected fast (RFC 6275 7.5 allows intervals down to 30/70 ms).
    pub fn mobile(max_interval: Duration) -> Self {
        let max_interval = max_interval.max(Duration::from_millis(70));
        Self {
            min_interval: max_interval.mul_f64(0.33).max(Duration::from_millis(30)),
            max_interval,
            min_delay_between_ras: Duration::from_millis(30),
            max_ra_delay: Duration::from_millis(20),
            max_initial_interval: max_interval.min(Duration::from_secs(16)),
            initial_advertisements: 3,
        }
    }
}

/// Decides when an advertising interface multicasts a Router Advertisement.
#[derive(Debug)]
pub struct RaScheduler {
    timing: RaTiming,
    rng: StdRng,
    next: Option<Instant>,
    sent: u32,
    last_multicast: Option<Instant>,
}

impl RaScheduler {
    pub fn new(timing: RaTiming, seed: u64) -> Self {
        Self {
            timing,
            rng: StdRng::seed_from_u64(seed),
            next: None,
            sent: 0,
            last_multicast: None,
        }
    }

    pub fn timing(&self) -> &RaTiming {
        &self.timing
    }

    /// Advertising starts now: the first RA goes out at once.
    pub fn start(&mut self, now: Instant) {
        self.next = Some(now);
        self.sent = 0;
    }

    pub fn stop(&mut self) {
        self.next = None;
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// True when an advertisement is due now; the caller sends it to
    /// all-nodes and the next one is scheduled.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.next {
            Some(t) if t <= now => {}
            _ => return false,
        }
        self.sent = self.sent.saturating_add(1);
        self.last_multicast = Some(now);
        let mut interval = self.random_interval();
        // RFC 4861 6.2.4: the first few come faster so hosts learn quickly.
        if self.sent <= u32::from(self.timing.initial_advertisements) {
            interval = interval.min(self.timing.max_initial_interval);
        }
        self.next = Some(now + interval);
        true
    }

    /// A Router Solicitation arrived (RFC 4861 6.2.6): answer with a
    /// multicast RA after a random delay, but never sooner than
    /// MIN_DELAY_BETWEEN_RAS after the previous one; an earlier scheduled RA
    /// is not postponed.
    pub fn handle_rs(&mut self, now: Instant) {
        let Some(next) = self.next else { return };
        let max_us = self.timing.max_ra_delay.as_micros() as u64;
        let delay = if max_us == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.random_range(0..=max_us))
        };
        let mut at = now + delay;
        if let Some(last) = self.last_multicast {
            at = at.max(last + self.timing.min_delay_between_ras);
        }
        if at < next {
            self.next = Some(at);
        }
    }

    fn random_interval(&mut self) -> Duration {
        let lo = self.timing.min_interval.as_micros() as u64;
        let hi = self.timing.max_interval.as_micros() as u64;
        if hi <= lo {
            return self.timing.max_interval;
        }
        Duration::from_micros(self.rng.random_range(lo..=hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire_all(s: &mut RaScheduler, until: Instant) -> Vec<Instant> {
        let mut out = Vec::new();
        while let Some(t) = s.poll_timeout() {
            if t > until {
                break;
            }
            assert!(s.handle_timeout(t));
            out.push(t);
        }
        out
    }

    #[test]
    fn intervals_stay_within_bounds_and_start_fast() {
        let t0 = Instant::now();
        let mut s = RaScheduler::new(RaTiming::default(), 1);
        s.start(t0);
        let sent = fire_all(&mut s, t0 + Duration::from_secs(6000));
        assert_eq!(sent[0], t0);
        for w in sent.windows(2).take(3) {
            assert!(w[1] - w[0] <= Duration::from_secs(16));
        }
        for w in sent.windows(2).skip(3) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_secs(198) && gap <= Duration::from_secs(600),
                "{gap:?}"
            );
        }
    }

    #[test]
    fn solicitation_is_answered_soon_but_rate_limited() {
        let t0 = Instant::now();
        let mut s = RaScheduler::new(RaTiming::default(), 2);
        s.start(t0);
        assert!(s.handle_timeout(t0));
        // One second after an RA: the answer waits until 3 s have passed.
        s.handle_rs(t0 + Duration::from_secs(1));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        assert!(s.handle_timeout(t0 + Duration::from_secs(3)));
        // Long after: within MAX_RA_DELAY_TIME.
        let t1 = t0 + Duration::from_secs(10);
        s.handle_rs(t1);
        let at = s.poll_timeout().unwrap();
        assert!(at >= t1 && at <= t1 + Duration::from_millis(500));
    }

    #[test]
    fn mobile_timing_answers_within_milliseconds() {
        let t0 = Instant::now();
        let mut s = RaScheduler::new(RaTiming::mobile(Duration::from_millis(500)), 3);
        s.start(t0);
        assert!(s.handle_timeout(t0));
        let t1 = t0 + Duration::from_millis(100);
        s.handle_rs(t1);
        let at = s.poll_timeout().unwrap();
        assert!(at <= t1 + Duration::from_millis(20), "{:?}", at - t1);
    }

    #[test]
    fn stopped_scheduler_ignores_solicitations() {
        let t0 = Instant::now();
        let mut s = RaScheduler::new(RaTiming::default(), 4);
        s.handle_rs(t0);
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.handle_timeout(t0));
    }
}
