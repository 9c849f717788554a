use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::addr::Prefix;
use crate::wire::mh::{BaStatus, BeStatus, BindingAck, BindingError, BuFlags};

/// The MN-HA authentication algorithm (RFC 4285 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthAlgorithm {
    /// HMAC-SHA1 truncated to 96 bits, the only one RFC 4285 defines.
    #[default]
    HmacSha1_96,
}

/// A mobile node this home agent serves.
#[derive(Clone, PartialEq, Eq)]
pub struct MnPolicy {
    /// The RFC 4283 identifier (an NAI, user@realm). When set, a BU whose
    /// MN-ID option names someone else is refused with 146.
    pub nai: Option<String>,
    pub home_address: Ipv6Addr,
    /// The Mobility SPI of the MN-HA security association (RFC 4285 5).
    pub spi: u32,
    pub key: Vec<u8>,
    pub algorithm: AuthAlgorithm,
}

impl fmt::Debug for MnPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MnPolicy")
            .field("nai", &self.nai)
            .field("home_address", &self.home_address)
            .field("spi", &self.spi)
            .field("key", &format_args!("<{} octets>", self.key.len()))
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// A prefix of the home link and the valid lifetime we advertise for it
/// (`None`: infinite). Every Router Advertisement restarts it, so it never
/// runs down: a binding may last at most this long (RFC 6275 10.3.1). A
/// lifetime that does run down (a prefix being renumbered away) is set
/// with [`BindingCache::update_prefix`](super::BindingCache::update_prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomePrefix {
    pub prefix: Prefix,
    pub valid_lifetime: Option<Duration>,
}

/// Configuration of the binding cache. Defaults: no addresses, prefixes or
/// nodes (fill them in), 3600 s maximum lifetime, authentication required,
/// a 7-second replay window, DAD before a first registration.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Our home agent addresses; a BU to any other address gets 131.
    pub ha_addresses: Vec<Ipv6Addr>,
    pub home_prefixes: Vec<HomePrefix>,
    /// The longest binding we grant (RFC 6275 10.3.1 lets the HA shorten
    /// the requested lifetime).
    pub max_lifetime: Duration,
    pub mobile_nodes: Vec<MnPolicy>,
    /// Lab switch: accept BUs without the MN-HA option, for any home address
    /// on a home prefix that has no policy. A BU that carries the option is
    /// still verified, and a home address with a key still needs it (129).
    pub allow_unauthenticated: bool,
    /// How far a Mesg-ID timestamp may be from our clock (RFC 4285 6).
    pub replay_window: Duration,
    /// Run DAD on the home link before the first registration of a home
    /// address (RFC 6275 10.3.1).
    pub dad_before_accept: bool,
    /// A pending DAD the shell never answers is forgotten after this; the
    /// mobile node's retransmission starts a new one.
    pub dad_timeout: Duration,
    /// Bindings (plus pending ones) beyond this get 130.
    pub max_bindings: usize,
    /// Answer 1 ("accepted but prefix discovery necessary") when the home
    /// prefix's valid lifetime cut the granted lifetime.
    pub prefix_discovery_status: bool,
    /// Send a Binding Refresh Request this long before a binding expires.
    pub brr_advance: Option<Duration>,
    /// Put a Binding Refresh Advice option with this interval in accepting
    /// BAs when it is shorter than the granted lifetime (RFC 6275 6.2.4).
    pub refresh_advice: Option<Duration>,
    /// Binding Errors per second at most (RFC 6275 9.3.3 asks for a rate
    /// limit).
    pub binding_error_rate: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ha_addresses: Vec::new(),
            home_prefixes: Vec::new(),
            max_lifetime: Duration::from_secs(3600),
            mobile_nodes: Vec::new(),
            allow_unauthenticated: false,
            replay_window: Duration::from_secs(7),
            dad_before_accept: true,
            dad_timeout: Duration::from_secs(5),
            max_bindings: 1 << 20,
            prefix_discovery_status: true,
            brr_advance: None,
            refresh_advice: None,
            binding_error_rate: 10,
        }
    }
}

/// A received Binding Update with what the shell saw around it.
#[derive(Debug, Clone, Copy)]
pub struct BuContext<'a> {
    /// The IPv6 source: the care-of address (or the home address, from home).
    pub src: Ipv6Addr,
    /// The IPv6 destination: the home agent address the BU was sent to.
    pub dst: Ipv6Addr,
    /// From the Home Address destination option; `None` when there was none
    /// (a mobile node at home), and the source is then the home address.
    pub home_address: Option<Ipv6Addr>,
    /// The Mobility Header exactly as received (for the authenticator).
    pub mh_bytes: &'a [u8],
    pub bu: &'a crate::wire::mh::BindingUpdate,
}

/// Control-plane counters of one binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BindingCounters {
    /// Accepted BUs for this binding, the creating one included.
    pub accepted: u64,
    /// Accepted BUs that kept the care-of address.
    pub refreshes: u64,
    /// Accepted BUs that changed it.
    pub moves: u64,
}

/// One home registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingInfo {
    pub hoa: Ipv6Addr,
    pub coa: Ipv6Addr,
    /// The home agent address the mobile node registered with.
    pub ha_addr: Ipv6Addr,
    /// The sequence number of the last accepted BU.
    pub sequence: u16,
    pub flags: BuFlags,
    /// The granted lifetime (what the BA said).
    pub lifetime: Duration,
    pub created: Instant,
    pub updated: Instant,
    pub expires: Instant,
    /// The link-local address to defend too (L flag).
    pub link_local: Option<Ipv6Addr>,
    pub counters: BindingCounters,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a Binding Acknowledgement, as [`OutgoingBa`] says.
    SendBa(OutgoingBa),
    /// Send the Binding Error `mh_bytes` (checksum over `from`, `to`) to `to`.
    SendBindingError {
        to: Ipv6Addr,
        from: Ipv6Addr,
        status: BeStatus,
        be: BindingError,
        mh_bytes: Vec<u8>,
    },
    /// A new binding: route `hoa` into the tunnel to `coa`, then proxy ND
    /// for it (and `link_local`) on the home link.
    InstallBinding {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        lifetime: Duration,
        link_local: Option<Ipv6Addr>,
    },
    /// An existing binding was refreshed or moved (`old_coa` != `coa`).
    UpdateBinding {
        hoa: Ipv6Addr,
        old_coa: Ipv6Addr,
        coa: Ipv6Addr,
        lifetime: Duration,
    },
    /// Tear down the route, tunnel and proxy entries of `hoa`.
    RemoveBinding {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// Run DAD for `hoa` (and `link_local`) on the home link, then call
    /// [`BindingCache::handle_dad_result`](super::BindingCache::handle_dad_result).
    StartDad {
        hoa: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// Send the Binding Refresh Request `mh_bytes` from `from` to `hoa`
    /// (it goes through the tunnel to `coa`; RFC 6275 6.1 forbids a type 2
    /// routing header on it). Checksum over `from`, `hoa`.
    SendBrr {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        from: Ipv6Addr,
        mh_bytes: Vec<u8>,
    },
}

/// A Binding Acknowledgement to send: the finished `mh_bytes` (signed
/// when the BU was; checksum filled over `from` and `hoa`, the final
/// destination) from `from` to `to_coa`, through a type 2 routing header
/// carrying `hoa` when `to_coa` differs from it. `ba` is the same message,
/// parsed, for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingBa {
    pub to_coa: Ipv6Addr,
    pub from: Ipv6Addr,
    pub hoa: Ipv6Addr,
    pub ba: BindingAck,
    pub mh_bytes: Vec<u8>,
}

impl OutgoingBa {
    /// The IPv6 header the BA goes out with: from `from` to `to_coa`, with
    /// a type 2 routing header carrying `hoa` when the mobile node is away
    /// (RFC 6275 6.1.8, 9.5.4). One place, so the daemon, the tests and the
    /// benches send the same packet.
    pub fn ipv6_header(&self) -> crate::wire::exthdr::Ipv6Repr {
        let mut ip = crate::wire::exthdr::Ipv6Repr::new(
            self.from,
            self.to_coa,
            crate::wire::checksum::proto::MOBILITY,
        );
        if self.to_coa != self.hoa {
            ip.routing_home_address = Some(self.hoa);
        }
        ip
    }
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    Deregistered,
    Expired,
}

/// Something that happened, with when.
pub type Event = crate::timed::Timed<EventKind>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The outcome of one BU (or of the DAD it waited for).
    BuResult {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        sequence: u16,
        status: BaStatus,
        lifetime: Duration,
    },
    /// A BU dropped without an answer, and why.
    BuDropped {
        src: Ipv6Addr,
        hoa: Ipv6Addr,
        reason: &'static str,
    },
    /// A first registration waits for DAD.
    DadStarted {
        hoa: Ipv6Addr,
    },
    /// The shell never answered the DAD; the pending BU is forgotten.
    DadTimedOut {
        hoa: Ipv6Addr,
    },
    BindingCreated {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        lifetime: Duration,
    },
    BindingUpdated {
        hoa: Ipv6Addr,
        old_coa: Ipv6Addr,
        coa: Ipv6Addr,
        lifetime: Duration,
    },
    BindingRemoved {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        reason: RemoveReason,
    },
    BindingRestored {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        remaining: Duration,
    },
    BrrSent {
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
    },
    BindingErrorSent {
        to: Ipv6Addr,
        status: BeStatus,
    },
}

/// Engine-wide counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub bu_received: u64,
    pub bu_dropped: u64,
    pub ba_sent: u64,
    /// Results by BA status (accepted and rejected BUs).
    pub by_status: BTreeMap<u8, u64>,
    pub brr_sent: u64,
    pub binding_errors_sent: u64,
    pub binding_errors_suppressed: u64,
}

/// A binding as stored across restarts (RFC 6275 leaves this to the
/// implementation; a restored binding keeps its sequence number so an old
/// BU cannot be replayed after a reboot). Expiry is absolute, in seconds
/// since the UNIX epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    pub hoa: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub ha_addr: Ipv6Addr,
    pub sequence: u16,
    pub flags: u16,
    pub lifetime_secs: u64,
    pub expires_unix: u64,
    #[serde(default)]
    pub link_local: Option<Ipv6Addr>,
    /// The last accepted RFC 4285 timestamp of this mobile node.
    #[serde(default)]
    pub last_mesg_id: Option<u64>,
    /// The Mobility SPI the binding was authenticated with: a binding is
    /// not restored when the configuration gives its home address another
    /// one (absent in files of older versions, and for unauthenticated
    /// bindings).
    #[serde(default)]
    pub spi: Option<u32>,
}

/// What a mobile node's last accepted BU said, kept across restarts
/// whether the node is bound or not: without it a BU captured before a
/// clean restart, replayed within the replay window after it, would be
/// accepted again (and a removed binding recreated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRecord {
    /// The mobile node's configured home address.
    pub home_address: Ipv6Addr,
    /// Its last accepted RFC 4285 timestamp.
    pub last_mesg_id: u64,
    /// The sequence number of that BU.
    pub last_sequence: u16,
}

/// Seconds since the UNIX epoch of `t` (0 before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
