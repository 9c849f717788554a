//! Joining consecutive TCP segments of one flow, as they come out of the
//! tunnel in one batch, into one super-packet written to an
//! offload-enabled TUN device with a GSO_TCPV6 `virtio_net_hdr`: the
//! kernel's GRO, done here. The receiving TCP (or the forwarding path and
//! the next device's TSO) then handles one packet instead of dozens, and
//! the TUN device takes one `writev` for them all.
//!
//! The rules follow Linux's `tcp_gro_receive`: same addresses, traffic
//! class, flow label and hop limit; same ports, acknowledgement number,
//! header length, flags, window and options; consecutive sequence numbers;
//! every segment but the last exactly the first one's size; only ACK (and
//! PSH, which ends a group) set. Anything else is written on its own.

use crate::sys::tun::{VIRTIO_NET_HDR_LEN, VirtioNetHdr};
use crate::wire::checksum::proto;

use super::gso::{fold, sum};

const IPV6_HEADER_LEN: usize = 40;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// Largest TCP length an IPv6 header without jumbogram option announces.
const MAX_TCP_LEN: usize = 65535;
/// Segments per super-packet at most (Linux: 64 by MAX_SKB_FRAGS + 1).
pub(crate) const MAX_SEGMENTS: usize = 64;

/// What a TCP segment looks like to the joiner, or `None` for a packet
/// that must go on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// IPv6 + TCP header length.
    pub hlen: usize,
    pub seq: u32,
    pub payload: usize,
    pub psh: bool,
}

/// Reads `packet` (a whole IPv6 packet) as a joinable TCP segment.
pub(crate) fn segment(packet: &[u8]) -> Option<Segment> {
    let h = packet.get(..IPV6_HEADER_LEN + 20)?;
    if h[6] != proto::TCP {
        return None;
    }
    let doff = usize::from(h[IPV6_HEADER_LEN + 12] >> 4) * 4;
    let flags = h[IPV6_HEADER_LEN + 13];
    if doff < 20 || flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    let hlen = IPV6_HEADER_LEN + doff;
    let payload = packet.len().checked_sub(hlen).filter(|&p| p > 0)?;
    let seq = u32::from_be_bytes([
        h[IPV6_HEADER_LEN + 4],
        h[IPV6_HEADER_LEN + 5],
        h[IPV6_HEADER_LEN + 6],
        h[IPV6_HEADER_LEN + 7],
    ]);
    Some(Segment {
        hlen,
        seq,
        payload,
        psh: flags & TCP_PSH != 0,
    })
}

/// A group being built: the first segment's packet and shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub first: Segment,
    pub count: usize,
    /// Payload octets so far.
    pub total: usize,
    /// Sequence number the next segment must have.
    pub next_seq: u32,
    /// The last segment was short or carried PSH: nothing may follow.
    pub closed: bool,
}

impl Group {
    pub(crate) fn new(first: Segment) -> Self {
        Self {
            first,
            count: 1,
            total: first.payload,
            next_seq: first.seq.wrapping_add(first.payload as u32),
            closed: first.psh,
        }
    }

    /// Whether `seg` (whose packet is `packet`) may join a group whose
    /// first packet is `head`; adds it if so.
    pub(crate) fn try_add(&mut self, head: &[u8], packet: &[u8], seg: Segment) -> bool {
        let f = self.first;
        if self.closed
            || self.count >= MAX_SEGMENTS
            || seg.hlen != f.hlen
            || seg.seq != self.next_seq
            || seg.payload > f.payload
            || f.hlen + self.total + seg.payload > IPV6_HEADER_LEN + MAX_TCP_LEN
        {
            return false;
        }
        let (Some(a), Some(b)) = (head.get(..f.hlen), packet.get(..f.hlen)) else {
            return false;
        };
        // IPv6: version, class, flow label (0..4); next header, hop limit
        // and both addresses (6..40). Payload length (4..6) differs.
        // TCP: ports (40..44); sequence (44..48) differs; ack, offset,
        // flags, window (48..56) the same but PSH; checksum (56..58)
        // differs; urgent pointer and options (58..hlen) the same.
        let t = IPV6_HEADER_LEN;
        let same = a[..4] == b[..4]
            && a[6..t + 4] == b[6..t + 4]
            && a[t + 8..t + 13] == b[t + 8..t + 13]
            && (a[t + 13] | TCP_PSH) == (b[t + 13] | TCP_PSH)
            && a[t + 14..t + 16] == b[t + 14..t + 16]
            && a[t + 18..] == b[t + 18..];
        if !same {
            return false;
        }
        self.count += 1;
        self.total += seg.payload;
        self.next_seq = seg.seq.wrapping_add(seg.payload as u32);
        self.closed = seg.payload < f.payload || seg.psh;
        true
    }

    /// Writes the super-packet's virtio header and IPv6 + TCP headers
    /// into `out` (from the first packet `head`, PSH if any segment had
    /// it); the payloads follow them on the wire. Returns the length.
    pub(crate) fn write_headers(&self, head: &[u8], psh: bool, out: &mut [u8]) -> Option<usize> {
        let hl = self.first.hlen;
        let len = VIRTIO_NET_HDR_LEN + hl;
        let out = out.get_mut(..len)?;
        let tcp_len = hl - IPV6_HEADER_LEN + self.total;
        let vh = VirtioNetHdr {
            flags: VirtioNetHdr::F_NEEDS_CSUM,
            gso_type: VirtioNetHdr::GSO_TCPV6,
            hdr_len: u16::try_from(hl).ok()?,
            gso_size: u16::try_from(self.first.payload).ok()?,
            csum_start: IPV6_HEADER_LEN as u16,
            csum_offset: 16,
        };
        out[..VIRTIO_NET_HDR_LEN].copy_from_slice(&vh.to_bytes());
        let h = &mut out[VIRTIO_NET_HDR_LEN..];
        h.copy_from_slice(head.get(..hl)?);
        h[4..6].copy_from_slice(&u16::try_from(tcp_len).ok()?.to_be_bytes());
        if psh {
            h[IPV6_HEADER_LEN + 13] |= TCP_PSH;
        }
        // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the
        // kernel (or the device) adds the rest.
        let mut acc = sum(0, &h[8..40]);
        acc += tcp_len as u64 + u64::from(proto::TCP);
        h[IPV6_HEADER_LEN + 16..IPV6_HEADER_LEN + 18].copy_from_slice(&fold(acc).to_be_bytes());
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::gso::{finish_partial, segment_tcp6};
    use super::*;
    use crate::wire::checksum;
    use std::net::Ipv6Addr;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
    const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    fn tcp_packet(payload: &[u8], flags: u8, seq: u32) -> Vec<u8> {
        let tcp_len = 32 + payload.len();
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(tcp_len).expect("fits").to_be_bytes());
        p.extend_from_slice(&[proto::TCP, 63]);
        p.extend_from_slice(&A.octets());
        p.extend_from_slice(&B.octets());
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0x80, flags, 0x10, 0x00, 0, 0, 0, 0]);
        // Timestamps option (NOP NOP TS).
        p.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);
        p.extend_from_slice(payload);
        let ck = checksum::upper_layer(&A, &B, proto::TCP, &p[40..]);
        p[56..58].copy_from_slice(&ck.to_be_bytes());
        p
    }

    /// Cuts a super-packet, joins the pieces, and checks the join is the
    /// super-packet again (once its partial checksum is finished).
    #[test]
    fn join_undoes_segmentation() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 13) as u8).collect();
        let sp = tcp_packet(&payload, TCP_ACK | TCP_PSH, 1000);
        let vh = VirtioNetHdr {
            gso_type: VirtioNetHdr::GSO_TCPV6,
            gso_size: 1388,
            ..VirtioNetHdr::default()
        };
        let mut bufs = vec![vec![0u8; 2048]; 4];
        let mut lens = [0usize; 4];
        let n = segment_tcp6(&vh, &sp, &mut bufs, 0, |i, l| lens[i] = l).expect("cut");
        assert_eq!(n, 4);
        let pkts: Vec<&[u8]> = (0..n).map(|i| &bufs[i][..lens[i]]).collect();
        let first = segment(pkts[0]).expect("joinable");
        assert!(!first.psh);
        let mut g = Group::new(first);
        let mut psh = false;
        for p in &pkts[1..] {
            let s = segment(p).expect("joinable");
            psh |= s.psh;
            assert!(g.try_add(pkts[0], p, s));
        }
        assert!(psh, "the last segment carried PSH");
        assert_eq!((g.count, g.total), (4, 5000));
        let mut hdr = [0u8; 128];
        let hl = g.write_headers(pkts[0], psh, &mut hdr).expect("headers");
        let v = VirtioNetHdr::parse(&hdr).expect("vnet");
        assert_eq!(v.gso_type, VirtioNetHdr::GSO_TCPV6);
        assert_eq!(
            (v.gso_size, v.hdr_len, v.csum_start, v.csum_offset),
            (1388, 72, 40, 16)
        );
        let mut joined = hdr[VIRTIO_NET_HDR_LEN..hl].to_vec();
        for p in &pkts {
            joined.extend_from_slice(&p[72..]);
        }
        assert!(finish_partial(&mut joined, 40, 16));
        assert_eq!(joined, sp);
    }

    #[test]
    fn what_does_not_join() {
        let p = |seq: u32, len: usize, flags: u8| tcp_packet(&vec![5u8; len], flags, seq);
        let head = p(0, 1000, TCP_ACK);
        let first = segment(&head).expect("joinable");
        let try_one = |other: &[u8]| {
            let mut g = Group::new(first);
            segment(other).is_some_and(|s| g.try_add(&head, other, s))
        };
        assert!(try_one(&p(1000, 1000, TCP_ACK)));
        assert!(try_one(&p(1000, 10, TCP_ACK | TCP_PSH)));
        assert!(!try_one(&p(1001, 1000, TCP_ACK)), "gap");
        assert!(!try_one(&p(1000, 1001, TCP_ACK)), "longer than the first");
        assert!(segment(&p(1000, 1000, TCP_ACK | 0x01)).is_none(), "FIN");
        assert!(segment(&p(1000, 0, TCP_ACK)).is_none(), "no payload");
        assert!(segment(&p(1000, 10, 0x02)).is_none(), "SYN");
        let mut other_window = p(1000, 1000, TCP_ACK);
        other_window[54] = 0x11;
        assert!(!try_one(&other_window));
        let mut other_ts = p(1000, 1000, TCP_ACK);
        other_ts[71] = 4;
        assert!(!try_one(&other_ts));
        let mut ce = p(1000, 1000, TCP_ACK);
        ce[1] |= 0x30;
        assert!(!try_one(&ce), "ECN differs");
        // Nothing after a short segment or a PSH.
        let mut g = Group::new(first);
        let short = p(1000, 500, TCP_ACK);
        assert!(g.try_add(&head, &short, segment(&short).expect("seg")));
        let more = p(1500, 500, TCP_ACK);
        assert!(!g.try_add(&head, &more, segment(&more).expect("seg")));
    }
}
