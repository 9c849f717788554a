//! Counters the forwarding threads bump and anyone may read: plain relaxed
//! atomics, the two directions on separate cache lines so the encapsulating
//! and the decapsulating thread never fight over one.

use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Going out: no binding for the destination (home agent) or the source
    /// is not the home address (mobile node). Coming in: the inner source
    /// is not a bound home address (home agent).
    NoBinding,
    /// Coming in: the outer source is not the care-of address registered
    /// for the inner source (home agent), or not the home agent, or the
    /// inner destination is not the home address (mobile node).
    Spoofed,
    /// Larger than the path to the other tunnel end carries: a Packet Too
    /// Big went back to its source.
    TooBig,
    /// The kernel refused to send the tunnel packet (no route, a removed
    /// source address, full buffers).
    SendError,
    /// Not a whole IPv6 packet, or cut short by the receive buffer.
    Malformed,
    /// Multicast, link-local or unspecified destination: not tunnelled.
    NotUnicast,
    /// Writing the decapsulated packet into the TUN device failed.
    TunWrite,
    /// RFC 6040: the outer header said Congestion Experienced but the inner
    /// packet is not ECN-capable.
    EcnDrop,
}

impl DropReason {
    pub const ALL: [DropReason; 8] = [
        Self::NoBinding,
        Self::Spoofed,
        Self::TooBig,
        Self::SendError,
        Self::Malformed,
        Self::NotUnicast,
        Self::TunWrite,
        Self::EcnDrop,
    ];

    const fn index(self) -> usize {
        match self {
            Self::NoBinding => 0,
            Self::Spoofed => 1,
            Self::TooBig => 2,
            Self::SendError => 3,
            Self::Malformed => 4,
            Self::NotUnicast => 5,
            Self::TunWrite => 6,
            Self::EcnDrop => 7,
        }
    }

    /// A short name for logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoBinding => "no_binding",
            Self::Spoofed => "spoofed",
            Self::TooBig => "too_big",
            Self::SendError => "send_error",
            Self::Malformed => "malformed",
            Self::NotUnicast => "not_unicast",
            Self::TunWrite => "tun_write",
            Self::EcnDrop => "ecn_drop",
        }
    }
}

/// Packets and octets one way.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Flow {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Flow {
    #[inline]
    pub(crate) fn add(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    fn read(&self) -> Traffic {
        Traffic {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
        }
    }
}

/// Both directions of one binding (or of the whole data plane).
#[derive(Debug, Default)]
pub(crate) struct FlowPair {
    /// Read from the TUN device and sent into the tunnel.
    pub(crate) encap: Flow,
    /// Received from the tunnel and written into the TUN device.
    pub(crate) decap: Flow,
}

impl FlowPair {
    fn read(&self) -> (Traffic, Traffic) {
        (self.encap.read(), self.decap.read())
    }
}

/// Data-plane wide counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) total: FlowPair,
    drops: [AtomicU64; DropReason::ALL.len()],
    pub(crate) too_big_sent: AtomicU64,
    pub(crate) unreachable_sent: AtomicU64,
    pub(crate) icmp_errors: AtomicU64,
    pub(crate) errors_relayed: AtomicU64,
    pub(crate) fragmented: AtomicU64,
    pub(crate) gso_packets: AtomicU64,
    pub(crate) gso_segments: AtomicU64,
    pub(crate) gro_packets: AtomicU64,
    pub(crate) gro_segments: AtomicU64,
    pub(crate) large_packets: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn drop(&self, why: DropReason) {
        self.drops[why.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn drops(&self) -> Drops {
        let d = |r: DropReason| self.drops[r.index()].load(Relaxed);
        Drops {
            no_binding: d(DropReason::NoBinding),
            spoofed: d(DropReason::Spoofed),
            too_big: d(DropReason::TooBig),
            send_error: d(DropReason::SendError),
            malformed: d(DropReason::Malformed),
            not_unicast: d(DropReason::NotUnicast),
            tun_write: d(DropReason::TunWrite),
            ecn_drop: d(DropReason::EcnDrop),
        }
    }

    pub(crate) fn read(&self, bindings: Vec<BindingStats>) -> Stats {
        let (encap, decap) = self.total.read();
        Stats {
            encap,
            decap,
            drops: self.drops(),
            too_big_sent: self.too_big_sent.load(Relaxed),
            unreachable_sent: self.unreachable_sent.load(Relaxed),
            icmp_errors: self.icmp_errors.load(Relaxed),
            errors_relayed: self.errors_relayed.load(Relaxed),
            fragmented: self.fragmented.load(Relaxed),
            gso_packets: self.gso_packets.load(Relaxed),
            gso_segments: self.gso_segments.load(Relaxed),
            gro_packets: self.gro_packets.load(Relaxed),
            gro_segments: self.gro_segments.load(Relaxed),
            large_packets: self.large_packets.load(Relaxed),
            bindings,
            ..Stats::default()
        }
    }
}

/// Packets and octets (inner packets, outer header not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
}

impl Traffic {
    pub(crate) fn add(&mut self, o: Traffic) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// Drops by reason (see [`DropReason`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    pub no_binding: u64,
    pub spoofed: u64,
    pub too_big: u64,
    pub send_error: u64,
    pub malformed: u64,
    pub not_unicast: u64,
    pub tun_write: u64,
    pub ecn_drop: u64,
}

impl Drops {
    /// Adds the kernel fast path's drops (its `counters` map: slots in
    /// the order of [`DropReason::ALL`]).
    pub(crate) fn add_kernel(&mut self, c: &[u64]) {
        for r in DropReason::ALL {
            let v = c.get(r.index()).copied().unwrap_or(0);
            match r {
                DropReason::NoBinding => self.no_binding += v,
                DropReason::Spoofed => self.spoofed += v,
                DropReason::TooBig => self.too_big += v,
                DropReason::SendError => self.send_error += v,
                DropReason::Malformed => self.malformed += v,
                DropReason::NotUnicast => self.not_unicast += v,
                DropReason::TunWrite => self.tun_write += v,
                DropReason::EcnDrop => self.ecn_drop += v,
            }
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.no_binding
            + self.spoofed
            + self.too_big
            + self.send_error
            + self.malformed
            + self.not_unicast
            + self.tun_write
            + self.ecn_drop
    }

    /// The count for one reason.
    pub fn get(&self, why: DropReason) -> u64 {
        match why {
            DropReason::NoBinding => self.no_binding,
            DropReason::Spoofed => self.spoofed,
            DropReason::TooBig => self.too_big,
            DropReason::SendError => self.send_error,
            DropReason::Malformed => self.malformed,
            DropReason::NotUnicast => self.not_unicast,
            DropReason::TunWrite => self.tun_write,
            DropReason::EcnDrop => self.ecn_drop,
        }
    }
}

/// One binding's traffic. Counters survive a change of care-of address;
/// they go when the binding is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingStats {
    pub home_address: Ipv6Addr,
    /// The other tunnel end: the care-of address (home agent) or the home
    /// agent (mobile node).
    pub remote: Ipv6Addr,
    /// Tunnelled towards `remote`.
    pub encap: Traffic,
    /// Received from `remote` and delivered.
    pub decap: Traffic,
}

impl BindingStats {
    pub(crate) fn new(home_address: Ipv6Addr, remote: Ipv6Addr, flows: &FlowPair) -> Self {
        let (encap, decap) = flows.read();
        Self {
            home_address,
            remote,
            encap,
            decap,
        }
    }
}

/// A reading of every counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Everything tunnelled.
    pub encap: Traffic,
    /// Everything decapsulated and delivered.
    pub decap: Traffic,
    pub drops: Drops,
    /// ICMPv6 Packet Too Big messages sent back to inner sources.
    pub too_big_sent: u64,
    /// ICMPv6 Destination Unreachable messages sent (no binding).
    pub unreachable_sent: u64,
    /// Errors the kernel reported on the tunnel socket (ICMPv6 errors from
    /// the path, local EMSGSIZE).
    pub icmp_errors: u64,
    /// Of those, ICMPv6 errors passed on to the inner packet's source
    /// (RFC 2473 8.1).
    pub errors_relayed: u64,
    /// Tunnel packets sent fragmented (RFC 2473 7.1: path MTU below 1320).
    pub fragmented: u64,
    /// TCP super-packets read from the TUN device and cut up (offload).
    pub gso_packets: u64,
    /// The packets cut from them.
    pub gso_segments: u64,
    /// Super-packets written into the TUN device, each joining several
    /// TCP segments that came out of the tunnel (offload).
    pub gro_packets: u64,
    /// The segments joined into them.
    pub gro_segments: u64,
    /// Inner packets received larger than the tunnel MTU: TCP segments the
    /// kernel's GRO joined on the receiving interface, or reassembled
    /// tunnel packets.
    pub large_packets: u64,
    /// Per binding, sorted by home address.
    pub bindings: Vec<BindingStats>,
    /// Of `encap`: what the eBPF fast path encapsulated in the kernel.
    pub kernel_encap: Traffic,
    /// Of `decap`: what the eBPF fast path decapsulated in the kernel.
    pub kernel_decap: Traffic,
    /// Packets the eBPF fast path left to the user-space path (no binding,
    /// larger than a narrowed path, encapsulation refused).
    pub to_user_space: u64,
    /// eBPF map updates the kernel refused.
    pub kernel_errors: u64,
}

impl Stats {
    /// The binding of `home_address`, if there is one.
    pub fn binding(&self, home_address: Ipv6Addr) -> Option<&BindingStats> {
        self.bindings
            .iter()
            .find(|b| b.home_address == home_address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_count_by_reason() {
        let c = Counters::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            for _ in 0..=i {
                c.drop(*r);
            }
        }
        let d = c.drops();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(d.get(*r), i as u64 + 1, "{}", r.name());
        }
        assert_eq!(d.total(), (1..=8).sum::<u64>());
        c.total.encap.add(2, 3000);
        let s = c.read(Vec::new());
        assert_eq!(
            s.encap,
            Traffic {
                packets: 2,
                bytes: 3000
            }
        );
    }
}
