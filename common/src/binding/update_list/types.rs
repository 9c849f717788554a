use std::fmt;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::binding::cache::AuthAlgorithm;
use crate::wire::mh::{BaStatus, BindingUpdate};

/// Configuration of one home registration. Defaults are RFC 6275's
/// (sections 12 and 13) where it has them.
#[derive(Clone, PartialEq)]
pub struct RegistrationConfig {
    pub home_address: Ipv6Addr,
    pub home_agent: Ipv6Addr,
    /// RFC 4283 identifier sent in the MN-ID option.
    pub nai: Option<String>,
    /// Mobility SPI of the MN-HA security association.
    pub spi: u32,
    /// The MN-HA key. `None` (lab only): BUs go out unauthenticated and BAs
    /// are taken without checking.
    pub key: Option<Vec<u8>>,
    pub algorithm: AuthAlgorithm,
    /// The lifetime to ask for (rounded down to 4-second units).
    pub lifetime: Duration,
    /// InitialBindackTimeoutFirstReg (RFC 6275 13): 1.5 s.
    pub initial_bindack_timeout_first_reg: Duration,
    /// INITIAL_BINDACK_TIMEOUT (RFC 6275 12): 1 s.
    pub initial_bindack_timeout: Duration,
    /// MAX_BINDACK_TIMEOUT (RFC 6275 12): 32 s.
    pub max_bindack_timeout: Duration,
    /// Give up after this many retransmissions; `None` keeps trying at
    /// `max_bindack_timeout` for ever.
    pub max_retransmissions: Option<u32>,
    /// Refresh when this part of the granted lifetime has passed.
    pub refresh_fraction: f64,
    /// After a failure, try again this much later; `None` waits for the
    /// next care-of address.
    pub retry_after_error: Option<Duration>,
    /// Consecutive 135/144 answers tolerated before giving up.
    pub max_resyncs: u8,
    /// Set the L flag (the home agent defends our link-local address too).
    pub link_local_compat: bool,
    /// The sequence number before the first BU (pick it at random, or
    /// persist it, to avoid a 135 round trip after a restart).
    pub initial_sequence: u16,
}

impl RegistrationConfig {
    pub fn new(home_address: Ipv6Addr, home_agent: Ipv6Addr) -> Self {
        Self {
            home_address,
            home_agent,
            nai: None,
            spi: 0,
            key: None,
            algorithm: AuthAlgorithm::HmacSha1_96,
            lifetime: Duration::from_secs(600),
            initial_bindack_timeout_first_reg: Duration::from_millis(1500),
            initial_bindack_timeout: Duration::from_secs(1),
            max_bindack_timeout: Duration::from_secs(32),
            max_retransmissions: None,
            refresh_fraction: 0.8,
            retry_after_error: Some(Duration::from_secs(60)),
            max_resyncs: 3,
            link_local_compat: false,
            initial_sequence: 0,
        }
    }
}

impl fmt::Debug for RegistrationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("home_address", &self.home_address)
            .field("home_agent", &self.home_agent)
            .field("nai", &self.nai)
            .field("spi", &self.spi)
            .field(
                "key",
                &self.key.as_ref().map(|k| format!("<{} octets>", k.len())),
            )
            .field("lifetime", &self.lifetime)
            .field("max_retransmissions", &self.max_retransmissions)
            .field("refresh_fraction", &self.refresh_fraction)
            .finish_non_exhaustive()
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `mh_bytes` (finished: signed, checksum over `hoa` and `ha`)
    /// from `coa` to `ha`, with a Home Address option carrying `hoa` unless
    /// `coa` is `hoa` (a deregistration from home). `bu` is the same
    /// message, parsed, for logs.
    SendBu {
        coa: Ipv6Addr,
        ha: Ipv6Addr,
        hoa: Ipv6Addr,
        bu: BindingUpdate,
        mh_bytes: Vec<u8>,
    },
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Nothing known yet.
    Idle,
    /// A BU is in flight (first registration, refresh or move).
    Registering,
    Registered,
    Deregistering,
    AtHome,
    /// The last attempt failed; waiting for the retry or a new care-of
    /// address.
    Failed,
}

/// The binding the home agent granted, as we believe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantedBinding {
    pub coa: Ipv6Addr,
    pub lifetime: Duration,
    /// When the BU that created or refreshed it was sent.
    pub since: Instant,
    pub expires: Instant,
    pub refresh_at: Instant,
}

/// Why a registration was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The home agent said no (the status says why).
    Rejected,
    /// No valid BA after `max_retransmissions`.
    NoResponse,
    /// 135 or 144 kept coming back.
    TooManyResyncs,
    /// The home agent answered a BU with Binding Error status 2.
    MobilityUnsupported,
    /// A BA accepted a registration with lifetime 0.
    ZeroLifetime,
}

/// Something that happened, with when. The testbed measures handovers from
/// these.
pub type Event = crate::timed::Timed<EventKind>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    BuSent {
        sequence: u16,
        coa: Ipv6Addr,
        lifetime: Duration,
        deregistration: bool,
        /// 0 for the first transmission of this attempt.
        retransmission: u32,
        /// How long we wait for the BA.
        timeout: Duration,
    },
    BaReceived {
        sequence: u16,
        status: BaStatus,
        lifetime: Duration,
    },
    /// A BA that did not count, and why.
    BaIgnored {
        reason: &'static str,
    },
    Registered {
        coa: Ipv6Addr,
        lifetime: Duration,
        status: BaStatus,
        /// From the first BU of this attempt to the BA.
        latency: Duration,
    },
    Deregistered {
        latency: Duration,
    },
    /// An unsigned 146 (MIPV6-AUTH-FAIL) answered the BU in flight: the
    /// home agent could not verify our authenticator (or someone forged
    /// the answer). Nothing changes; the BU is retransmitted.
    UnverifiedAuthFailure,
    /// Status 1: send a Mobile Prefix Solicitation (RFC 6275 11.7.3).
    PrefixDiscoveryNeeded,
    /// 135: the sequence number continues from the home agent's.
    SequenceResynchronised {
        from: u16,
        to: u16,
    },
    /// 144: our timestamps are shifted by `offset_ns` nanoseconds.
    TimestampResynchronised {
        offset_ns: i64,
    },
    RefreshDue {
        coa: Ipv6Addr,
    },
    BrrReceived,
    BindingExpired {
        coa: Ipv6Addr,
    },
    /// Binding Error status 1 from the home agent: it has no binding.
    BindingLost,
    RegistrationFailed {
        status: Option<BaStatus>,
        reason: FailReason,
        retry_at: Option<Instant>,
    },
}
