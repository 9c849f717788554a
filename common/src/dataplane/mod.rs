#![cfg(target_os = "linux")]

//! The IPv6-in-IPv6 tunnel data plane (RFC 2473, RFC 6275 10.4.2 and
//! 11.3.1) for both daemons: a TUN device on the inside, a protocol-41 raw
//! socket on the outside, dedicated threads in between; and, unless
//! [`DataPlaneConfig::path`] says `tun`, an eBPF kernel fast path in front
//! of them (`ebpf`: an `lwt_xmit` program on the routes into the TUN
//! device, [`DataPlane::route_encap`], and a tcx ingress classifier on the
//! Ethernet interfaces). The kernel then carries every packet it can at
//! forwarding speed and hands the rest to the user-space path: packets
//! without a binding, larger than a narrowed path (Packet Too Big, RFC 2473
//! fragmentation), fragmented tunnel packets. `auto` takes the fast path
//! when the kernel does and says why not otherwise
//! ([`DataPlane::path_reason`]). Counters of both add up in
//! [`DataPlane::stats`].
//!
//! # Home agent ([`Mode::Ha`])
//!
//! The daemon routes each bound home address into the TUN device
//! (`HoA/128 dev <tun>`, before its proxy neighbour entry: docs/ARCHITECTURE.md,
//! kernel state per binding).
//! What the kernel forwards there is looked up by destination in the
//! binding snapshot ([`DataPlane::set_bindings`]) and sent to that care-of
//! address from the home agent address. A tunnel packet is accepted only
//! if its inner source is a bound home address whose care-of address is
//! the outer source; it is then written into the TUN device and the
//! kernel forwards it. The daemon enables forwarding.
//!
//! # Mobile node ([`Mode::Mn`])
//!
//! The daemon puts the home address on the TUN device (`nodad`) and routes
//! `default dev <tun> src <HoA>`; everything read from the device with
//! the home address as source goes to the home agent, from the current
//! care-of address ([`DataPlane::set_local`], effective for the next
//! packet). The daemon's `ip -6 rule from <CoA> lookup <table>` makes it
//! leave through the interface of the care-of address. Sending names the
//! source per packet (IPV6_PKTINFO); one naming a care-of address just
//! removed fails EINVAL and is counted as [`DropReason::SendError`].
//! Tunnel packets are accepted only from the home agent with the home
//! address as inner destination.
//!
//! # Threads and batching
//!
//! One encapsulating thread per TUN queue reads packets until none waits
//! (or a batch is full) and sends them with one `sendmmsg`; with
//! [`DataPlaneConfig::offload`] the device hands over TCP super-packets of
//! up to 64 KiB which are cut up here (`gso`). One decapsulating thread
//! takes batches with `recvmmsg` and writes each packet into the device.
//! Threads sleep in `poll` with an eventfd that [`DataPlane::shutdown`]
//! signals, so they stop at once.
//!
//! # MTU
//!
//! The TUN MTU is the tunnel MTU (path MTU - 40, 1460 by default). The
//! socket uses PMTUDISC_DO: a tunnel packet larger than the path MTU the
//! kernel knows fails EMSGSIZE, and the inner source gets a Packet Too
//! Big with path MTU - 40, never below 1280; an inner packet of at most
//! 1280 octets is then sent with the tunnel packet fragmented (RFC 2473
//! 7.1). Packet Too Big and Destination Unreachable are rate-limited
//! (RFC 4443 2.4 (f)).
//!
//! # Outer header (RFC 2473 6)
//!
//! Hop limit [`DataPlaneConfig::hop_limit`]; traffic class copied from the
//! inner packet or fixed; flow label 0. Coming out, a Congestion
//! Experienced mark of the outer header is copied into an ECN-capable
//! inner packet and drops one that is not (RFC 6040 normal mode).
//!
//! # Measured (testbed/benches/tunnel.rs, 2 shared cores, veth)
//!
//! - Who builds the outer header made no difference within the noise
//!   (1.51 vs 1.26 Gbit/s one run, 1.45 vs 1.56 the one before), so the
//!   kernel does ([`OuterHeader::Kernel`]): it learns the path MTU and
//!   fragments when RFC 2473 7.1 asks for it; ours would not.
//! - Batching pays: batch 1 gave 0.92 Gbit/s, 64 gave 1.5.
//! - Offload pays: 1.21 Gbit/s without, 1.51 with (46 packets per TUN
//!   read at the home agent, about 4 per TUN write at the mobile node).
//! - The ceiling is the outer side, one packet at a time through the
//!   kernel (about 7 us each across the three stacks on this machine):
//!   no interface of the kernel takes an IPv6-in-IPv6 GSO packet from
//!   user space (virtio_net_hdr knows no IPXIP6), while the kernel's own
//!   forwarding keeps 64 KiB packets end to end. Kernel forwarding over
//!   the same hops: 12.4 Gbit/s with offloads, 1.97 without.

mod config;
mod decap;
mod ebpf;
mod encap;
mod gro;
mod gso;
mod icmp;
mod snapshot;
mod socket;
mod stats;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use config::{DataPlaneConfig, Mode, OuterHeader, PathChoice};
pub use ebpf::tcx_ingress_programs;
pub use stats::{BindingStats, DropReason, Drops, Stats, Traffic};

use crate::sys::netlink::RouteEncap;
use crate::sys::tun::{Tun, TunOptions};
use crate::wire::tunnel::TrafficClass;
use snapshot::Shared;
use socket::{SocketOptions, TunnelSocket};
use stats::{Counters, FlowPair};

/// Why a data plane could not start or change.
#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    #[error("invalid data-plane configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DataPlaneError {
    move |source| DataPlaneError::Io {
        what: what.into(),
        source,
    }
}

/// A fast hash for addresses. The keys are home addresses the control
/// plane installed, so lookups of addresses from the network cannot make
/// chains longer: no need for a keyed hash on the fast path.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(d) = w.get_mut(..c.len()) {
                d.copy_from_slice(c);
            }
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One entry of the binding snapshot.
#[derive(Debug)]
pub(crate) struct Binding {
    /// The other tunnel end: care-of address (home agent mode) or home
    /// agent (mobile node mode).
    pub(crate) remote: Ipv6Addr,
    pub(crate) flows: Arc<FlowPair>,
}

/// Home address -> binding.
pub(crate) type Table = HashMap<Ipv6Addr, Binding, BuildHasherDefault<AddrHasher>>;

/// What the threads share.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) mode: Mode,
    pub(crate) batch: usize,
    pub(crate) traffic_class: TrafficClass,
    pub(crate) hop_limit: u8,
    pub(crate) unreachable: bool,
    /// The TUN device's MTU, as last set.
    pub(crate) mtu: AtomicU32,
    pub(crate) tun: Tun,
    pub(crate) sock: TunnelSocket,
    pub(crate) table: Shared<Table>,
    pub(crate) local: Shared<Ipv6Addr>,
    pub(crate) counters: Counters,
    stop: OwnedFd,
    stopping: AtomicBool,
    /// Held while the socket is switched to fragmenting (rare).
    pub(crate) frag_lock: Mutex<()>,
    /// The eBPF kernel fast path in front of this one, if any.
    pub(crate) fast: Option<ebpf::FastPath>,
    /// (outer source, inner source) of tunnelled packets whose inner
    /// source has no binding (home agent mode): a mobile node whose
    /// binding this home agent lost (a restart without its state file).
    /// The control plane answers them with a Binding Error so the mobile
    /// node registers again at once, instead of tunnelling into the void
    /// until its next refresh. Distinct pairs only, at most
    /// [`MAX_UNBOUND_SENDERS`] between two reads.
    pub(crate) unbound: Mutex<Vec<(Ipv6Addr, Ipv6Addr)>>,
}

/// The most unbound senders remembered between two reads by the control
/// plane; more are only counted as `no_binding` drops.
pub const MAX_UNBOUND_SENDERS: usize = 64;

impl Engine {
    /// Notes a sender without a binding; never waits for the lock (the
    /// packet is dropped either way).
    pub(crate) fn note_unbound(&self, outer_src: Ipv6Addr, inner_src: Ipv6Addr) {
        if let Ok(mut v) = self.unbound.try_lock()
            && v.len() < MAX_UNBOUND_SENDERS
            && !v.contains(&(outer_src, inner_src))
        {
            v.push((outer_src, inner_src));
        }
    }
}

impl Engine {
    pub(crate) fn stop_fd(&self) -> RawFd {
        self.stop.as_raw_fd()
    }

    /// True once shutdown began: threads busy with a stream of packets
    /// look at it between batches.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// True in home agent mode.
    pub(crate) fn is_ha(&self) -> bool {
        matches!(self.mode, Mode::Ha)
    }
}

/// The result of `poll` on a packet source and the stop eventfd.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ready {
    pub(crate) readable: bool,
    pub(crate) error: bool,
    pub(crate) stop: bool,
}

/// Waits until `fd` is readable (or has an error queued) or the stop
/// eventfd fires.
pub(crate) fn wait(fd: RawFd, stop: RawFd) -> Ready {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: two live pollfd structures.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
    if r < 0 {
        // EINTR: look again.
        return Ready::default();
    }
    Ready {
        readable: fds[0].revents & libc::POLLIN != 0,
        error: fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0,
        stop: fds[1].revents != 0,
    }
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain arguments; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just made and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Which path carries the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivePath {
    /// eBPF in the kernel, the user-space path for what it hands over.
    Ebpf,
    /// The user-space TUN path alone.
    Tun,
}

impl ActivePath {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ebpf => "ebpf",
            Self::Tun => "tun",
        }
    }
}

/// A running tunnel data plane. Dropping it shuts it down like
/// [`DataPlane::shutdown`] (errors then go unreported).
pub struct DataPlane {
    engine: Arc<Engine>,
    threads: Vec<JoinHandle<()>>,
    tun_name: String,
    tun_index: u32,
    offload: bool,
    why: String,
}

impl fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataPlane")
            .field("tun", &self.tun_name)
            .field("mode", &self.engine.mode)
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl DataPlane {
    /// Creates the TUN device and the tunnel socket in the calling
    /// thread's network namespace and starts the threads. In home agent
    /// mode `config.local` must already be an address of this node (the
    /// socket binds to it); the binding table starts empty. In mobile
    /// node mode the table holds the one binding home address -> peer.
    pub fn start(config: DataPlaneConfig) -> Result<Self, DataPlaneError> {
        config.validate().map_err(DataPlaneError::Config)?;
        let fixed_tc = match config.traffic_class {
            TrafficClass::Fixed(tc) => tc,
            TrafficClass::CopyInner => 0,
        };
        let sock = TunnelSocket::open(&SocketOptions {
            bind: matches!(config.mode, Mode::Ha).then_some(config.local),
            hop_limit: config.hop_limit,
            traffic_class: fixed_tc,
            buffer: config.socket_buffer,
            header_included: config.outer_header == OuterHeader::Ours,
        })
        .map_err(io_err("tunnel socket"))?;
        let tun = Tun::create(&TunOptions {
            name: config.tun_name.clone(),
            mtu: config.mtu,
            queues: config.queues,
            nonblocking: true,
            offload: config.offload,
            up: true,
        })
        .map_err(io_err(format!("TUN device {}", config.tun_name)))?;
        let mut table = Table::default();
        if let Mode::Mn { peer, home_address } = config.mode
            && !peer.is_unspecified()
            && !config.local.is_unspecified()
        {
            table.insert(
                home_address,
                Binding {
                    remote: peer,
                    flows: Arc::default(),
                },
            );
        }
        let tun_index = tun.index();
        let (fast, why) = match config.path {
            PathChoice::Tun => (None, "data_plane: tun".to_owned()),
            choice => match ebpf::FastPath::start(&config, tun_index) {
                Ok(f) => {
                    let why = format!(
                        "data_plane: {}; the kernel takes lwt_xmit routes and tcx \
                         (decapsulating on {} interface(s))",
                        choice.name(),
                        f.interfaces()
                    );
                    (Some(f), why)
                }
                Err(e) if choice == PathChoice::Ebpf => {
                    return Err(DataPlaneError::Io {
                        what: "eBPF data plane (data_plane: ebpf)".into(),
                        source: e,
                    });
                }
                Err(e) => (
                    None,
                    format!(
                        "data_plane: auto; the user-space TUN path, as the eBPF fast path \
                         could not start: {}",
                        e.to_string().lines().next().unwrap_or_default()
                    ),
                ),
            },
        };
        if let Some(f) = &fast {
            f.set_bindings(&table.iter().map(|(h, b)| (*h, b.remote)).collect());
        }
        let engine = Arc::new(Engine {
            mode: config.mode,
            batch: config.batch,
            traffic_class: config.traffic_class,
            hop_limit: config.hop_limit,
            unreachable: config.unreachable,
            mtu: AtomicU32::new(config.mtu),
            tun,
            sock,
            table: Shared::new(Arc::new(table)),
            local: Shared::new(Arc::new(config.local)),
            counters: Counters::default(),
            stop: eventfd().map_err(io_err("eventfd"))?,
            stopping: AtomicBool::new(false),
            frag_lock: Mutex::new(()),
            fast,
            unbound: Mutex::new(Vec::new()),
        });
        let mut dp = Self {
            engine,
            threads: Vec::new(),
            tun_name: config.tun_name.clone(),
            tun_index,
            offload: config.offload,
            why,
        };
        for q in 0..config.queues {
            let e = Arc::clone(&dp.engine);
            let t = std::thread::Builder::new()
                .name(format!("mip6-encap{q}"))
                .spawn(move || encap::run(&e, q))
                .map_err(io_err("spawn encapsulating thread"))?;
            dp.threads.push(t);
        }
        let e = Arc::clone(&dp.engine);
        let t = std::thread::Builder::new()
            .name("mip6-decap".into())
            .spawn(move || decap::run(&e))
            .map_err(io_err("spawn decapsulating thread"))?;
        dp.threads.push(t);
        Ok(dp)
    }

    /// Replaces the binding table: home address -> care-of address (home
    /// agent), or home address -> home agent (mobile node: a new peer).
    /// Takes effect for the next batch of packets; counters of home
    /// addresses that stay are kept.
    pub fn set_bindings(&self, bindings: Arc<HashMap<Ipv6Addr, Ipv6Addr>>) {
        let old = self.engine.table.load();
        let mut table = Table::with_capacity_and_hasher(bindings.len(), Default::default());
        for (hoa, remote) in bindings.iter() {
            let flows = old
                .get(hoa)
                .map_or_else(Arc::default, |b| Arc::clone(&b.flows));
            table.insert(
                *hoa,
                Binding {
                    remote: *remote,
                    flows,
                },
            );
        }
        self.engine.table.store(Arc::new(table));
        if let Some(f) = &self.engine.fast {
            f.set_bindings(&bindings);
        }
    }

    /// The bindings in force.
    pub fn bindings(&self) -> HashMap<Ipv6Addr, Ipv6Addr> {
        self.engine
            .table
            .load()
            .iter()
            .map(|(h, b)| (*h, b.remote))
            .collect()
    }

    /// Changes this end's address: the care-of address after a move
    /// (mobile node; effective for the next packet), or the home agent
    /// address (the socket is bound again, which fails unless it is an
    /// address of this node).
    pub fn set_local(&self, addr: Ipv6Addr) -> io::Result<()> {
        if self.engine.is_ha() {
            self.engine.sock.rebind(addr)?;
        }
        self.engine.local.store(Arc::new(addr));
        if let Some(f) = &self.engine.fast {
            f.set_local((!addr.is_unspecified()).then_some(addr));
            if !self.engine.is_ha() {
                // A care-of address may be on an interface that came
                // after the start.
                f.attach_links()
                    .map_err(|e| io::Error::new(e.kind(), format!("eBPF decapsulation: {e}")))?;
            }
        }
        Ok(())
    }

    /// This end's address.
    pub fn local(&self) -> Ipv6Addr {
        *self.engine.local.load()
    }

    /// Changes the TUN (tunnel) MTU; at least 1280.
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        self.engine.tun.set_mtu(mtu)?;
        self.engine.mtu.store(mtu, Ordering::Relaxed);
        if let Some(f) = &self.engine.fast {
            f.set_tunnel_mtu(mtu);
        }
        Ok(())
    }

    /// The TUN (tunnel) MTU.
    pub fn mtu(&self) -> u32 {
        self.engine.mtu.load(Ordering::Relaxed)
    }

    /// Every counter, with one entry per binding.
    pub fn stats(&self) -> Stats {
        let table = self.engine.table.load();
        let mut bindings: Vec<BindingStats> = table
            .iter()
            .map(|(h, b)| self.with_kernel(BindingStats::new(*h, b.remote, &b.flows)))
            .collect();
        bindings.sort_by_key(|b| b.home_address);
        let mut s = self.engine.counters.read(bindings);
        if let Some(f) = &self.engine.fast {
            let (e, d) = f.total();
            s.kernel_encap = e;
            s.kernel_decap = d;
            s.encap.add(e);
            s.decap.add(d);
            let c = f.counters();
            s.drops.add_kernel(&c);
            s.to_user_space = c[ebpf::SLOW_NO_BINDING]
                + c[ebpf::SLOW_TOO_BIG]
                + c[ebpf::SLOW_ENCAP_FAILED]
                + c[ebpf::SLOW_NOT_FROM_HOA];
            s.kernel_errors = f.errors.load(Ordering::Relaxed);
        }
        s
    }

    /// `b` with what the kernel fast path carried for it added.
    fn with_kernel(&self, mut b: BindingStats) -> BindingStats {
        if let Some((e, d)) = self
            .engine
            .fast
            .as_ref()
            .and_then(|f| f.flows(&b.home_address))
        {
            b.encap.add(e);
            b.decap.add(d);
        }
        b
    }

    /// The counters of one binding.
    pub fn binding_stats(&self, home_address: Ipv6Addr) -> Option<BindingStats> {
        let table = self.engine.table.load();
        table
            .get(&home_address)
            .map(|b| self.with_kernel(BindingStats::new(home_address, b.remote, &b.flows)))
    }

    /// (outer source, inner source) of tunnelled packets dropped for want
    /// of a binding since the last call (home agent mode), distinct, at
    /// most [`MAX_UNBOUND_SENDERS`].
    pub fn take_unbound_senders(&self) -> Vec<(Ipv6Addr, Ipv6Addr)> {
        self.engine
            .unbound
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// Drops by reason.
    pub fn drops(&self) -> Drops {
        let mut d = self.engine.counters.drops();
        if let Some(f) = &self.engine.fast {
            d.add_kernel(&f.counters());
        }
        d
    }

    /// Which path carries the tunnel.
    pub fn path(&self) -> ActivePath {
        if self.engine.fast.is_some() {
            ActivePath::Ebpf
        } else {
            ActivePath::Tun
        }
    }

    /// Why that path: one line for the log.
    pub fn path_reason(&self) -> &str {
        &self.why
    }

    /// What routes into the TUN device must carry for the kernel fast
    /// path to encapsulate (`None` on the TUN path): the home agent's
    /// `HoA/128` routes, the mobile node's default route from the home
    /// address. A route without it still works, through user space.
    pub fn route_encap(&self) -> Option<RouteEncap> {
        self.engine.fast.as_ref().map(ebpf::FastPath::route_encap)
    }

    /// The TUN device's name.
    pub fn tun_name(&self) -> &str {
        &self.tun_name
    }

    /// The TUN device's interface index.
    pub fn tun_index(&self) -> u32 {
        self.tun_index
    }

    /// Whether the TUN device hands over TCP super-packets.
    pub fn offload(&self) -> bool {
        self.offload
    }

    fn stop(&mut self) -> bool {
        self.engine.stopping.store(true, Ordering::Relaxed);
        let one: u64 = 1;
        // SAFETY: writes eight octets from a live u64 to our eventfd.
        unsafe {
            libc::write(
                self.engine.stop_fd(),
                (&raw const one).cast(),
                std::mem::size_of::<u64>(),
            );
        }
        let mut clean = true;
        for t in self.threads.drain(..) {
            clean &= t.join().is_ok();
        }
        clean
    }

    /// Stops the threads (at once: they wait in `poll` on an eventfd) and
    /// closes the TUN device, which the kernel then deletes with its
    /// routes and addresses. Fails if a thread had panicked.
    pub fn shutdown(mut self) -> io::Result<()> {
        if self.stop() {
            Ok(())
        } else {
            Err(io::Error::other("a data-plane thread panicked"))
        }
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop();
        }
    }
}
