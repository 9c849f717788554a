//! Tunnel -> TUN device: the decapsulating thread.

use std::io::{self, IoSlice};
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::encap::send_icmp;
use super::gro::{self, Group};
use super::gso;
use super::icmp::{self, RateLimit};
use super::socket::{InMsg, Receiver, TunnelError};
use super::stats::{DropReason, FlowPair};
use super::{Engine, Mode, Table, wait};
use crate::sys::tun::{TunQueue, VIRTIO_NET_HDR_LEN, VirtioNetHdr};
use crate::wire::checksum::proto;
use crate::wire::tunnel::parse_inner;

/// Room for a received inner packet (a reassembled tunnel packet may
/// carry up to 64 KiB).
const ROOM: usize = 65536;
/// ECN field values (RFC 3168 5).
const ECN_MASK: u8 = 0x03;
const ECN_CE: u8 = 0x03;
const IPV6_HEADER_LEN: usize = 40;

/// What to do with one received inner packet.
#[derive(Debug)]
pub(crate) struct Accept<'t> {
    pub(crate) flows: &'t FlowPair,
    /// The inner packet's own length.
    pub(crate) len: usize,
    /// RFC 6040: set the inner ECN field to CE.
    pub(crate) mark_ce: bool,
}

/// The checks of RFC 6275 10.4.5 / 11.3.1 as docs/ARCHITECTURE.md (the data paths) states them: home
/// agent, the inner source is a bound home address whose care-of address
/// is the outer source; mobile node, the outer source is the home agent
/// and the inner destination the home address.
pub(crate) fn classify<'t>(
    mode: &Mode,
    table: &'t Table,
    outer_src: Ipv6Addr,
    outer_tclass: Option<u8>,
    packet: &[u8],
) -> Result<Accept<'t>, DropReason> {
    let inner = parse_inner(packet).map_err(|_| DropReason::Malformed)?;
    let binding = match mode {
        Mode::Ha => table.get(&inner.src).ok_or(DropReason::NoBinding)?,
        Mode::Mn { .. } => table.get(&inner.dst).ok_or(DropReason::Spoofed)?,
    };
    if binding.remote != outer_src {
        return Err(DropReason::Spoofed);
    }
    let mut mark_ce = false;
    if outer_tclass.is_some_and(|tc| tc & ECN_MASK == ECN_CE) {
        if inner.traffic_class & ECN_MASK == 0 {
            return Err(DropReason::EcnDrop);
        }
        mark_ce = inner.traffic_class & ECN_MASK != ECN_CE;
    }
    Ok(Accept {
        flows: &binding.flows,
        len: inner.packet.len(),
        mark_ce,
    })
}

pub(crate) fn run(e: &Engine) {
    let queue = e.tun.queue();
    // With offload every write carries a virtio header: all zeroes (no
    // GSO, checksum complete) in front of the packet.
    let start = if e.tun.offload() {
        VIRTIO_NET_HDR_LEN
    } else {
        0
    };
    let mut bufs = vec![vec![0u8; start + ROOM]; e.batch];
    let mut receiver = Receiver::new(e.batch);
    let mut msgs: Vec<InMsg> = Vec::with_capacity(e.batch);
    let mut table_reader = e.table.reader();
    let mut local_reader = e.local.reader();
    let mut scratch = Scratch::default();
    let mut rate = RateLimit::new(20, Duration::from_millis(10), Instant::now());
    let mut icmp_buf = Vec::new();
    let fd = e.sock.fd();
    loop {
        let r = wait(fd, e.stop_fd());
        if r.stop || e.stopping() {
            return;
        }
        if r.error {
            // Both the error queue and a pending socket error make poll
            // report POLLERR: read both, or poll would spin.
            let local = **local_reader.get(&e.local);
            let n = e.sock.drain_errors(|err| {
                if let (Some(f), Some(mtu)) = (&e.fast, err.too_big_mtu()) {
                    f.path_mtu(err.dst, mtu);
                }
                if err.from_icmp {
                    relay_error(e, queue, &mut rate, &mut icmp_buf, local, err);
                }
            }) + u64::from(e.sock.take_error());
            e.counters.icmp_errors.fetch_add(n, Relaxed);
        }
        if !r.readable {
            continue;
        }
        loop {
            if e.stopping() {
                return;
            }
            let got = match receiver.recv(fd, &mut bufs, start, &mut msgs) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // A pending socket error (an ICMPv6 error about one of
                    // our tunnel packets) is reported once, here; poll
                    // says when there is more.
                    e.counters.icmp_errors.fetch_add(1, Relaxed);
                    break;
                }
            };
            let table = Arc::clone(table_reader.get(&e.table));
            deliver_batch(e, &table, &msgs, &mut bufs, start, queue, &mut scratch);
            if got < e.batch {
                break;
            }
        }
    }
}

/// RFC 2473 8.1: an ICMPv6 error a router on the tunnel path sent about
/// one of our tunnel packets is turned into one for the inner packet's
/// source, from the tunnel end point: Packet Too Big with the tunnel MTU
/// (the path MTU less the 40-octet outer header, at least 1280); every
/// other error (unreachable, hop limit exceeded, parameter problem in the
/// tunnel header) as Destination Unreachable, address unreachable.
fn relay_error(
    e: &Engine,
    queue: &TunQueue,
    rate: &mut RateLimit,
    buf: &mut Vec<u8>,
    local: Ipv6Addr,
    err: &TunnelError<'_>,
) {
    if local.is_unspecified() {
        return;
    }
    let (icmp_type, code, word) = match err.icmp_type {
        icmp::TYPE_PACKET_TOO_BIG => (
            icmp::TYPE_PACKET_TOO_BIG,
            0,
            err.info.saturating_sub(40).max(1280),
        ),
        1 | 3 | 4 => (
            icmp::TYPE_DEST_UNREACHABLE,
            icmp::CODE_ADDRESS_UNREACHABLE,
            0,
        ),
        _ => return,
    };
    if send_icmp(
        e,
        queue,
        rate,
        buf,
        e.tun.offload(),
        local,
        icmp_type,
        code,
        word,
        err.inner,
    ) {
        e.counters.errors_relayed.fetch_add(1, Relaxed);
    }
}

/// How an accepted packet goes into the TUN device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// As it is (with offload, behind an all-zero virtio header).
    Plain,
    /// A TCP packet larger than the tunnel MTU (outer GRO on the receiving
    /// interface joined its segments), its virtio header already in front:
    /// GSO_TCPV6 with this segment size, checksum partial.
    Gso,
    /// Such a packet on a device without offload: cut it up here.
    Cut { mss: u16 },
}

/// Prepares an inner packet longer than the tunnel MTU. The kernel joins
/// consecutive IPv6-in-IPv6 TCP segments (GRO works on the outer and the
/// inner header, tunnel module or not), and the raw socket then hands
/// over one large TCP packet whose checksum field holds only the
/// pseudo-header sum. A packet reassembled from outer fragments carries
/// a full checksum instead. Either is accepted; anything else is
/// corrupt. `buf` holds `start` octets of room, then the packet.
pub(crate) fn prepare_oversize(
    buf: &mut [u8],
    start: usize,
    len: usize,
    mtu: usize,
) -> Option<Shape> {
    let vnet = start >= VIRTIO_NET_HDR_LEN;
    let p = buf.get_mut(start..start + len)?;
    if p.get(6) != Some(&proto::TCP) {
        return Some(Shape::Plain);
    }
    let doff = usize::from(p.get(IPV6_HEADER_LEN + 12)? >> 4) * 4;
    let hlen = IPV6_HEADER_LEN + doff;
    if doff < 20 || len < hlen {
        return None;
    }
    let tcp_len = len - IPV6_HEADER_LEN;
    let pseudo = gso::sum(0, p.get(8..40)?) + tcp_len as u64 + u64::from(proto::TCP);
    let full_ok = gso::fold(gso::sum(pseudo, p.get(IPV6_HEADER_LEN..)?)) == 0xffff;
    let field = p.get(IPV6_HEADER_LEN + 16..IPV6_HEADER_LEN + 18)?;
    let field = u16::from_be_bytes([field[0], field[1]]);
    let partial = gso::fold(pseudo);
    // Ones' complement: 0 and 0xffff are the same number.
    let partial_ok = field == partial || (field | partial == 0xffff && field & partial == 0);
    if !full_ok && !partial_ok {
        return None;
    }
    let mss = u16::try_from(mtu.saturating_sub(hlen).max(8)).unwrap_or(u16::MAX);
    if !vnet {
        return Some(Shape::Cut { mss });
    }
    p.get_mut(IPV6_HEADER_LEN + 16..IPV6_HEADER_LEN + 18)?
        .copy_from_slice(&partial.to_be_bytes());
    let vh = VirtioNetHdr {
        flags: VirtioNetHdr::F_NEEDS_CSUM,
        gso_type: VirtioNetHdr::GSO_TCPV6,
        hdr_len: u16::try_from(hlen).ok()?,
        gso_size: mss,
        csum_start: IPV6_HEADER_LEN as u16,
        csum_offset: 16,
    };
    buf.get_mut(start - VIRTIO_NET_HDR_LEN..start)?
        .copy_from_slice(&vh.to_bytes());
    Some(Shape::Gso)
}

/// Scratch space of the decapsulating thread.
#[derive(Debug, Default)]
struct Scratch {
    /// Virtio + IPv6 + TCP headers of a joined super-packet.
    hdr: Vec<u8>,
    /// Segments of a packet cut up here.
    cut: Vec<Vec<u8>>,
    cut_lens: Vec<usize>,
}

/// Checks a batch and writes what passes into the TUN device; with
/// offload, runs of segments of one TCP flow go as one super-packet.
fn deliver_batch(
    e: &Engine,
    table: &Table,
    msgs: &[InMsg],
    bufs: &mut [Vec<u8>],
    start: usize,
    queue: &TunQueue,
    scratch: &mut Scratch,
) {
    let mtu = e.mtu.load(Relaxed) as usize;
    // (buffer index, inner length, counters, shape) of what passed.
    let mut ok: Vec<(usize, usize, &FlowPair, Shape)> = Vec::with_capacity(msgs.len());
    for (i, (m, buf)) in msgs.iter().zip(bufs.iter_mut()).enumerate() {
        // The room in front: an all-zero virtio header unless a large
        // packet puts its own (left over from an earlier batch, too).
        if let Some(room) = buf.get_mut(..start) {
            room.fill(0);
        }
        if m.truncated {
            e.counters.drop(DropReason::Malformed);
            continue;
        }
        let Some(packet) = buf.get(start..start + m.len) else {
            e.counters.drop(DropReason::Malformed);
            continue;
        };
        let a = match classify(&e.mode, table, m.src, m.tclass, packet) {
            Ok(a) => a,
            Err(why) => {
                e.counters.drop(why);
                if why == DropReason::NoBinding
                    && let Ok(inner) = parse_inner(packet)
                {
                    e.note_unbound(m.src, inner.src);
                }
                continue;
            }
        };
        if a.mark_ce
            && let Some(b) = buf.get_mut(start + 1)
        {
            *b |= ECN_CE << 4;
        }
        let shape = if a.len > mtu {
            e.counters.large_packets.fetch_add(1, Relaxed);
            match prepare_oversize(buf, start, a.len, mtu) {
                Some(s) => s,
                None => {
                    e.counters.drop(DropReason::Malformed);
                    continue;
                }
            }
        } else {
            Shape::Plain
        };
        ok.push((i, a.len, a.flows, shape));
    }
    let vnet = start == VIRTIO_NET_HDR_LEN;
    let bufs = &*bufs;
    let packet = |i: usize, len: usize| bufs.get(i).and_then(|b| b.get(start..start + len));
    let mut k = 0;
    while k < ok.len() {
        let (i0, len0, flows, shape) = ok[k];
        let Some(head) = packet(i0, len0) else {
            k += 1;
            continue;
        };
        let mut j = k + 1;
        if let Shape::Cut { mss } = shape {
            write_cut(e, queue, scratch, head, mss, flows);
            k = j;
            continue;
        }
        let first = if vnet && shape == Shape::Plain {
            gro::segment(head)
        } else {
            None
        };
        if let Some(s0) = first {
            let mut g = Group::new(s0);
            let mut psh = s0.psh;
            while let Some(&(ij, lj, _, Shape::Plain)) = ok.get(j) {
                let Some(p) = packet(ij, lj) else { break };
                match gro::segment(p) {
                    Some(s) if g.try_add(head, p, s) => {
                        psh |= s.psh;
                        j += 1;
                    }
                    _ => break,
                }
            }
            if g.count > 1 {
                scratch.hdr.resize(VIRTIO_NET_HDR_LEN + s0.hlen, 0);
                let Some(hl) = g.write_headers(head, psh, &mut scratch.hdr) else {
                    e.counters.drop(DropReason::Malformed);
                    k = j;
                    continue;
                };
                let mut iov = Vec::with_capacity(g.count + 1);
                iov.push(IoSlice::new(&scratch.hdr[..hl]));
                let mut bytes = 0;
                for &(i, len, _, _) in &ok[k..j] {
                    if let Some(p) = packet(i, len) {
                        iov.push(IoSlice::new(p.get(s0.hlen..).unwrap_or(&[])));
                        bytes += len as u64;
                    }
                }
                let n = (j - k) as u64;
                match queue.write_vectored(&iov) {
                    Ok(_) => {
                        flows.decap.add(n, bytes);
                        e.counters.total.decap.add(n, bytes);
                        e.counters.gro_packets.fetch_add(1, Relaxed);
                        e.counters.gro_segments.fetch_add(n, Relaxed);
                    }
                    Err(_) => {
                        for _ in 0..n {
                            e.counters.drop(DropReason::TunWrite);
                        }
                    }
                }
                k = j;
                continue;
            }
            j = k + 1;
        }
        // One packet: with offload, behind the virtio header in the room
        // `start` left (all zeroes, or the GSO one `prepare_oversize` put).
        let frame = bufs.get(i0).and_then(|b| b.get(..start + len0));
        match frame.map(|f| queue.write(f)) {
            Some(Ok(_)) => {
                flows.decap.add(1, len0 as u64);
                e.counters.total.decap.add(1, len0 as u64);
            }
            _ => e.counters.drop(DropReason::TunWrite),
        }
        k = j;
    }
}

/// Cuts a large TCP packet for a device without offload and writes the
/// pieces.
fn write_cut(
    e: &Engine,
    queue: &TunQueue,
    scratch: &mut Scratch,
    packet: &[u8],
    mss: u16,
    flows: &FlowPair,
) {
    let vh = VirtioNetHdr {
        gso_type: VirtioNetHdr::GSO_TCPV6,
        gso_size: mss,
        ..VirtioNetHdr::default()
    };
    let Ok(n) = gso::segment_count(&vh, packet) else {
        e.counters.drop(DropReason::Malformed);
        return;
    };
    let size = packet.len().min(usize::from(mss) + 40 + 60);
    while scratch.cut.len() < n {
        scratch.cut.push(Vec::new());
        scratch.cut_lens.push(0);
    }
    for b in scratch.cut.iter_mut().take(n) {
        if b.len() < size {
            b.resize(size, 0);
        }
    }
    let lens = &mut scratch.cut_lens;
    if gso::segment_tcp6(&vh, packet, &mut scratch.cut[..n], 0, |i, l| lens[i] = l).is_err() {
        e.counters.drop(DropReason::Malformed);
        return;
    }
    for (b, &l) in scratch.cut.iter().zip(scratch.cut_lens.iter()).take(n) {
        match b.get(..l).map(|seg| queue.write(seg)) {
            Some(Ok(_)) => {
                flows.decap.add(1, l as u64);
                e.counters.total.decap.add(1, l as u64);
            }
            _ => e.counters.drop(DropReason::TunWrite),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Binding;
    use super::*;

    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
    const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);

    fn packet(src: Ipv6Addr, dst: Ipv6Addr, tc: u8) -> Vec<u8> {
        let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0, 0, 8, 17, 64];
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(&[0; 8]);
        p
    }

    fn table(hoa: Ipv6Addr, remote: Ipv6Addr) -> Table {
        let mut t = Table::default();
        t.insert(
            hoa,
            Binding {
                remote,
                flows: Arc::default(),
            },
        );
        t
    }

    #[test]
    fn home_agent_accepts_only_the_registered_care_of_address() {
        let t = table(HOA, COA);
        let ok = classify(&Mode::Ha, &t, COA, Some(0), &packet(HOA, CN, 0)).expect("accepted");
        assert_eq!((ok.len, ok.mark_ce), (48, false));
        assert_eq!(
            classify(&Mode::Ha, &t, CN, None, &packet(HOA, CN, 0)).err(),
            Some(DropReason::Spoofed),
            "outer source not the care-of address"
        );
        assert_eq!(
            classify(&Mode::Ha, &t, COA, None, &packet(CN, HOA, 0)).err(),
            Some(DropReason::NoBinding),
            "inner source not a home address"
        );
        assert_eq!(
            classify(&Mode::Ha, &t, COA, None, &[0x60; 20]).err(),
            Some(DropReason::Malformed)
        );
    }

    #[test]
    fn mobile_node_accepts_only_the_home_agent() {
        let t = table(HOA, HA);
        let mn = Mode::Mn {
            peer: HA,
            home_address: HOA,
        };
        assert!(classify(&mn, &t, HA, None, &packet(CN, HOA, 0)).is_ok());
        assert_eq!(
            classify(&mn, &t, CN, None, &packet(CN, HOA, 0)).err(),
            Some(DropReason::Spoofed)
        );
        assert_eq!(
            classify(&mn, &t, HA, None, &packet(CN, COA, 0)).err(),
            Some(DropReason::Spoofed)
        );
    }

    #[test]
    fn congestion_experienced_is_carried_inwards() {
        let t = table(HOA, COA);
        // ECT(0) inside, CE outside: mark.
        let a = classify(&Mode::Ha, &t, COA, Some(0x03), &packet(HOA, CN, 0x02)).expect("ok");
        assert!(a.mark_ce);
        // Already CE: nothing to do.
        let a = classify(&Mode::Ha, &t, COA, Some(0x03), &packet(HOA, CN, 0x03)).expect("ok");
        assert!(!a.mark_ce);
        // Not-ECT inside, CE outside: drop (RFC 6040 4.2).
        assert_eq!(
            classify(&Mode::Ha, &t, COA, Some(0xb3), &packet(HOA, CN, 0xb8)).err(),
            Some(DropReason::EcnDrop)
        );
        // ECT outside: leave the inner field alone.
        let a = classify(&Mode::Ha, &t, COA, Some(0x01), &packet(HOA, CN, 0x00)).expect("ok");
        assert!(!a.mark_ce);
    }

    fn big_tcp(payload_len: usize) -> Vec<u8> {
        let tcp_len = 20 + payload_len;
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(tcp_len).expect("fits").to_be_bytes());
        p.extend_from_slice(&[proto::TCP, 64]);
        p.extend_from_slice(&CN.octets());
        p.extend_from_slice(&HOA.octets());
        p.extend_from_slice(&[0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x50, 0x10, 0x10, 0x00, 0, 0, 0, 0]);
        p.extend((0..payload_len).map(|i| (i * 31) as u8));
        let ck = crate::wire::checksum::upper_layer(&CN, &HOA, proto::TCP, &p[40..]);
        p[56..58].copy_from_slice(&ck.to_be_bytes());
        p
    }

    fn with_room(p: &[u8], room: usize) -> Vec<u8> {
        let mut b = vec![0u8; room];
        b.extend_from_slice(p);
        b
    }

    #[test]
    fn oversize_tcp_from_outer_gro() {
        let full = big_tcp(6000);
        let len = full.len();
        let verifies =
            |p: &[u8]| crate::wire::checksum::upper_layer(&CN, &HOA, proto::TCP, &p[40..]) == 0;
        // As GRO leaves it: the field holds the pseudo-header sum.
        let mut partial = full.clone();
        let ph = crate::wire::checksum::pseudo_header(&CN, &HOA, proto::TCP, (len - 40) as u32);
        partial[56..58].copy_from_slice(&gso::fold(u64::from(ph)).to_be_bytes());

        for p in [&full, &partial] {
            // Offload: a GSO virtio header goes in front, the field becomes
            // the pseudo-header sum, which the kernel completes.
            let mut b = with_room(p, VIRTIO_NET_HDR_LEN);
            let shape = prepare_oversize(&mut b, VIRTIO_NET_HDR_LEN, len, 1460);
            assert_eq!(shape, Some(Shape::Gso));
            let vh = VirtioNetHdr::parse(&b).expect("header");
            assert_eq!(vh.gso_type, VirtioNetHdr::GSO_TCPV6);
            assert_eq!((vh.gso_size, vh.hdr_len), (1400, 60));
            let mut pkt = b[VIRTIO_NET_HDR_LEN..].to_vec();
            assert!(gso::finish_partial(&mut pkt, 40, 16));
            assert!(verifies(&pkt));
            assert_eq!(pkt, full);
            // No offload: cut up here at the tunnel MTU.
            let mut b = p.clone();
            assert_eq!(
                prepare_oversize(&mut b, 0, len, 1460),
                Some(Shape::Cut { mss: 1400 })
            );
        }
        // Neither a full nor a partial checksum: corrupt.
        let mut bad = full.clone();
        bad[100] ^= 1;
        let mut b = with_room(&bad, VIRTIO_NET_HDR_LEN);
        assert_eq!(
            prepare_oversize(&mut b, VIRTIO_NET_HDR_LEN, len, 1460),
            None
        );
        // Not TCP: as it is.
        let mut udp = full.clone();
        udp[6] = proto::UDP;
        assert_eq!(prepare_oversize(&mut udp, 0, len, 1460), Some(Shape::Plain));
    }
}
