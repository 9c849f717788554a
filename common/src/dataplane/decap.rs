//! Tunnel -> TUN device: the decapsulating thread.

use std::io::{self, IoSlice};
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::gro::{self, Group};
use super::socket::{InMsg, Receiver};
use super::stats::{DropReason, FlowPair};
use super::{Engine, Mode, Table, wait};
use crate::sys::tun::{TunQueue, VIRTIO_NET_HDR_LEN};
use crate::wire::tunnel::parse_inner;

/// Room for a received inner packet (a reassembled tunnel packet may
/// carry up to 64 KiB).
const ROOM: usize = 65536;
/// ECN field values (RFC 3168 5).
const ECN_MASK: u8 = 0x03;
const ECN_CE: u8 = 0x03;

/// What to do with one received inner packet.
#[derive(Debug)]
pub(crate) struct Accept<'t> {
    pub(crate) flows: &'t FlowPair,
    /// The inner packet's own length.
    pub(crate) len: usize,
    /// RFC 6040: set the inner ECN field to CE.
    pub(crate) mark_ce: bool,
}

/// The checks of RFC 6275 10.4.5 / 11.3.1 as DESIGN.md states them: home
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
    let mut hdr = [0u8; VIRTIO_NET_HDR_LEN + 40 + 60];
    let fd = e.sock.fd();
    loop {
        let r = wait(fd, e.stop_fd());
        if r.stop || e.stopping() {
            return;
        }
        if r.error {
            let n = e.sock.drain_errors();
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
                    // our tunnel packets) is reported once, here.
                    e.counters.icmp_errors.fetch_add(1, Relaxed);
                    continue;
                }
            };
            let table = Arc::clone(table_reader.get(&e.table));
            deliver_batch(e, &table, &msgs, &mut bufs, start, queue, &mut hdr);
            if got < e.batch {
                break;
            }
        }
    }
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
    hdr: &mut [u8],
) {
    // (buffer index, inner length, counters) of what passed.
    let mut ok: Vec<(usize, usize, &FlowPair)> = Vec::with_capacity(msgs.len());
    for (i, (m, buf)) in msgs.iter().zip(bufs.iter_mut()).enumerate() {
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
                continue;
            }
        };
        if a.mark_ce
            && let Some(b) = buf.get_mut(start + 1)
        {
            *b |= ECN_CE << 4;
        }
        ok.push((i, a.len, a.flows));
    }
    let vnet = start == VIRTIO_NET_HDR_LEN;
    let packet = |i: usize, len: usize| bufs.get(i).and_then(|b| b.get(start..start + len));
    let mut k = 0;
    while k < ok.len() {
        let (i0, len0, flows) = ok[k];
        let Some(head) = packet(i0, len0) else {
            k += 1;
            continue;
        };
        let first = if vnet { gro::segment(head) } else { None };
        let mut j = k + 1;
        if let Some(s0) = first {
            let mut g = Group::new(s0);
            let mut psh = s0.psh;
            while let Some(&(ij, lj, _)) = ok.get(j) {
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
                let Some(hl) = g.write_headers(head, psh, hdr) else {
                    e.counters.drop(DropReason::Malformed);
                    k = j;
                    continue;
                };
                let mut iov = Vec::with_capacity(g.count + 1);
                iov.push(IoSlice::new(&hdr[..hl]));
                let mut bytes = 0;
                for &(i, len, _) in &ok[k..j] {
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
        // On its own: with offload, behind the all-zero virtio header
        // that `start` left in front of it.
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
}
