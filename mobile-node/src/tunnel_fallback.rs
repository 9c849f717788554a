//! A minimal IPv6-in-IPv6 data plane (RFC 2473), kept as the stand-in home
//! agent tunnel of the namespace tests (the daemon itself runs the shared
//! `common::dataplane`, see [`crate::tunnel::SharedTunnel`]): a TUN device made with the TUNSETIFF
//! ioctl on /dev/net/tun, a raw socket of protocol 41 (DESIGN.md fact 5:
//! it receives the inner packet, and while it is open the kernel sends no
//! Parameter Problem for IPv6-in-IPv6), and two threads, one per direction.
//! Plain read/write, one packet at a time: correct, not fast.
//!
//! As a mobile node: what the kernel routes into the TUN and comes from the
//! home address is sent to the home agent from the care-of address
//! (IPV6_PKTINFO, so the policy rule for the care-of address routes it out
//! of the physical interface); what arrives from the home agent for the
//! home address is written into the TUN. Anything else is dropped and
//! counted: a packet from another source read from the TUN would be our
//! own encapsulation looping back when the care-of address has no route.
//!
//! As a home agent (for tests): the mirror image, with the care-of address
//! as the peer ([`FallbackTunnel::set_peer`]).

use crate::tunnel::{TunnelPlane, TunnelSettings};
use mip6_common::sys::mn_signal::SignalSocket;
use mip6_common::sys::netlink::Netlink;
use mip6_common::sys::sysctl;
use mip6_common::wire::checksum::proto;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;

/// Which end of the tunnel this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends packets from the home address, receives packets for it.
    MobileNode,
    /// Sends packets for the home address, receives packets from it.
    HomeAgent,
}

/// Packet counters.
#[derive(Debug, Default)]
struct Counters {
    encapsulated: AtomicU64,
    decapsulated: AtomicU64,
    dropped_out: AtomicU64,
    dropped_in: AtomicU64,
    send_errors: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelCounters {
    pub encapsulated: u64,
    pub decapsulated: u64,
    pub dropped_out: u64,
    pub dropped_in: u64,
    pub send_errors: u64,
}

#[derive(Debug)]
struct Shared {
    local: RwLock<Option<Ipv6Addr>>,
    peer: RwLock<Option<Ipv6Addr>>,
    home_address: Ipv6Addr,
    role: Role,
    stop: AtomicBool,
    tun: OwnedFd,
    sock: SignalSocket,
    counters: Counters,
}

/// The fallback data plane. Dropping it without [`TunnelPlane::shutdown`]
/// stops it too.
#[derive(Debug)]
pub struct FallbackTunnel {
    name: String,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

fn read_lock<T: Copy>(l: &RwLock<T>) -> T {
    *l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(l: &RwLock<T>, v: T) {
    *l.write().unwrap_or_else(PoisonError::into_inner) = v;
}

/// Creates the TUN device `name` (IFF_TUN, IFF_NO_PI). It disappears when
/// the returned descriptor is closed.
pub fn create_tun(name: &str) -> io::Result<OwnedFd> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= ifr.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad TUN name {name:?}"),
        ));
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: a constant NUL-terminated path and plain flags.
    let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if raw < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")));
    }
    // SAFETY: `raw` is a descriptor we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: TUNSETIFF reads (and writes back the name of) the ifreq we
    // pass, which lives across the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &raw mut ifr) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("create TUN device {name}: {e}"),
        ));
    }
    Ok(fd)
}

/// Waits up to 200 ms for `fd` to become readable.
fn wait_readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call's duration.
    let n = unsafe { libc::poll(&raw mut p, 1, 200) };
    n > 0 && p.revents & libc::POLLIN != 0
}

/// Source and destination of an IPv6 packet, if it is one.
fn addrs(pkt: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr)> {
    if pkt.len() < 40 || pkt[0] >> 4 != 6 {
        return None;
    }
    let src: [u8; 16] = pkt.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = pkt.get(24..40)?.try_into().ok()?;
    Some((Ipv6Addr::from(src), Ipv6Addr::from(dst)))
}

impl FallbackTunnel {
    /// The mobile node's tunnel: peer = the home agent.
    pub fn start(s: &TunnelSettings) -> io::Result<Self> {
        Self::start_with(
            &s.tun_name,
            s.mtu,
            s.local,
            s.peer,
            s.home_address,
            Role::MobileNode,
        )
    }

    /// Any role. The TUN is made, its kernel address generation turned off
    /// before it first comes up (a kernel link-local on it would make the
    /// clean-up of our addresses fail), its MTU set, and brought up.
    pub fn start_with(
        tun_name: &str,
        mtu: u32,
        local: Option<Ipv6Addr>,
        peer: Option<Ipv6Addr>,
        home_address: Ipv6Addr,
        role: Role,
    ) -> io::Result<Self> {
        let tun = create_tun(tun_name)?;
        sysctl::write(tun_name, "addr_gen_mode", "1")?;
        sysctl::write(tun_name, "accept_ra", "0")?;
        let mut nl = Netlink::new()?;
        let index = nl.link_index(tun_name)?;
        nl.set_mtu(index, mtu)?;
        nl.set_link_up(index)?;
        let sock = SignalSocket::open(proto::IPV6)?;
        let shared = Arc::new(Shared {
            local: RwLock::new(local),
            peer: RwLock::new(peer),
            home_address,
            role,
            stop: AtomicBool::new(false),
            tun,
            sock,
            counters: Counters::default(),
        });
        let mut threads = Vec::new();
        for (name, f) in [
            ("tun-out", outbound as fn(&Shared)),
            ("tun-in", inbound as fn(&Shared)),
        ] {
            let s = Arc::clone(&shared);
            let t = std::thread::Builder::new()
                .name(format!("{name}-{tun_name}"))
                .spawn(move || f(&s));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        tracing::info!(tun = tun_name, mtu, ?role, "fallback tunnel up");
        Ok(Self {
            name: tun_name.to_owned(),
            shared,
            threads,
        })
    }

    /// The far end: the home agent (mobile node) or the care-of address
    /// (home agent); `None` stops the tunnel both ways.
    pub fn set_peer(&self, peer: Option<Ipv6Addr>) {
        write_lock(&self.shared.peer, peer);
    }

    pub fn counters(&self) -> TunnelCounters {
        let c = &self.shared.counters;
        TunnelCounters {
            encapsulated: c.encapsulated.load(Ordering::Relaxed),
            decapsulated: c.decapsulated.load(Ordering::Relaxed),
            dropped_out: c.dropped_out.load(Ordering::Relaxed),
            dropped_in: c.dropped_in.load(Ordering::Relaxed),
            send_errors: c.send_errors.load(Ordering::Relaxed),
        }
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for FallbackTunnel {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TunnelPlane for FallbackTunnel {
    fn set_local(&self, local: Option<Ipv6Addr>) {
        write_lock(&self.shared.local, local);
    }

    fn set_peer(&self, peer: Option<Ipv6Addr>) {
        FallbackTunnel::set_peer(self, peer);
    }

    fn shutdown(mut self: Box<Self>) {
        self.stop();
        tracing::info!(tun = self.name, counters = ?self.counters(), "fallback tunnel down");
    }

    fn tun_name(&self) -> &str {
        &self.name
    }
}

/// TUN -> protocol 41.
fn outbound(s: &Shared) {
    let mut buf = vec![0u8; 65_536];
    let fd = s.tun.as_raw_fd();
    while !s.stop.load(Ordering::Relaxed) {
        if !wait_readable(fd) {
            continue;
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            if !matches!(
                e.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
            ) {
                tracing::warn!(error = %e, "TUN read failed");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            continue;
        };
        let pkt = &buf[..n];
        let (local, peer) = (read_lock(&s.local), read_lock(&s.peer));
        let ours = addrs(pkt).is_some_and(|(src, dst)| match s.role {
            Role::MobileNode => src == s.home_address,
            Role::HomeAgent => dst == s.home_address,
        });
        let (Some(local), Some(peer), true) = (local, peer, ours) else {
            s.counters.dropped_out.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        match s.sock.send(pkt, local, peer, None) {
            Ok(_) => {
                s.counters.encapsulated.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                // EINVAL right after a move (the old care-of address is
                // gone), ENETUNREACH while there is no route: the packet is
                // lost, as on any link change.
                if s.counters
                    .send_errors
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(1000)
                {
                    tracing::debug!(error = %e, "tunnel send failed");
                }
            }
        }
    }
}

/// Protocol 41 -> TUN.
fn inbound(s: &Shared) {
    let mut buf = vec![0u8; 65_536];
    let fd = s.sock.as_raw_fd();
    while !s.stop.load(Ordering::Relaxed) {
        if !wait_readable(fd) {
            continue;
        }
        loop {
            let r = match s.sock.recv(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "tunnel receive failed");
                    break;
                }
            };
            let inner = &buf[..r.len];
            let peer = read_lock(&s.peer);
            let ours = addrs(inner).is_some_and(|(src, dst)| match s.role {
                Role::MobileNode => dst == s.home_address,
                Role::HomeAgent => src == s.home_address,
            });
            if peer != Some(r.src) || !ours {
                s.counters.dropped_in.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // SAFETY: `inner` is readable for its length.
            let w = unsafe { libc::write(s.tun.as_raw_fd(), inner.as_ptr().cast(), inner.len()) };
            if w < 0 {
                s.counters.dropped_in.fetch_add(1, Ordering::Relaxed);
            } else {
                s.counters.decapsulated.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_packets() {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().expect("a").octets());
        p[24..40].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().expect("a").octets());
        let (s, d) = addrs(&p).expect("ipv6");
        assert_eq!(s, "2001:db8::1".parse::<Ipv6Addr>().expect("a"));
        assert_eq!(d, "2001:db8::2".parse::<Ipv6Addr>().expect("a"));
        p[0] = 0x45;
        assert!(addrs(&p).is_none());
        assert!(addrs(&p[..20]).is_none());
    }

    #[test]
    fn bad_tun_names() {
        assert!(create_tun("").is_err());
        assert!(create_tun("a-name-far-too-long-for-linux").is_err());
    }
}
