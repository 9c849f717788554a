//! TUN device -> tunnel: the encapsulating thread of one TUN queue.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::gso::{self, GsoError};
use super::icmp::{self, RateLimit};
use super::snapshot::Reader;
use super::socket::{self, OutMsg, Sender};
use super::stats::{DropReason, FlowPair};
use super::{Binding, Engine, Mode, Table, wait};
use crate::sys::tun::{TunQueue, VIRTIO_NET_HDR_LEN, VirtioNetHdr};
use crate::wire::tunnel::{
    EncapParams, MtuVerdict, OUTER_HEADER_LEN, TrafficClass, TunnelEndpoints, parse_inner,
    tunnel_mtu, write_outer_header,
};

/// Room in front of every packet for an outer header we build.
pub(crate) const HEADROOM: usize = OUTER_HEADER_LEN;
/// A buffer holds a whole TUN read: a 64 KiB super-packet and its
/// virtio header, behind the headroom.
pub(crate) const SLOT: usize = HEADROOM + 65536;
/// How long a path MTU learned from the kernel is reused.
const PMTU_TTL: Duration = Duration::from_secs(1);
const ZERO_VNET: [u8; VIRTIO_NET_HDR_LEN] = [0; VIRTIO_NET_HDR_LEN];

/// True for a destination worth tunnelling: not multicast, unspecified,
/// loopback or link-local.
pub(crate) fn is_tunnelable(a: &Ipv6Addr) -> bool {
    !(a.is_multicast() || a.is_unspecified() || a.is_loopback() || a.is_unicast_link_local())
}

/// Where an inner packet goes: its binding, its length, and the traffic
/// class to ask for when it is not the socket default.
#[derive(Debug)]
pub(crate) struct Route<'t> {
    pub(crate) binding: &'t Binding,
    pub(crate) len: usize,
    pub(crate) tclass: Option<u8>,
}

/// Decides the fate of one packet read from the TUN device.
pub(crate) fn classify<'t>(
    mode: &Mode,
    traffic_class: TrafficClass,
    table: &'t Table,
    packet: &[u8],
) -> Result<Route<'t>, DropReason> {
    let inner = parse_inner(packet).map_err(|_| DropReason::Malformed)?;
    if !is_tunnelable(&inner.dst) {
        return Err(DropReason::NotUnicast);
    }
    let key = match mode {
        Mode::Ha => inner.dst,
        Mode::Mn { .. } => inner.src,
    };
    let binding = table.get(&key).ok_or(DropReason::NoBinding)?;
    let tclass = match traffic_class {
        TrafficClass::CopyInner => (inner.traffic_class != 0).then_some(inner.traffic_class),
        TrafficClass::Fixed(_) => None,
    };
    Ok(Route {
        binding,
        len: inner.packet.len(),
        tclass,
    })
}

pub(crate) fn run(e: &Engine, q: usize) {
    let Some(queue) = e.tun.queues().get(q) else {
        return;
    };
    let mut w = Encap::new(e, queue);
    loop {
        let r = wait(queue.as_raw_fd(), e.stop_fd());
        if r.stop || e.stopping() {
            return;
        }
        if r.readable {
            w.drain();
        } else if r.error {
            // The device went away under us (deleted by hand): do not
            // spin; shutdown still finds us.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

struct Encap<'e> {
    e: &'e Engine,
    queue: &'e TunQueue,
    /// Packet `i` lies at `slots[i][HEADROOM..HEADROOM + lens[i]]`.
    slots: Vec<Vec<u8>>,
    lens: Vec<usize>,
    count: usize,
    /// Offload reads land here first (virtio header + packet).
    rbuf: Vec<u8>,
    msgs: Vec<OutMsg>,
    sender: Sender,
    table: Reader<Table>,
    local: Reader<Ipv6Addr>,
    rate: RateLimit,
    icmp: Vec<u8>,
    pmtu: HashMap<Ipv6Addr, (u32, Instant)>,
    vnet: bool,
}

impl<'e> Encap<'e> {
    fn new(e: &'e Engine, queue: &'e TunQueue) -> Self {
        let vnet = e.tun.offload();
        Self {
            e,
            queue,
            slots: Vec::new(),
            lens: Vec::new(),
            count: 0,
            rbuf: if vnet { vec![0; SLOT] } else { Vec::new() },
            msgs: Vec::with_capacity(e.batch),
            sender: Sender::new(e.batch),
            table: e.table.reader(),
            local: e.local.reader(),
            rate: RateLimit::new(20, Duration::from_millis(10), Instant::now()),
            icmp: Vec::with_capacity(1280),
            pmtu: HashMap::new(),
            vnet,
        }
    }

    fn ensure_slots(&mut self, n: usize) {
        while self.slots.len() < n {
            self.slots.push(vec![0; SLOT]);
            self.lens.push(0);
        }
    }

    /// Reads until the device is empty, sending a batch whenever one is
    /// full.
    fn drain(&mut self) {
        loop {
            if self.count >= self.e.batch {
                self.flush();
                if self.e.stopping() {
                    return;
                }
            }
            match self.read_one() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.flush();
    }

    /// Reads one packet (or super-packet) into the slots.
    fn read_one(&mut self) -> io::Result<()> {
        self.ensure_slots(self.count + 1);
        if !self.vnet {
            let slot = &mut self.slots[self.count];
            let n = self.queue.read(&mut slot[HEADROOM..])?;
            self.lens[self.count] = n;
            self.count += 1;
            return Ok(());
        }
        // Packet at rbuf[HEADROOM..], its virtio header just before.
        let base = HEADROOM - VIRTIO_NET_HDR_LEN;
        let n = self.queue.read(&mut self.rbuf[base..])?;
        let Some(hdr) = self.rbuf.get(base..base + n).and_then(VirtioNetHdr::parse) else {
            self.e.counters.drop(DropReason::Malformed);
            return Ok(());
        };
        let plen = n - VIRTIO_NET_HDR_LEN;
        if hdr.gso_type == VirtioNetHdr::GSO_NONE {
            if hdr.flags & VirtioNetHdr::F_NEEDS_CSUM != 0
                && !gso::finish_partial(
                    &mut self.rbuf[HEADROOM..HEADROOM + plen],
                    hdr.csum_start.into(),
                    hdr.csum_offset.into(),
                )
            {
                self.e.counters.drop(DropReason::Malformed);
                return Ok(());
            }
            std::mem::swap(&mut self.rbuf, &mut self.slots[self.count]);
            self.lens[self.count] = plen;
            self.count += 1;
            return Ok(());
        }
        let packet = &self.rbuf[HEADROOM..HEADROOM + plen];
        let k = match gso::segment_count(&hdr, packet) {
            Ok(k) => k,
            Err(GsoError::Malformed | GsoError::Unsupported) => {
                self.e.counters.drop(DropReason::Malformed);
                return Ok(());
            }
        };
        while self.slots.len() < self.count + k {
            self.slots.push(vec![0; SLOT]);
            self.lens.push(0);
        }
        let at = self.count;
        let lens = &mut self.lens;
        match gso::segment_tcp6(
            &hdr,
            packet,
            &mut self.slots[at..at + k],
            HEADROOM,
            |i, l| lens[at + i] = l,
        ) {
            Ok(made) => {
                self.count += made;
                let c = &self.e.counters;
                c.gso_packets.fetch_add(1, Relaxed);
                c.gso_segments.fetch_add(made as u64, Relaxed);
            }
            Err(_) => self.e.counters.drop(DropReason::Malformed),
        }
        Ok(())
    }

    /// Classifies and sends the slots' packets.
    fn flush(&mut self) {
        if self.count == 0 {
            return;
        }
        let e = self.e;
        // Our own reference for the batch: the counters we bump borrow it.
        let table = Arc::clone(self.table.get(&e.table));
        let local = **self.local.get(&e.local);
        let src = match e.mode {
            Mode::Ha => None,
            Mode::Mn { .. } => Some(local),
        };
        let hdrincl = e.sock.header_included();
        self.msgs.clear();
        let mut flows: Vec<&FlowPair> = Vec::with_capacity(self.count);
        for i in 0..self.count {
            let packet = &self.slots[i][HEADROOM..HEADROOM + self.lens[i]];
            match classify(&e.mode, e.traffic_class, &table, packet) {
                Ok(r) => {
                    self.msgs.push(OutMsg {
                        buf: i,
                        start: HEADROOM,
                        len: r.len,
                        dst: r.binding.remote,
                        src,
                        tclass: r.tclass,
                    });
                    flows.push(&r.binding.flows);
                }
                Err(why) => {
                    e.counters.drop(why);
                    if why == DropReason::NoBinding && e.unreachable && e.is_ha() {
                        send_icmp(
                            e,
                            self.queue,
                            &mut self.rate,
                            &mut self.icmp,
                            self.vnet,
                            local,
                            icmp::TYPE_DEST_UNREACHABLE,
                            icmp::CODE_ADDRESS_UNREACHABLE,
                            0,
                            packet,
                        );
                    }
                }
            }
        }
        if hdrincl {
            let params = EncapParams {
                hop_limit: e.hop_limit,
                traffic_class: e.traffic_class,
                flow_label: 0,
            };
            for m in &mut self.msgs {
                let ep = TunnelEndpoints {
                    src: local,
                    dst: m.dst,
                };
                let slot = &mut self.slots[m.buf];
                let (head, rest) = slot.split_at_mut(HEADROOM);
                if let (Some(h), Some(inner)) = (
                    head.first_chunk_mut::<OUTER_HEADER_LEN>(),
                    rest.get(..m.len),
                ) && write_outer_header(h, &ep, &params, inner).is_ok()
                {
                    m.start = 0;
                    m.len += OUTER_HEADER_LEN;
                    m.tclass = None;
                }
            }
        }
        let fd = e.sock.send_fd();
        let overhead = if hdrincl { OUTER_HEADER_LEN } else { 0 };
        let mut at = 0;
        while at < self.msgs.len() {
            let (k, err) = self.sender.send(fd, &self.msgs[at..], &self.slots);
            // One atomic add per run of packets of one binding.
            let mut run: Option<(&FlowPair, u64, u64)> = None;
            let mut all = 0;
            for (m, f) in self.msgs[at..at + k].iter().zip(&flows[at..at + k]) {
                let bytes = (m.len - overhead) as u64;
                all += bytes;
                match &mut run {
                    Some((rf, p, b)) if std::ptr::eq(*rf, *f) => {
                        *p += 1;
                        *b += bytes;
                    }
                    _ => {
                        if let Some((rf, p, b)) = run {
                            rf.encap.add(p, b);
                        }
                        run = Some((f, 1, bytes));
                    }
                }
            }
            if let Some((rf, p, b)) = run {
                rf.encap.add(p, b);
            }
            if k > 0 {
                e.counters.total.encap.add(k as u64, all);
            }
            at += k;
            if let Some(err) = err {
                let m = self.msgs[at];
                let f = flows[at];
                self.send_failed(&m, f, err, local, overhead);
                at += 1;
            } else if k == 0 {
                break;
            }
        }
        self.count = 0;
    }

    fn send_failed(
        &mut self,
        m: &OutMsg,
        f: &FlowPair,
        err: io::Error,
        local: Ipv6Addr,
        overhead: usize,
    ) {
        let e = self.e;
        if err.raw_os_error() != Some(libc::EMSGSIZE) {
            e.counters.drop(DropReason::SendError);
            return;
        }
        let inner_len = m.len - overhead;
        let now = Instant::now();
        let pmtu = match self.pmtu.get(&m.dst) {
            Some(&(p, at)) if now.duration_since(at) < PMTU_TTL => p,
            _ => match socket::path_mtu(local, m.dst) {
                Ok(p) => {
                    if self.pmtu.len() > 1024 {
                        self.pmtu.clear();
                    }
                    self.pmtu.insert(m.dst, (p, now));
                    p
                }
                Err(_) => {
                    e.counters.drop(DropReason::SendError);
                    return;
                }
            },
        };
        match tunnel_mtu(pmtu).check(inner_len) {
            MtuVerdict::Send => e.counters.drop(DropReason::SendError),
            MtuVerdict::SendFragmented => {
                if e.sock.header_included() {
                    e.counters.drop(DropReason::SendError);
                    return;
                }
                let sent = {
                    let _g = e.frag_lock.lock().unwrap_or_else(PoisonError::into_inner);
                    let on = e.sock.set_fragmenting(true).is_ok();
                    let r = on && self.sender.send(e.sock.fd(), &[*m], &self.slots).0 == 1;
                    let _ = e.sock.set_fragmenting(false);
                    r
                };
                if sent {
                    f.encap.add(1, inner_len as u64);
                    e.counters.total.encap.add(1, inner_len as u64);
                    e.counters.fragmented.fetch_add(1, Relaxed);
                } else {
                    e.counters.drop(DropReason::SendError);
                }
            }
            MtuVerdict::PacketTooBig { mtu } => {
                e.counters.drop(DropReason::TooBig);
                let start = HEADROOM;
                let packet = &self.slots[m.buf][start..start + inner_len];
                send_icmp(
                    e,
                    self.queue,
                    &mut self.rate,
                    &mut self.icmp,
                    self.vnet,
                    local,
                    icmp::TYPE_PACKET_TOO_BIG,
                    0,
                    mtu,
                    packet,
                );
            }
        }
    }
}

/// Writes an ICMPv6 error about `packet` into the TUN device, if the rate
/// limit and RFC 4443 allow one; true when it was written.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_icmp(
    e: &Engine,
    queue: &TunQueue,
    rate: &mut RateLimit,
    buf: &mut Vec<u8>,
    vnet: bool,
    src: Ipv6Addr,
    icmp_type: u8,
    code: u8,
    word: u32,
    packet: &[u8],
) -> bool {
    if !rate.allow(Instant::now()) {
        return false;
    }
    if icmp::error_message(src, icmp_type, code, word, packet, buf).is_none() {
        return false;
    }
    let r = if vnet {
        queue.write_vectored(&[IoSlice::new(&ZERO_VNET), IoSlice::new(buf)])
    } else {
        queue.write(buf)
    };
    if r.is_ok() {
        let c = if icmp_type == icmp::TYPE_PACKET_TOO_BIG {
            &e.counters.too_big_sent
        } else {
            &e.counters.unreachable_sent
        };
        c.fetch_add(1, Relaxed);
    }
    r.is_ok()
}

#[cfg(test)]
mod tests {
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
    fn home_agent_looks_up_the_destination() {
        let t = table(HOA, COA);
        let copy = TrafficClass::CopyInner;
        let r = classify(&Mode::Ha, copy, &t, &packet(CN, HOA, 0)).expect("bound");
        assert_eq!((r.binding.remote, r.len, r.tclass), (COA, 48, None));
        let r = classify(&Mode::Ha, copy, &t, &packet(CN, HOA, 0xb8)).expect("bound");
        assert_eq!(r.tclass, Some(0xb8));
        let fixed = TrafficClass::Fixed(0x20);
        let r = classify(&Mode::Ha, fixed, &t, &packet(CN, HOA, 0xb8)).expect("bound");
        assert_eq!(r.tclass, None, "the socket default carries a fixed class");
        assert_eq!(
            classify(&Mode::Ha, copy, &t, &packet(CN, COA, 0)).err(),
            Some(DropReason::NoBinding)
        );
        let group = "ff02::16".parse().expect("lit");
        assert_eq!(
            classify(&Mode::Ha, copy, &t, &packet(CN, group, 0)).err(),
            Some(DropReason::NotUnicast)
        );
        assert_eq!(
            classify(&Mode::Ha, copy, &t, &packet(CN, HOA, 0)[..47]).err(),
            Some(DropReason::Malformed)
        );
    }

    #[test]
    fn mobile_node_sends_only_from_the_home_address() {
        let t = table(HOA, HA);
        let mn = Mode::Mn {
            peer: HA,
            home_address: HOA,
        };
        let copy = TrafficClass::CopyInner;
        let r = classify(&mn, copy, &t, &packet(HOA, CN, 0)).expect("from the HoA");
        assert_eq!(r.binding.remote, HA);
        assert_eq!(
            classify(&mn, copy, &t, &packet(COA, CN, 0)).err(),
            Some(DropReason::NoBinding)
        );
    }
}
