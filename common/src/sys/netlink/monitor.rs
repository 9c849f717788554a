//! Link and address change notifications: a netlink socket bound to the
//! RTMGRP_LINK and RTMGRP_IPV6_IFADDR multicast groups.

use std::collections::VecDeque;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::socket::{self, MsgFlags, sockopt};

use super::addr::{AddrFlags, parse_addr};
use super::link::{OperState, parse_link};
use super::msg::{self, c};
use super::{new_socket, op_error, recv_datagram};

const MONITOR_RCVBUF: usize = 1 << 20;

/// A link appeared, changed or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    pub index: u32,
    pub name: String,
    /// IFF_UP.
    pub up: bool,
    /// IFF_RUNNING.
    pub running: bool,
    /// IFLA_CARRIER.
    pub carrier: bool,
    pub operstate: OperState,
    /// RTM_DELLINK: the link is gone.
    pub removed: bool,
}

/// An IPv6 address was added, changed (e.g. DAD finished) or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressEvent {
    pub index: u32,
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    pub flags: AddrFlags,
    /// RTM_DELADDR.
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorEvent {
    Link(LinkEvent),
    Address(AddressEvent),
}

/// Subscribes to link and IPv6 address notifications of the caller's
/// network namespace.
///
/// If the socket's receive buffer overflows the kernel drops notifications
/// and the next receive fails with ENOBUFS: re-read the state you care about
/// (`Netlink::link_info`, `list_addresses`) and carry on.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
    buf: Vec<u8>,
    pending: VecDeque<MonitorEvent>,
}

crate::sys::rawsock::fd_through!(LinkMonitor, fd);

impl LinkMonitor {
    /// A blocking monitor; see [`LinkMonitor::set_nonblocking`].
    pub fn new() -> io::Result<Self> {
        let (fd, _) = new_socket(c::RTMGRP_LINK | c::RTMGRP_IPV6_IFADDR)
            .map_err(|e| op_error("open netlink link monitor".into(), e))?;
        // A roomy buffer makes ENOBUFS (lost events) unlikely when many
        // links change at once; beyond rmem_max only root may go.
        let size = MONITOR_RCVBUF;
        if socket::setsockopt(&fd, sockopt::RcvBufForce, &size).is_err() {
            let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &size);
        }
        Ok(Self {
            fd,
            buf: vec![0; 32 * 1024],
            pending: VecDeque::new(),
        })
    }

    /// In non-blocking mode [`LinkMonitor::recv`] fails with `WouldBlock`
    /// when nothing is queued (for tokio's `AsyncFd`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        let fd = &self.fd;
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
        let mut flags = nix::fcntl::OFlag::from_bits_retain(flags);
        flags.set(nix::fcntl::OFlag::O_NONBLOCK, nonblocking);
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        Ok(())
    }

    /// The next event (blocks unless non-blocking).
    pub fn recv(&mut self) -> io::Result<MonitorEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            self.fill(MsgFlags::empty())?;
        }
    }

    /// The next event within `timeout`, `None` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> io::Result<Option<MonitorEvent>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match wait_readable(self.fd.as_fd(), left) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            match self.fill(MsgFlags::MSG_DONTWAIT) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one datagram and queues the events in it.
    fn fill(&mut self, flags: MsgFlags) -> io::Result<()> {
        let n = recv_datagram(self.fd.as_fd(), &mut self.buf, flags)?;
        for m in msg::messages(&self.buf[..n]) {
            if m.pid != 0 {
                continue; // only the kernel speaks on these groups
            }
            if let Some(e) = parse_event(m.ty, m.payload) {
                self.pending.push_back(e);
            }
        }
        Ok(())
    }
}

/// Waits until `fd` is readable or `timeout` passes (true when readable).
fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&raw mut pfd, 1, ms) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r > 0)
}

fn parse_event(ty: u16, payload: &[u8]) -> Option<MonitorEvent> {
    match ty {
        c::RTM_NEWLINK | c::RTM_DELLINK => {
            let l = parse_link(payload)?;
            Some(MonitorEvent::Link(LinkEvent {
                index: l.index,
                name: l.name,
                up: l.up,
                running: l.running,
                carrier: l.carrier,
                operstate: l.operstate,
                removed: ty == c::RTM_DELLINK,
            }))
        }
        c::RTM_NEWADDR | c::RTM_DELADDR => {
            let a = parse_addr(payload)?;
            Some(MonitorEvent::Address(AddressEvent {
                index: a.ifindex,
                addr: a.addr,
                prefix_len: a.prefix_len,
                flags: a.flags,
                removed: ty == c::RTM_DELADDR,
            }))
        }
        _ => None,
    }
}
