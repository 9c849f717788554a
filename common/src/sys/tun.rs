//! TUN devices: layer-3 virtual interfaces whose packets a program reads
//! and writes through `/dev/net/tun`, one whole IPv6 packet per `read` or
//! `write` (IFF_TUN | IFF_NO_PI: no packet-information prefix).
//!
//! [`Tun::create`] makes the device in the calling thread's network
//! namespace and, in this order, sets `addr_gen_mode=1` (none) so the
//! kernel never makes a link-local address on it (one it made can make
//! address clean-up fail with EBUSY), sets the MTU, then brings it up.
//!
//! Lifetime (Linux 6.18, checked by the tests): the device is not
//! persistent, so the kernel deletes it when the last descriptor attached
//! to it closes, i.e. when the [`Tun`] drops. Every route and address on
//! it goes with it. With [`TunOptions::queues`] > 1 the device is
//! multi-queue (IFF_MULTI_QUEUE): one descriptor per queue, the kernel
//! spreads flows across them by hash (one flow stays on one queue).
//!
//! With [`TunOptions::offload`] the device carries a `virtio_net_hdr` in
//! front of every packet both ways (IFF_VNET_HDR) and tells the kernel
//! it takes TCP segmentation (TSO6) and partial checksums: a read may
//! then return one TCP super-packet of up to 64 KiB to be cut up by the
//! reader (see [`VirtioNetHdr`]). Writes must carry the header too.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::netlink::Netlink;
use super::rawsock::ctx;
use super::sysctl;

/// The longest interface name (IFNAMSIZ less the terminating NUL).
pub const MAX_NAME_LEN: usize = 15;
/// Length of `struct virtio_net_hdr` (no `num_buffers`), the prefix of
/// every packet on an offload-enabled device.
pub const VIRTIO_NET_HDR_LEN: usize = 10;
/// The smallest MTU an IPv6 link may have (RFC 8200 5); below it the
/// kernel removes every IPv6 address of the link.
pub const MIN_MTU: u32 = 1280;

const TUN_PATH: &CStr = c"/dev/net/tun";

/// How to make a TUN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunOptions {
    /// Interface name, 1 to 15 characters, no `/`, whitespace or `%`.
    pub name: String,
    /// Link MTU; at least 1280 (the kernel would drop IPv6 below it).
    pub mtu: u32,
    /// Number of queues (descriptors); more than 1 makes a multi-queue
    /// device.
    pub queues: usize,
    /// Descriptors in non-blocking mode (`read` fails `WouldBlock` when no
    /// packet waits).
    pub nonblocking: bool,
    /// IFF_VNET_HDR with TSO6 and checksum offload (see the module notes).
    pub offload: bool,
    /// Bring the link up once configured.
    pub up: bool,
}

impl TunOptions {
    /// One queue, blocking, no offload, brought up, MTU 1460 (a tunnel
    /// over a 1500-octet path).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            mtu: 1460,
            queues: 1,
            nonblocking: false,
            offload: false,
            up: true,
        }
    }
}

/// Checks an interface name: 1 to [`MAX_NAME_LEN`] octets, none of `/`,
/// `%`, `:`, NUL or whitespace, and not `.` or `..`.
pub fn check_name(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '%' || c == ':' || c == '\0' || c.is_whitespace());
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "bad interface name {name:?}: 1-{MAX_NAME_LEN} octets, no '/', '%', ':' or spaces"
            ),
        ));
    }
    Ok(())
}

/// One queue of a TUN device: a descriptor reading and writing whole
/// packets. `read` and `write` take `&self`, so one thread may read while
/// another writes.
#[derive(Debug)]
pub struct TunQueue {
    fd: OwnedFd,
}

impl TunQueue {
    fn open(name: &str, flags: libc::c_int) -> io::Result<Self> {
        // SAFETY: a NUL-terminated path and plain flags.
        let raw = unsafe { libc::open(TUN_PATH.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(ctx("open /dev/net/tun".into())(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which lives on our
        // stack for the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if r < 0 {
            return Err(ctx(format!("TUNSETIFF {name}"))(io::Error::last_os_error()));
        }
        Ok(Self { fd })
    }

    fn ioctl_uint(&self, req: libc::Ioctl, value: libc::c_ulong, what: &str) -> io::Result<()> {
        // SAFETY: these TUN ioctls take their argument by value.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), req, value) };
        if r < 0 {
            return Err(ctx(what.to_owned())(io::Error::last_os_error()));
        }
        Ok(())
    }

    fn ioctl_int_ptr(&self, req: libc::Ioctl, value: libc::c_int, what: &str) -> io::Result<()> {
        let v = value;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), req, &v) };
        if r < 0 {
            return Err(ctx(what.to_owned())(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Reads one packet (with its `virtio_net_hdr` on an offload device).
    /// A packet longer than `buf` is cut to it.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the pointer and length describe `buf`.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs())
    }

    /// Writes one whole packet (with its `virtio_net_hdr` on an offload
    /// device).
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        // SAFETY: the pointer and length describe `packet`.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs())
    }

    /// Writes one packet given in pieces (a header and a payload).
    pub fn write_vectored(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let cnt = libc::c_int::try_from(parts.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: IoSlice is ABI-compatible with iovec; `cnt` entries live.
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), parts.as_ptr().cast(), cnt) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs())
    }

    /// Switches the descriptor between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let new = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

crate::sys::rawsock::fd_through!(TunQueue, fd);

/// A TUN device, deleted by the kernel when this drops (all its queues
/// close).
#[derive(Debug)]
pub struct Tun {
    name: String,
    index: u32,
    offload: bool,
    queues: Vec<TunQueue>,
}

impl Tun {
    /// Creates and configures the device (see the module notes). Fails if
    /// a link of that name exists already (a TUN of ours or anything else:
    /// attaching to a foreign persistent TUN would steal its traffic).
    pub fn create(opts: &TunOptions) -> io::Result<Self> {
        check_name(&opts.name)?;
        if opts.mtu < MIN_MTU {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "TUN {} MTU {} is below the IPv6 minimum {MIN_MTU}",
                    opts.name, opts.mtu
                ),
            ));
        }
        let mut nl = Netlink::new()?;
        if nl.link_index(&opts.name).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("create TUN {}: a link of that name exists", opts.name),
            ));
        }
        let nq = opts.queues.max(1);
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
        if nq > 1 {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        if opts.offload {
            flags |= libc::IFF_VNET_HDR;
        }
        let mut queues = Vec::with_capacity(nq);
        for _ in 0..nq {
            let q = TunQueue::open(&opts.name, flags)?;
            if opts.offload {
                q.ioctl_int_ptr(
                    libc::TUNSETVNETHDRSZ,
                    VIRTIO_NET_HDR_LEN as libc::c_int,
                    "TUNSETVNETHDRSZ",
                )?;
                q.ioctl_uint(
                    libc::TUNSETOFFLOAD,
                    libc::c_ulong::from(libc::TUN_F_CSUM | libc::TUN_F_TSO6),
                    "TUNSETOFFLOAD",
                )?;
            }
            if opts.nonblocking {
                q.set_nonblocking(true)?;
            }
            queues.push(q);
        }
        let index = nl.link_index(&opts.name)?;
        let tun = Self {
            name: opts.name.clone(),
            index,
            offload: opts.offload,
            queues,
        };
        // Before the first up: no kernel-made link-local address.
        sysctl::write(&tun.name, "addr_gen_mode", "1")
            .map_err(ctx(format!("TUN {}: addr_gen_mode", tun.name)))?;
        nl.set_mtu(index, opts.mtu)?;
        if opts.up {
            nl.set_link_up(index)?;
        }
        Ok(tun)
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether packets carry a `virtio_net_hdr`.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// The queues (at least one).
    pub fn queues(&self) -> &[TunQueue] {
        &self.queues
    }

    /// The first queue.
    pub fn queue(&self) -> &TunQueue {
        // `create` always opens at least one.
        &self.queues[0]
    }

    /// Reads one packet from the first queue.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.queue().read(buf)
    }

    /// Writes one packet to the first queue.
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        self.queue().write(packet)
    }

    /// Switches every queue between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.queues.iter().try_for_each(|q| q.set_nonblocking(on))
    }

    /// Changes the MTU (at least 1280).
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        if mtu < MIN_MTU {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TUN {} MTU {mtu} is below {MIN_MTU}", self.name),
            ));
        }
        Netlink::new()?.set_mtu(self.index, mtu)
    }

    /// Brings the link up or down. Down flushes its IPv6 addresses.
    pub fn set_up(&self, up: bool) -> io::Result<()> {
        let mut nl = Netlink::new()?;
        if up {
            nl.set_link_up(self.index)
        } else {
            nl.set_link_down(self.index)
        }
    }
}

/// `struct virtio_net_hdr` (linux/virtio_net.h), little-endian fields as
/// the TUN driver uses them on x86 and arm (TUNSETVNETLE not needed on
/// little-endian hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtioNetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// `flags`: the checksum is partial, to be finished from `csum_start`.
    pub const F_NEEDS_CSUM: u8 = 1;
    /// `flags`: the checksum has been verified.
    pub const F_DATA_VALID: u8 = 2;
    pub const GSO_NONE: u8 = 0;
    pub const GSO_TCPV4: u8 = 1;
    pub const GSO_UDP: u8 = 3;
    pub const GSO_TCPV6: u8 = 4;
    pub const GSO_UDP_L4: u8 = 5;
    pub const GSO_ECN: u8 = 0x80;

    /// Reads the header at the front of `buf`.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.first_chunk::<VIRTIO_NET_HDR_LEN>()?;
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; VIRTIO_NET_HDR_LEN] {
        let mut b = [0u8; VIRTIO_NET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("mip6tun0").is_ok());
        assert!(check_name("a23456789012345").is_ok());
        assert!(check_name("a234567890123456").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("..").is_err());
    }

    #[test]
    fn vnet_header_round_trips() {
        let h = VirtioNetHdr {
            flags: VirtioNetHdr::F_NEEDS_CSUM,
            gso_type: VirtioNetHdr::GSO_TCPV6,
            hdr_len: 72,
            gso_size: 1388,
            csum_start: 40,
            csum_offset: 16,
        };
        let b = h.to_bytes();
        assert_eq!(b, [1, 4, 72, 0, 0x6c, 0x05, 40, 0, 16, 0]);
        assert_eq!(VirtioNetHdr::parse(&b), Some(h));
        assert_eq!(VirtioNetHdr::parse(&b[..9]), None);
    }

    /// Runs `f` in a fresh network namespace on its own thread (root).
    fn in_netns<F: FnOnce() + Send + 'static>(f: F) {
        let h = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            // Local delivery needs lo up.
            let mut nl = Netlink::new().expect("netlink");
            let lo = nl.link_index("lo").expect("lo");
            nl.set_link_up(lo).expect("lo up");
            f();
        });
        if let Err(e) = h.join() {
            std::panic::resume_unwind(e);
        }
    }

    fn exists(name: &str) -> bool {
        Netlink::new().expect("netlink").link_index(name).is_ok()
    }

    #[test]
    fn lives_as_long_as_its_descriptors() {
        crate::require_root!();
        in_netns(|| {
            let mut opts = TunOptions::new("mip6t0");
            opts.mtu = 1400;
            let tun = Tun::create(&opts).expect("create");
            let info = Netlink::new()
                .expect("netlink")
                .link_info(tun.index())
                .expect("link info");
            assert_eq!(info.name, "mip6t0");
            assert_eq!(info.mtu, 1400);
            assert!(info.up);
            assert_eq!(sysctl::read("mip6t0", "addr_gen_mode").expect("read"), "1");
            // No kernel-made link-local address.
            let addrs = Netlink::new()
                .expect("netlink")
                .list_addresses(tun.index())
                .expect("addresses");
            assert!(addrs.is_empty(), "{addrs:?}");
            // A second device of that name is refused.
            assert_eq!(
                Tun::create(&opts).expect_err("duplicate").kind(),
                io::ErrorKind::AlreadyExists
            );
            let mut low = TunOptions::new("low");
            low.mtu = 1279;
            assert!(Tun::create(&low).is_err());
            assert!(!exists("low"));
            drop(tun);
            // The kernel deletes a non-persistent TUN with its last fd.
            assert!(!exists("mip6t0"));
        });
    }

    #[test]
    fn multi_queue_and_nonblocking() {
        crate::require_root!();
        in_netns(|| {
            let mut opts = TunOptions::new("mip6mq");
            opts.queues = 3;
            opts.nonblocking = true;
            let tun = Tun::create(&opts).expect("create");
            assert_eq!(tun.queues().len(), 3);
            let mut buf = [0u8; 2048];
            for q in tun.queues() {
                let e = q.read(&mut buf).expect_err("nothing queued");
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            }
            // A packet written in comes out of the kernel's routing: an
            // echo request to an address on the TUN is answered into it.
            let mut nl = Netlink::new().expect("netlink");
            let a: std::net::Ipv6Addr = "2001:db8::1".parse().expect("literal");
            nl.add_address(
                tun.index(),
                a,
                64,
                &crate::sys::netlink::AddrOptions {
                    nodad: true,
                    ..Default::default()
                },
            )
            .expect("address");
            let peer: std::net::Ipv6Addr = "2001:db8::2".parse().expect("literal");
            let mut echo = vec![0u8; 48];
            echo[0] = 0x60;
            echo[5] = 8;
            echo[6] = 58;
            echo[7] = 64;
            echo[8..24].copy_from_slice(&peer.octets());
            echo[24..40].copy_from_slice(&a.octets());
            echo[40] = 128;
            echo[44..48].copy_from_slice(&[0x12, 0x34, 0, 1]);
            let ck = crate::wire::checksum::upper_layer(&peer, &a, 58, &echo[40..]);
            echo[42..44].copy_from_slice(&ck.to_be_bytes());
            // The kernel installs the local route of a `nodad` address a
            // moment after adding it; a request that arrives before is
            // dropped, so ask again until answered.
            let start = std::time::Instant::now();
            let mut last_sent: Option<std::time::Instant> = None;
            let reply = loop {
                if last_sent.is_none_or(|t| t.elapsed().as_millis() >= 200) {
                    tun.queues()[1].write(&echo).expect("write");
                    last_sent = Some(std::time::Instant::now());
                }
                let got = tun.queues().iter().find_map(|q| q.read(&mut buf).ok());
                if let Some(n) = got {
                    // Skip MLD and the like: we want the echo reply.
                    if n >= 41 && buf[6] == 58 && buf[40] == 129 {
                        break buf[..n].to_vec();
                    }
                }
                assert!(start.elapsed().as_secs() < 10, "no echo reply");
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            assert_eq!(&reply[8..24], &a.octets());
            assert_eq!(&reply[24..40], &peer.octets());
            drop(tun);
            assert!(!exists("mip6mq"));
        });
    }
}
