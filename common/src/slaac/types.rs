use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// Timers and switches of one interface's autoconfiguration. Defaults are
/// the RFC 4861 section 10 / RFC 4862 / RFC 8981 section 3.8 values.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaacConfig {
    /// DupAddrDetectTransmits (RFC 4862 5.1); 0 turns DAD off.
    pub dad_transmits: u8,
    /// RetransTimer until a Router Advertisement gives another (RFC 4861 10).
    pub retrans_timer: Duration,
    /// Use addresses while DAD runs (RFC 4429).
    pub optimistic: bool,
    /// Put a Nonce option in DAD probes and recognise our own looped-back
    /// probes by it (RFC 7527).
    pub enhanced_dad: bool,
    /// MAX_RTR_SOLICITATIONS.
    pub max_rtr_solicitations: u8,
    /// RTR_SOLICITATION_INTERVAL.
    pub rtr_solicitation_interval: Duration,
    /// MAX_RTR_SOLICITATION_DELAY: the random delay before the first RS and
    /// the first DAD probe after the link comes up (RFC 4861 6.3.7, RFC 4862
    /// 5.4.2).
    pub max_rtr_solicitation_delay: Duration,
    /// A mobile node that just moved must not sit out that random delay: the
    /// delay protects against many hosts booting at once, while a handover
    /// gap is paid by the user (RFC 6275 11.5.1 lets a mobile node solicit
    /// at once).
    pub skip_initial_delay: bool,
    /// IDGEN_RETRIES (RFC 7217 5) and TEMP_IDGEN_RETRIES (RFC 8981 3.8).
    pub idgen_retries: u8,
    /// TEMP_VALID_LIFETIME (RFC 8981 3.8), for random identifiers.
    pub temp_valid_lifetime: Duration,
    /// TEMP_PREFERRED_LIFETIME (RFC 8981 3.8), for random identifiers.
    pub temp_preferred_lifetime: Duration,
}

impl Default for SlaacConfig {
    fn default() -> Self {
        Self {
            dad_transmits: 1,
            retrans_timer: Duration::from_secs(1),
            optimistic: false,
            enhanced_dad: true,
            max_rtr_solicitations: 3,
            rtr_solicitation_interval: Duration::from_secs(4),
            max_rtr_solicitation_delay: Duration::from_secs(1),
            skip_initial_delay: false,
            idgen_retries: 3,
            temp_valid_lifetime: Duration::from_secs(2 * 86400),
            temp_preferred_lifetime: Duration::from_secs(86400),
        }
    }
}

/// How interface identifiers are made; decides what a DAD conflict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IidKind {
    /// Modified EUI-64: the same identifier every time, so a conflict is final
    /// (and disables IPv6 on the link-local, RFC 4862 5.4.5).
    Eui64,
    /// RFC 7217: a conflict retries with the next DAD_Counter.
    Stable,
    /// Random identifiers: a conflict draws again; global addresses get the
    /// RFC 8981 temporary lifetimes and are regenerated before they deprecate.
    Random,
}

/// Where the engine gets interface identifiers. Keeping this a trait lets
/// tests force collisions and lets the daemons plug in `addr`'s generators.
pub trait IidSource {
    fn kind(&self) -> IidKind;
    /// The identifier to try for `prefix` (fe80:: for the link-local) on DAD
    /// attempt `attempt` (0 first), with the attempt it really used (RFC 7217
    /// skips reserved values by counting on). `None` when nothing valid can
    /// be made.
    fn iid(&mut self, prefix: &Ipv6Addr, attempt: u8) -> Option<([u8; 8], u8)>;
}

/// A Prefix Information option as the engine needs it (RFC 4861 4.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixInfo {
    pub prefix: Ipv6Addr,
    pub prefix_len: u8,
    pub on_link: bool,
    pub autonomous: bool,
    /// `None` is infinity (0xffffffff on the wire).
    pub valid: Option<Duration>,
    pub preferred: Option<Duration>,
}

/// A Router Advertisement as the engine needs it, already validated by the
/// I/O shell (hop limit 255, link-local source, RFC 4861 6.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaInfo {
    pub router: Ipv6Addr,
    pub cur_hop_limit: u8,
    pub managed: bool,
    pub other: bool,
    pub home_agent: bool,
    pub router_lifetime: Duration,
    /// `None` when the RA leaves it unspecified (0).
    pub reachable_time: Option<Duration>,
    /// `None` when the RA leaves it unspecified (0).
    pub retrans_timer: Option<Duration>,
    pub mtu: Option<u32>,
    pub prefixes: Vec<PrefixInfo>,
}

/// The life stages of an address (RFC 4862 2, RFC 4429 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AddrState {
    Tentative,
    Optimistic,
    Preferred,
    Deprecated,
    /// DAD found another holder; the address is gone.
    Duplicate,
    /// The valid lifetime ran out or the link went away.
    Invalid,
}

impl AddrState {
    /// Whether upper layers may use the address as a source.
    pub fn usable(self) -> bool {
        matches!(self, Self::Optimistic | Self::Preferred | Self::Deprecated)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Tentative => "tentative",
            Self::Optimistic => "optimistic",
            Self::Preferred => "preferred",
            Self::Deprecated => "deprecated",
            Self::Duplicate => "duplicate",
            Self::Invalid => "invalid",
        }
    }
}

/// One address the engine manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    pub link_local: bool,
    pub state: AddrState,
    /// DAD attempt that produced this identifier (RFC 7217 DAD_Counter).
    pub attempt: u8,
    /// `None` is infinite.
    pub valid_until: Option<Instant>,
    pub preferred_until: Option<Instant>,
    pub created: Instant,
}

/// What the I/O shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Join a multicast group on the interface (solicited-node groups).
    JoinGroup(Ipv6Addr),
    LeaveGroup(Ipv6Addr),
    /// A Neighbor Solicitation for DAD: from `::` to the solicited-node group
    /// of `target`, hop limit 255, no source link-layer option.
    SendDadProbe {
        target: Ipv6Addr,
        nonce: Option<[u8; 6]>,
    },
    /// Answer a Neighbor Solicitation from `dst` for our optimistic address
    /// `target`: a solicited Neighbor Advertisement from `target` with our
    /// link-layer address and the Override flag clear (RFC 4429 3.3).
    SendOptimisticNa {
        target: Ipv6Addr,
        dst: Ipv6Addr,
    },
    /// A Router Solicitation to all-routers. `src` is `None` for `::`; the
    /// source link-layer option goes in only when `include_sllao` (never from
    /// `::`, never from an optimistic address: RFC 4429 3.2).
    SendRs {
        src: Option<Ipv6Addr>,
        include_sllao: bool,
    },
    /// Add the address to the interface, or update its lifetimes. The engine
    /// has done DAD (or is doing it optimistically): the kernel must not.
    ConfigureAddress {
        addr: Ipv6Addr,
        prefix_len: u8,
        valid: Option<Duration>,
        preferred: Option<Duration>,
        optimistic: bool,
    },
    RemoveAddress {
        addr: Ipv6Addr,
        prefix_len: u8,
    },
    /// Add or refresh a default route through `router` for `lifetime`.
    ConfigureDefaultRoute {
        router: Ipv6Addr,
        lifetime: Duration,
    },
    RemoveDefaultRoute {
        router: Ipv6Addr,
    },
    /// Add or refresh an on-link prefix route (RFC 4861 6.3.4).
    ConfigurePrefixRoute {
        prefix: Ipv6Addr,
        prefix_len: u8,
        lifetime: Option<Duration>,
    },
    RemovePrefixRoute {
        prefix: Ipv6Addr,
        prefix_len: u8,
    },
    /// The link MTU the router announced (RFC 4861 6.3.4).
    SetMtu(u32),
    /// A hardware-derived link-local address is in use by someone else:
    /// IPv6 must stop on this interface (RFC 4862 5.4.5).
    DisableIpv6,
}

/// Something that happened, with when. Callers measure handovers from these.
pub type Event = crate::timed::Timed<EventKind>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    LinkUp,
    LinkDown,
    RsSent {
        count: u8,
    },
    RaReceived {
        router: Ipv6Addr,
    },
    /// The RA's M and O flags (DHCPv6 is the caller's business) and H.
    RouterFlags {
        router: Ipv6Addr,
        managed: bool,
        other: bool,
        home_agent: bool,
    },
    RouterExpired {
        router: Ipv6Addr,
    },
    AddressState {
        addr: Ipv6Addr,
        link_local: bool,
        from: Option<AddrState>,
        to: AddrState,
    },
    /// DAD found a duplicate; `retry` names the replacement if one is tried.
    DadConflict {
        addr: Ipv6Addr,
        attempt: u8,
        retry: Option<Ipv6Addr>,
    },
    /// An address that passed DAD was claimed by someone else (RFC 4862
    /// 5.4.4): logged, not acted on.
    LateConflict {
        addr: Ipv6Addr,
    },
    /// No more identifiers to try for this prefix.
    GaveUp {
        prefix: Ipv6Addr,
        reason: &'static str,
    },
    Ipv6Disabled,
}
