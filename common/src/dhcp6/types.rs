use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 7.1).
pub const ALL_DHCP_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
pub const CLIENT_PORT: u16 = 546;
pub const SERVER_PORT: u16 = 547;

/// One client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6Config {
    /// Our DUID (RFC 8415 11); [`duid_ll`] makes one from a MAC.
    pub duid: Vec<u8>,
    /// The IA_NA's identifier, stable per interface (RFC 8415 12).
    pub iaid: u32,
    /// Ask for the two-message exchange (RFC 8415 18.2.1, 21.14).
    pub rapid_commit: bool,
    /// Skip the random SOL_MAX_DELAY / CNF_MAX_DELAY before the first
    /// message: it spreads out hosts booting together, while a mobile node's
    /// handover gap is paid by the user (as for RSs, RFC 6275 11.5.1).
    pub skip_initial_delay: bool,
}

/// DUID-LL (RFC 8415 11.4) for an Ethernet MAC: stable across reboots
/// without the clock DUID-LLT needs.
pub fn duid_ll(mac: [u8; 6]) -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&mac);
    d
}

/// Where the client stands (RFC 8415 18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dhcp6State {
    /// Not running on this link (never started, link down, released).
    Idle,
    Soliciting,
    Requesting,
    /// Back on a link with a lease: asking whether it is still on-link.
    Confirming,
    Bound,
    Renewing,
    Rebinding,
    /// Telling the server its address is in use by someone else.
    Declining,
    /// Handing the lease back.
    Releasing,
    /// Stateless: asking only for other configuration (O=1, M=0).
    InformationRequest,
    /// Stateless configuration received.
    Informed,
}

impl Dhcp6State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Soliciting => "soliciting",
            Self::Requesting => "requesting",
            Self::Confirming => "confirming",
            Self::Bound => "bound",
            Self::Renewing => "renewing",
            Self::Rebinding => "rebinding",
            Self::Declining => "declining",
            Self::Releasing => "releasing",
            Self::InformationRequest => "information-request",
            Self::Informed => "informed",
        }
    }
}

/// A leased address with the server that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv6Addr,
    pub server_id: Vec<u8>,
    /// The link-local address the server answered from.
    pub server: Ipv6Addr,
    pub obtained: Instant,
    /// `None` when T1 is infinite (never renew).
    pub t1_at: Option<Instant>,
    pub t2_at: Option<Instant>,
    pub preferred_until: Instant,
    pub valid_until: Instant,
    pub dns: Vec<Ipv6Addr>,
    /// Obtained in the two-message exchange.
    pub rapid_commit: bool,
}

/// What the I/O shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhcp6Action {
    /// One UDP datagram from our link-local address, port 546, to `dst`
    /// port 547.
    Send {
        dst: Ipv6Addr,
        payload: Vec<u8>,
    },
    /// Put the leased address on the interface through DAD (RFC 8415
    /// 18.2.10.1), or update its lifetimes. Report a conflict with
    /// `handle_dad_conflict`.
    ConfigureAddress {
        addr: Ipv6Addr,
        valid: Duration,
        preferred: Duration,
    },
    RemoveAddress {
        addr: Ipv6Addr,
    },
    /// Recursive DNS servers (option 23, RFC 3646).
    SetDns(Vec<Ipv6Addr>),
}

/// Something that happened, with when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6Event {
    pub at: Instant,
    pub kind: Dhcp6EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhcp6EventKind {
    State {
        from: Dhcp6State,
        to: Dhcp6State,
    },
    /// `attempt` counts from 1 within one exchange.
    Sent {
        msg: &'static str,
        attempt: u32,
    },
    Advertised {
        server: Ipv6Addr,
        addr: Ipv6Addr,
        preference: u8,
    },
    Leased {
        addr: Ipv6Addr,
        server: Ipv6Addr,
        valid: Duration,
        preferred: Duration,
        t1: Option<Duration>,
        t2: Option<Duration>,
        rapid_commit: bool,
    },
    Renewed {
        addr: Ipv6Addr,
        valid: Duration,
        /// "renew" or "rebind".
        by: &'static str,
    },
    Confirmed {
        addr: Ipv6Addr,
    },
    /// The Confirm went unanswered: the lease is used as it was (RFC 8415
    /// 18.2.3).
    ConfirmUnanswered {
        addr: Ipv6Addr,
    },
    NotOnLink {
        addr: Ipv6Addr,
    },
    Declined {
        addr: Ipv6Addr,
    },
    Released {
        addr: Ipv6Addr,
    },
    Expired {
        addr: Ipv6Addr,
    },
    Dns {
        servers: Vec<Ipv6Addr>,
    },
    /// A server's refusal, e.g. NoAddrsAvail.
    Status {
        code: u16,
        message: String,
    },
    /// An exchange ran out of retransmissions.
    GaveUp {
        msg: &'static str,
    },
}
