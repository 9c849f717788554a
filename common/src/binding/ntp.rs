//! 64-bit NTP timestamps (RFC 5905 6: 32 bits of seconds since 1900, 32 bits
//! of fraction), the format of the Mobility Message Replay Protection option
//! (RFC 4285 6), and a wall clock the engines extrapolate between samples.
//!
//! The engines never read a clock. The shell gives them a sample, an
//! [`Instant`] and the wall-clock time at that instant as an NTP timestamp
//! ([`ntp_from_system_time`]), whenever it likes; in between, the engine adds
//! the monotonic time elapsed since the sample.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP era 0 epoch (1900-01-01) to the UNIX epoch.
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// A duration in NTP units (2^-32 s), saturating.
pub fn ntp_units(d: Duration) -> u64 {
    let secs = d.as_secs().min(u64::from(u32::MAX));
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// An NTP difference back to a duration.
pub fn ntp_duration(units: u64) -> Duration {
    let secs = units >> 32;
    let nanos = ((units & 0xffff_ffff) * 1_000_000_000) >> 32;
    Duration::new(secs, nanos as u32)
}

/// The NTP timestamp of `t` (era 0; times before 1900 give 0).
pub fn ntp_from_system_time(t: SystemTime) -> u64 {
    let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since_unix.as_secs().saturating_add(NTP_UNIX_OFFSET_SECS);
    ntp_units(Duration::new(secs, since_unix.subsec_nanos()))
}

/// How far apart two timestamps are, whichever is later.
pub fn ntp_abs_diff(a: u64, b: u64) -> Duration {
    ntp_duration(a.abs_diff(b))
}

/// A wall-clock sample: NTP time `ntp` at `at`. Copy it freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    pub at: Instant,
    pub ntp: u64,
}

impl WallClock {
    pub const fn new(at: Instant, ntp: u64) -> Self {
        Self { at, ntp }
    }

    /// The NTP time at `now`, extrapolated from the sample.
    pub fn ntp_at(&self, now: Instant) -> u64 {
        if now >= self.at {
            self.ntp.saturating_add(ntp_units(now - self.at))
        } else {
            self.ntp.saturating_sub(ntp_units(self.at - now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_2208988800_seconds_after_1900() {
        assert_eq!(ntp_from_system_time(UNIX_EPOCH), 2_208_988_800u64 << 32);
        let half = UNIX_EPOCH + Duration::from_millis(1500);
        assert_eq!(
            ntp_from_system_time(half),
            (2_208_988_801u64 << 32) | 0x8000_0000
        );
    }

    #[test]
    fn units_round_trip() {
        for d in [
            Duration::ZERO,
            Duration::from_micros(1),
            Duration::from_millis(7_250),
            Duration::from_secs(86_400),
        ] {
            let back = ntp_duration(ntp_units(d));
            assert!(d.abs_diff(back) < Duration::from_nanos(2), "{d:?} {back:?}");
        }
        assert_eq!(ntp_abs_diff(10 << 32, 3 << 32), Duration::from_secs(7));
        assert_eq!(ntp_abs_diff(3 << 32, 10 << 32), Duration::from_secs(7));
    }

    #[test]
    fn wall_clock_extrapolates_both_ways() {
        let t0 = Instant::now();
        let c = WallClock::new(t0 + Duration::from_secs(10), 100 << 32);
        assert_eq!(c.ntp_at(t0 + Duration::from_secs(12)), 102 << 32);
        assert_eq!(c.ntp_at(t0 + Duration::from_secs(9)), 99 << 32);
        assert_eq!(
            c.ntp_at(t0 + Duration::from_millis(10_250)),
            (100 << 32) | 0x4000_0000
        );
    }
}
