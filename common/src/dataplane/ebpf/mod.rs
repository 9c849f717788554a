//! The kernel fast path of the tunnel: the eBPF programs of
//! `common/bpf/tunnel.bpf.c`, loaded, fed and attached.
//!
//! It sits in front of the user-space data plane, which keeps running:
//!
//! - Encapsulation: the `lwt_xmit` program rides on the routes into the
//!   TUN device ([`FastPath::route_encap`]: the home agent's `HoA/128`,
//!   the mobile node's `default ... src HoA`). A packet with a binding is
//!   encapsulated in the kernel and routed again by its outer header; one
//!   without (or larger than a narrowed path, [`FastPath::path_mtu`])
//!   continues into the TUN device, where the user-space path sends the
//!   ICMPv6 error or fragments (RFC 2473 7.1).
//! - Decapsulation: the classifier on every Ethernet interface's ingress
//!   (tcx) strips the outer header of tunnel packets that pass the source
//!   check, and drops, counted, those that fail it. Fragmented tunnel
//!   packets go on to the kernel, which reassembles them for the
//!   user-space path's socket.
//!
//! The binding map is written in the caller's turn ([`FastPath::set_bindings`]):
//! when the daemon sends a Binding Acknowledgement the kernel already
//! tunnels to the new care-of address. Counters are per-CPU maps, read
//! and summed on demand.
//!
//! Nothing is pinned and the classifier hangs on tcx links: when the
//! process ends, even by SIGKILL, the links close and detach, the TUN
//! device goes with the routes (and their programs), and the maps are
//! freed with the last reference.

mod loader;

use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use super::config::{DataPlaneConfig, Mode};
use super::stats::Traffic;
use crate::sys::netlink::{Netlink, RouteEncap, RouteSpec};
use crate::wire::tunnel::{OUTER_HEADER_LEN, TrafficClass};
use loader::{BPF_PROG_TYPE_LWT_XMIT, BPF_PROG_TYPE_SCHED_CLS, Map, Object, Program};

/// The object clang made of `common/bpf/tunnel.bpf.c` (build.rs).
pub(crate) static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tunnel.bpf.o"));

/// Program names, as `ip route` and `bpftool` show them.
const ENCAP_NAME: &str = "mip6_encap";
const DECAP_NAME: &str = "mip6_decap";

/// Slots of the `counters` map (tunnel.bpf.c): drops by the index of
/// `DropReason`, then packets handed to the user-space path.
pub(crate) const SLOW_NO_BINDING: usize = 8;
pub(crate) const SLOW_TOO_BIG: usize = 9;
pub(crate) const SLOW_ENCAP_FAILED: usize = 10;
pub(crate) const SLOW_NOT_FROM_HOA: usize = 11;
const NCOUNTERS: usize = 16;

/// A discard-only address (RFC 6666) for the start-up probe route.
const PROBE_DST: Ipv6Addr = Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0x6d69, 0x7036);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    remote: Ipv6Addr,
    /// Path MTU towards `remote` when it is narrower than the tunnel
    /// needs, else 0.
    mtu: u32,
}

#[derive(Debug, Default)]
struct State {
    table: HashMap<Ipv6Addr, Entry>,
    local: Option<Ipv6Addr>,
    /// tcx links by interface index.
    links: HashMap<u32, OwnedFd>,
    /// Counters of bindings removed since the start.
    retired: [u64; 4],
}

/// The loaded programs and their maps.
#[derive(Debug)]
pub(crate) struct FastPath {
    bindings: Map,
    flows: Map,
    counters: Map,
    encap: Program,
    decap: Program,
    tun_index: u32,
    /// The TUN (tunnel) MTU: a path MTU below it + 40 narrows the tunnel.
    tunnel_mtu: AtomicU32,
    state: Mutex<State>,
    /// Map updates the kernel refused (a full map, memory).
    pub(crate) errors: AtomicU64,
}

fn key(a: &Ipv6Addr) -> [u8; 16] {
    a.octets()
}

impl FastPath {
    /// Loads the programs, creates the maps, checks that routes take
    /// the encapsulation (CONFIG_LWTUNNEL_BPF) and attaches the classifier
    /// to every Ethernet interface but the TUN device `tun_index`.
    pub(crate) fn start(config: &DataPlaneConfig, tun_index: u32) -> io::Result<Self> {
        let obj = Object::parse(OBJECT)?;
        let mut maps = HashMap::new();
        for (name, def) in &obj.maps {
            maps.insert(name.clone(), Map::create(name, *def)?);
        }
        let encap = Program::load(
            obj.prog("lwt_xmit")?,
            BPF_PROG_TYPE_LWT_XMIT,
            ENCAP_NAME,
            &maps,
            &obj.license,
        )?;
        let decap = Program::load(
            obj.prog("tc")?,
            BPF_PROG_TYPE_SCHED_CLS,
            DECAP_NAME,
            &maps,
            &obj.license,
        )?;
        let mut take = |n: &str| {
            maps.remove(n)
                .ok_or_else(|| io::Error::other(format!("the object has no map {n}")))
        };
        let settings = take("settings")?;
        let (tclass, copy) = match config.traffic_class {
            TrafficClass::Fixed(t) => (u32::from(t), 0u32),
            TrafficClass::CopyInner => (0, 1),
        };
        let mode = u32::from(matches!(config.mode, Mode::Mn { .. }));
        let s: Vec<u8> = [mode, u32::from(config.hop_limit), tclass, copy]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        settings.update(&0u32.to_ne_bytes(), &s)?;
        let fp = Self {
            bindings: take("bindings")?,
            flows: take("binding_flows")?,
            counters: take("counters")?,
            encap,
            decap,
            tun_index,
            tunnel_mtu: AtomicU32::new(config.mtu),
            state: Mutex::new(State {
                local: (!config.local.is_unspecified()).then_some(config.local),
                ..State::default()
            }),
            errors: AtomicU64::new(0),
        };
        fp.probe_route()
            .map_err(|e| io::Error::new(e.kind(), format!("route with encap bpf: {e}")))?;
        let n = fp.attach_links()?;
        if n == 0 && matches!(config.mode, Mode::Ha) {
            return Err(io::Error::other("no Ethernet interface to decapsulate on"));
        }
        Ok(fp)
    }

    /// Adds and removes a route with the encapsulation on the TUN device:
    /// kernels without CONFIG_LWTUNNEL_BPF refuse it.
    fn probe_route(&self) -> io::Result<()> {
        let mut nl = Netlink::new()?;
        let r = RouteSpec {
            oif: Some(self.tun_index),
            encap: Some(self.route_encap()),
            replace: true,
            ..RouteSpec::new(PROBE_DST, 128)
        };
        nl.add_route(&r)?;
        nl.del_route(&r)
    }

    /// What a route into the tunnel carries to run the encapsulation.
    pub(crate) fn route_encap(&self) -> RouteEncap {
        RouteEncap {
            prog_fd: self.encap.fd(),
            name: self.encap.name.clone(),
            headroom: 0,
        }
    }

    /// Attaches the classifier to every Ethernet interface that has none
    /// yet (the mobile node's interfaces may come later); returns how many
    /// carry it.
    pub(crate) fn attach_links(&self) -> io::Result<usize> {
        let links = Netlink::new()?.links()?;
        let mut st = self.lock();
        let mut first_err = None;
        st.links.retain(|i, _| links.iter().any(|l| l.index == *i));
        for l in links {
            let ethernet = l.mac.len() == 6 && l.mac.iter().any(|&b| b != 0);
            if !ethernet || l.index == self.tun_index || st.links.contains_key(&l.index) {
                continue;
            }
            match self.decap.attach_tcx_ingress(l.index) {
                Ok(fd) => {
                    st.links.insert(l.index, fd);
                }
                Err(e) => {
                    first_err.get_or_insert(io::Error::new(
                        e.kind(),
                        format!("attach {DECAP_NAME} to {} (tcx ingress): {e}", l.name),
                    ));
                }
            }
        }
        match first_err {
            Some(e) if st.links.is_empty() => Err(e),
            _ => Ok(st.links.len()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note(&self, r: io::Result<()>) {
        if r.is_err() {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    fn write(&self, hoa: &Ipv6Addr, e: &Entry, local: Ipv6Addr) {
        let mut v = [0u8; 40];
        v[..16].copy_from_slice(&e.remote.octets());
        v[16..32].copy_from_slice(&local.octets());
        v[32..36].copy_from_slice(&e.mtu.to_ne_bytes());
        self.note(self.bindings.update(&key(hoa), &v));
    }

    /// The bindings from now on (home address -> other tunnel end), in
    /// the kernel before this returns. Counters of bindings that stay are
    /// kept.
    pub(crate) fn set_bindings(&self, bindings: &HashMap<Ipv6Addr, Ipv6Addr>) {
        let mut st = self.lock();
        let gone: Vec<Ipv6Addr> = st
            .table
            .keys()
            .filter(|h| !bindings.contains_key(h))
            .copied()
            .collect();
        for hoa in gone {
            st.table.remove(&hoa);
            self.note(self.bindings.delete(&key(&hoa)));
            if let Ok(Some(f)) = self.flows.lookup_sum(&key(&hoa)) {
                for (r, v) in st.retired.iter_mut().zip(f) {
                    *r += v;
                }
            }
            self.note(self.flows.delete(&key(&hoa)));
        }
        let Some(local) = st.local else {
            // No care-of address yet: nothing to tunnel from.
            st.table.clear();
            return;
        };
        for (hoa, remote) in bindings {
            let old = st.table.get(hoa).copied();
            let e = Entry {
                remote: *remote,
                mtu: old.filter(|o| o.remote == *remote).map_or(0, |o| o.mtu),
            };
            if old == Some(e) {
                continue;
            }
            if old.is_none() {
                let zero = vec![0u8; self.flows.value_len()];
                self.note(self.flows.insert_new(&key(hoa), &zero).map(|_| ()));
            }
            self.write(hoa, &e, local);
            st.table.insert(*hoa, e);
        }
    }

    /// This end's address: the home agent's, or the mobile node's new
    /// care-of address (`None`: none, nothing is tunnelled).
    pub(crate) fn set_local(&self, local: Option<Ipv6Addr>) {
        let mut st = self.lock();
        if st.local == local {
            return;
        }
        st.local = local;
        match local {
            Some(l) => {
                for (hoa, e) in &st.table {
                    self.write(hoa, e, l);
                }
            }
            None => {
                for hoa in st.table.keys() {
                    self.note(self.bindings.delete(&key(hoa)));
                }
                st.table.clear();
            }
        }
    }

    pub(crate) fn set_tunnel_mtu(&self, mtu: u32) {
        self.tunnel_mtu.store(mtu, Relaxed);
    }

    /// The kernel learned that the path to `remote` carries `mtu` octets:
    /// when that is less than a full tunnel packet, packets too large for
    /// it go to the user-space path, which answers them.
    pub(crate) fn path_mtu(&self, remote: Ipv6Addr, mtu: u32) {
        let full = self.tunnel_mtu.load(Relaxed) + OUTER_HEADER_LEN as u32;
        let want = if mtu < full { mtu } else { 0 };
        let mut st = self.lock();
        let Some(local) = st.local else { return };
        let hit: Vec<Ipv6Addr> = st
            .table
            .iter()
            .filter(|(_, e)| e.remote == remote && e.mtu != want)
            .map(|(h, _)| *h)
            .collect();
        for hoa in hit {
            if let Some(e) = st.table.get_mut(&hoa) {
                e.mtu = want;
                let e = *e;
                self.write(&hoa, &e, local);
            }
        }
    }

    /// What the kernel carried for `hoa`: (encapsulated, decapsulated).
    pub(crate) fn flows(&self, hoa: &Ipv6Addr) -> Option<(Traffic, Traffic)> {
        let f = self.flows.lookup_sum(&key(hoa)).ok()??;
        Some(traffic(&f))
    }

    /// Everything the kernel carried, removed bindings included.
    pub(crate) fn total(&self) -> (Traffic, Traffic) {
        let st = self.lock();
        let mut sum = st.retired;
        for hoa in st.table.keys() {
            if let Ok(Some(f)) = self.flows.lookup_sum(&key(hoa)) {
                for (s, v) in sum.iter_mut().zip(f) {
                    *s += v;
                }
            }
        }
        traffic(&sum)
    }

    /// The `counters` map, summed over the CPUs.
    pub(crate) fn counters(&self) -> [u64; NCOUNTERS] {
        let mut out = [0u64; NCOUNTERS];
        for (i, o) in out.iter_mut().enumerate() {
            if let Ok(Some(v)) = self.counters.lookup_sum(&(i as u32).to_ne_bytes()) {
                *o = v.first().copied().unwrap_or(0);
            }
        }
        out
    }

    /// Interfaces whose ingress the classifier watches.
    pub(crate) fn interfaces(&self) -> usize {
        self.lock().links.len()
    }
}

/// How many eBPF programs run at the tcx ingress of interface `ifindex`
/// (in the calling thread's network namespace): 1 while a data plane on
/// the eBPF path watches it, 0 once it is gone.
pub fn tcx_ingress_programs(ifindex: u32) -> io::Result<u32> {
    loader::tcx_ingress_count(ifindex)
}

fn traffic(f: &[u64]) -> (Traffic, Traffic) {
    let g = |i: usize| f.get(i).copied().unwrap_or(0);
    (
        Traffic {
            packets: g(0),
            bytes: g(1),
        },
        Traffic {
            packets: g(2),
            bytes: g(3),
        },
    )
}
