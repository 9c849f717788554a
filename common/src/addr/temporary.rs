//! Temporary addresses (RFC 8981): random identifiers and the lifetime
//! arithmetic, as pure functions of durations the caller supplies.

use std::time::Duration;

use rand::Rng;

use super::{AddrError, InterfaceId};

/// RFC 8981 section 3.8 default: the longest a temporary address stays valid.
pub const TEMP_VALID_LIFETIME: Duration = Duration::from_secs(2 * 24 * 60 * 60);

/// RFC 8981 section 3.8 default: the longest a temporary address stays
/// preferred (before DESYNC_FACTOR is subtracted).
pub const TEMP_PREFERRED_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// RFC 8981 section 3.8 default: new identifiers tried after DAD failures
/// before giving up on a temporary address for the prefix.
pub const TEMP_IDGEN_RETRIES: u32 = 3;

/// The constant term of REGEN_ADVANCE (RFC 8981 section 3.8): even with no
/// DAD at all a new address is made this long before the old one deprecates.
pub const REGEN_ADVANCE_MIN: Duration = Duration::from_secs(2);

/// A random identifier for a temporary address (RFC 8981 section 3.3.1):
/// 64 random bits, drawn again while they form a reserved identifier
/// (RFC 5453 registry, which includes the all-zero Subnet-Router Anycast).
/// The caller must still treat an identifier already used on the interface
/// for the same prefix as a DAD conflict. `rng` must be a CSPRNG outside
/// tests (RFC 4086).
pub fn random_iid<R: Rng + ?Sized>(rng: &mut R) -> InterfaceId {
    loop {
        let iid = InterfaceId::from_u64(rng.random());
        if !iid.is_reserved() {
            return iid;
        }
    }
}

/// The RFC 8981 configuration variables, defaults from section 3.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TempAddrConfig {
    /// TEMP_VALID_LIFETIME.
    #[serde(with = "secs")]
    pub valid_lifetime: Duration,
    /// TEMP_PREFERRED_LIFETIME.
    #[serde(with = "secs")]
    pub preferred_lifetime: Duration,
    /// TEMP_IDGEN_RETRIES.
    pub idgen_retries: u32,
}

impl Default for TempAddrConfig {
    fn default() -> Self {
        Self {
            valid_lifetime: TEMP_VALID_LIFETIME,
            preferred_lifetime: TEMP_PREFERRED_LIFETIME,
            idgen_retries: TEMP_IDGEN_RETRIES,
        }
    }
}

impl TempAddrConfig {
    /// RFC 8981 section 3.8: TEMP_PREFERRED_LIFETIME MUST be smaller than
    /// TEMP_VALID_LIFETIME, or an address could still be chosen for new
    /// connections moments before it becomes invalid under them.
    pub fn validate(&self) -> Result<(), AddrError> {
        if self.preferred_lifetime < self.valid_lifetime {
            Ok(())
        } else {
            Err(AddrError::TempLifetimes {
                preferred: self.preferred_lifetime.as_secs(),
                valid: self.valid_lifetime.as_secs(),
            })
        }
    }

    /// REGEN_ADVANCE = 2 + (TEMP_IDGEN_RETRIES * DupAddrDetectTransmits *
    /// RetransTimer / 1000) seconds (RFC 8981 section 3.8): time enough to run
    /// DAD on every retry before the old address deprecates. `retrans_timer`
    /// is the link's RetransTimer (RFC 4861, default 1 s) as a duration, so
    /// the RFC's /1000 (milliseconds to seconds) is already done.
    pub fn regen_advance(
        &self,
        dup_addr_detect_transmits: u32,
        retrans_timer: Duration,
    ) -> Duration {
        let probes = self.idgen_retries.saturating_mul(dup_addr_detect_transmits);
        REGEN_ADVANCE_MIN.saturating_add(retrans_timer.checked_mul(probes).unwrap_or(Duration::MAX))
    }

    /// MAX_DESYNC_FACTOR = 0.4 * TEMP_PREFERRED_LIFETIME (RFC 8981 section
    /// 3.8).
    pub fn max_desync_factor(&self) -> Duration {
        self.preferred_lifetime * 2 / 5
    }

    /// A DESYNC_FACTOR for one new temporary address: uniform in
    /// [0, MAX_DESYNC_FACTOR], and, as RFC 8981 section 3.8 also requires,
    /// smaller than TEMP_PREFERRED_LIFETIME - REGEN_ADVANCE. RFC 8981 draws it
    /// afresh for each address (RFC 4941 drew it once at boot), so hosts that
    /// booted together do not regenerate together.
    ///
    /// None when TEMP_PREFERRED_LIFETIME <= REGEN_ADVANCE: no temporary
    /// address could be created (section 3.4 step 5), so there is nothing to
    /// desynchronise.
    pub fn desync_factor<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        regen_advance: Duration,
    ) -> Option<Duration> {
        let room = self.preferred_lifetime.checked_sub(regen_advance)?;
        // Strictly smaller than `room`: back off one nanosecond.
        let below_room = room.checked_sub(Duration::from_nanos(1))?;
        let max = self.max_desync_factor().min(below_room);
        let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(rng.random_range(0..=max_ns)))
    }
}

/// The remaining lifetimes of one temporary address, derived from those of
/// the prefix it was formed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TempAddrLifetimes {
    /// Remaining valid lifetime.
    pub valid: Duration,
    /// Remaining preferred lifetime.
    pub preferred: Duration,
}

impl TempAddrLifetimes {
    /// Remaining lifetimes of a temporary address `age` after its creation
    /// (zero when creating it), given the prefix's advertised lifetimes and
    /// the address's DESYNC_FACTOR. Pass `Duration::MAX` for an infinite
    /// (0xffffffff) lifetime.
    ///
    /// valid = min(prefix valid, TEMP_VALID_LIFETIME - age) and
    /// preferred = min(prefix preferred, TEMP_PREFERRED_LIFETIME -
    /// DESYNC_FACTOR - age): RFC 8981 section 3.4 step 4 at creation; an RA
    /// that later refreshes the prefix may extend them only up to the same
    /// caps counted from CREATION_TIME (section 3.4 step 2). Preferred is also kept
    /// within valid, which a well-formed Prefix Information option guarantees
    /// anyway (RFC 4862 5.5.3 c drops the others).
    pub fn compute(
        config: &TempAddrConfig,
        age: Duration,
        prefix_valid: Duration,
        prefix_preferred: Duration,
        desync_factor: Duration,
    ) -> Self {
        let valid_cap = config.valid_lifetime.saturating_sub(age);
        let preferred_cap = config
            .preferred_lifetime
            .saturating_sub(desync_factor)
            .saturating_sub(age);
        let valid = prefix_valid.min(valid_cap);
        let preferred = prefix_preferred.min(preferred_cap).min(valid);
        Self { valid, preferred }
    }

    /// Whether a temporary address with these lifetimes may be created: only
    /// if its preferred lifetime exceeds REGEN_ADVANCE (RFC 8981 section 3.4
    /// step 5), which in particular rules out a zero preferred lifetime.
    pub fn may_create(&self, regen_advance: Duration) -> bool {
        self.preferred > regen_advance
    }

    /// How long from now until the replacement address should be generated:
    /// REGEN_ADVANCE before this one deprecates (RFC 8981 section 3.6). Zero
    /// when that moment has already come.
    pub fn regenerate_in(&self, regen_advance: Duration) -> Duration {
        self.preferred.saturating_sub(regen_advance)
    }
}

/// Durations as whole seconds in configuration files, like the RFC's
/// variables and the kernel's sysctls.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn rfc_defaults() {
        let c = TempAddrConfig::default();
        assert_eq!(c.valid_lifetime, Duration::from_secs(172_800));
        assert_eq!(c.preferred_lifetime, Duration::from_secs(86_400));
        assert_eq!(c.idgen_retries, 3);
        // 0.4 * 86400 s = 34560 s = 9.6 h.
        assert_eq!(c.max_desync_factor(), Duration::from_secs(34_560));
    }

    #[test]
    fn validate_preferred_below_valid() {
        assert_eq!(TempAddrConfig::default().validate(), Ok(()));
        let same = TempAddrConfig {
            preferred_lifetime: TEMP_VALID_LIFETIME,
            ..TempAddrConfig::default()
        };
        assert!(matches!(
            same.validate(),
            Err(AddrError::TempLifetimes {
                preferred: 172_800,
                valid: 172_800
            })
        ));
    }

    #[test]
    fn regen_advance_formula() {
        let c = TempAddrConfig::default();
        // RFC 4861/4862 defaults: 1 transmit, RetransTimer 1000 ms:
        // 2 + 3 * 1 * 1000 / 1000 = 5 s.
        assert_eq!(
            c.regen_advance(1, Duration::from_secs(1)),
            Duration::from_secs(5)
        );
        // 2 transmits, 250 ms: 2 + 3 * 2 * 250 / 1000 = 3.5 s.
        assert_eq!(
            c.regen_advance(2, Duration::from_millis(250)),
            Duration::from_millis(3500)
        );
        // DAD disabled: just the 2 s floor.
        assert_eq!(
            c.regen_advance(0, Duration::from_secs(1)),
            REGEN_ADVANCE_MIN
        );
        assert_eq!(c.regen_advance(u32::MAX, Duration::MAX), Duration::MAX);
    }

    #[test]
    fn lifetimes_at_creation() {
        let c = TempAddrConfig::default();
        let desync = 2 * HOUR;
        // Prefix advertised with 30 days valid, 7 days preferred: the caps win.
        let l = TempAddrLifetimes::compute(&c, Duration::ZERO, 30 * DAY, 7 * DAY, desync);
        assert_eq!(l.valid, 2 * DAY);
        assert_eq!(l.preferred, 22 * HOUR);
        let ra = c.regen_advance(1, Duration::from_secs(1));
        assert!(l.may_create(ra));
        assert_eq!(l.regenerate_in(ra), 22 * HOUR - Duration::from_secs(5));
        // Short prefix lifetimes win over the caps.
        let l =
            TempAddrLifetimes::compute(&c, Duration::ZERO, HOUR, Duration::from_secs(1800), desync);
        assert_eq!(l.valid, HOUR);
        assert_eq!(l.preferred, Duration::from_secs(1800));
        // Infinite prefix lifetimes.
        let l = TempAddrLifetimes::compute(
            &c,
            Duration::ZERO,
            Duration::MAX,
            Duration::MAX,
            Duration::ZERO,
        );
        assert_eq!((l.valid, l.preferred), (2 * DAY, DAY));
    }

    #[test]
    fn too_short_to_create() {
        let c = TempAddrConfig::default();
        let ra = Duration::from_secs(5);
        for pref in [0, 4, 5] {
            let l = TempAddrLifetimes::compute(
                &c,
                Duration::ZERO,
                HOUR,
                Duration::from_secs(pref),
                Duration::ZERO,
            );
            assert!(!l.may_create(ra), "preferred {pref} s");
            assert_eq!(l.regenerate_in(ra), Duration::ZERO);
        }
        let l = TempAddrLifetimes::compute(
            &c,
            Duration::ZERO,
            HOUR,
            Duration::from_secs(6),
            Duration::ZERO,
        );
        assert!(l.may_create(ra));
        assert_eq!(l.regenerate_in(ra), Duration::from_secs(1));
    }

    #[test]
    fn lifetimes_on_refresh_count_from_creation() {
        let c = TempAddrConfig::default();
        let desync = HOUR;
        // 20 h after creation an RA refreshes the prefix with 30 d / 7 d.
        let l = TempAddrLifetimes::compute(&c, 20 * HOUR, 30 * DAY, 7 * DAY, desync);
        assert_eq!(l.valid, 28 * HOUR);
        assert_eq!(l.preferred, 3 * HOUR);
        // Past the preferred cap: deprecated, still valid.
        let l = TempAddrLifetimes::compute(&c, 30 * HOUR, 30 * DAY, 7 * DAY, desync);
        assert_eq!(l.preferred, Duration::ZERO);
        assert_eq!(l.valid, 18 * HOUR);
        // Past the valid cap: gone.
        let l = TempAddrLifetimes::compute(&c, 3 * DAY, 30 * DAY, 7 * DAY, desync);
        assert_eq!((l.valid, l.preferred), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn preferred_never_exceeds_valid() {
        let c = TempAddrConfig::default();
        let l = TempAddrLifetimes::compute(&c, Duration::ZERO, HOUR, DAY, Duration::ZERO);
        assert_eq!(l.preferred, HOUR);
    }

    #[test]
    fn desync_factor_bounds() {
        let mut rng = StdRng::seed_from_u64(1);
        let c = TempAddrConfig::default();
        let ra = Duration::from_secs(5);
        for _ in 0..1000 {
            let d = c.desync_factor(&mut rng, ra).unwrap();
            assert!(d <= c.max_desync_factor());
        }
        // A tiny preferred lifetime: DESYNC_FACTOR must stay below
        // preferred - REGEN_ADVANCE, not 0.4 * preferred.
        let small = TempAddrConfig {
            preferred_lifetime: Duration::from_secs(6),
            ..c
        };
        for _ in 0..1000 {
            let d = small.desync_factor(&mut rng, ra).unwrap();
            assert!(d < Duration::from_secs(1), "{d:?}");
        }
        let none = TempAddrConfig {
            preferred_lifetime: ra,
            ..c
        };
        assert_eq!(none.desync_factor(&mut rng, ra), None);
    }

    #[test]
    fn random_iids_differ_and_are_never_reserved() {
        let mut rng = StdRng::seed_from_u64(42);
        let a = random_iid(&mut rng);
        let b = random_iid(&mut rng);
        assert_ne!(a, b);
        for _ in 0..10_000 {
            assert!(!random_iid(&mut rng).is_reserved());
        }
    }

    #[test]
    fn random_iid_redraws_reserved_values() {
        // An RNG whose first draws are the all-zero identifier and a Proxy
        // Mobile IPv6 one must be drawn past.
        struct Scripted(Vec<u64>);
        impl rand::RngCore for Scripted {
            fn next_u32(&mut self) -> u32 {
                self.next_u64() as u32
            }
            fn next_u64(&mut self) -> u64 {
                self.0.remove(0)
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                rand::rand_core::impls::fill_bytes_via_next(self, dst)
            }
        }
        let mut rng = Scripted(vec![0, 0x0200_5eff_fe00_5213, 0xfdff_ffff_ffff_ff80, 7]);
        assert_eq!(random_iid(&mut rng), InterfaceId::from_u64(7));
    }

    #[test]
    fn config_serde_in_seconds() {
        let c: TempAddrConfig = serde_json::from_str(r#"{"preferred_lifetime": 3600}"#).unwrap();
        assert_eq!(c.preferred_lifetime, HOUR);
        assert_eq!(c.valid_lifetime, TEMP_VALID_LIFETIME);
        assert!(serde_json::from_str::<TempAddrConfig>(r#"{"bogus": 1}"#).is_err());
        let back: TempAddrConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
