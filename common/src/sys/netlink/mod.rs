//! A small hand-rolled rtnetlink client: one AF_NETLINK/NETLINK_ROUTE socket,
//! one request at a time, each acknowledged by the kernel and matched by
//! sequence number.
//!
//! Errors are `io::Error`s whose kind follows the kernel's errno and whose
//! message names the operation, e.g. `add address 2001:db8::1/64 on eth0:
//! File exists (os error 17)`; when the kernel sends an extended ACK its text
//! is appended. [`errno`] gets the errno back out.

mod addr;
mod link;
mod monitor;
pub mod msg;
mod neigh;
mod route;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{
    self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

pub use addr::{AddrFlags, AddrOptions, AddressInfo};
pub use link::{LinkInfo, OperState};
pub use monitor::{AddressEvent, LinkEvent, LinkMonitor, MonitorEvent};
pub use route::{RouteEncap, RouteSpec, RuleSpec, TABLE_MAIN};

use msg::{MsgBuilder, c};

/// How long a request waits for the kernel's answer before failing with
/// `TimedOut`. The kernel answers rtnetlink requests synchronously, so this
/// only trips when something is badly wrong.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed netlink operation: what was attempted, the kernel's errno and,
/// when it sent one, its extended-ACK message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkError {
    pub op: String,
    pub errno: i32,
    pub ext_ack: Option<String>,
}

impl fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.op,
            io::Error::from_raw_os_error(self.errno)
        )?;
        if let Some(m) = &self.ext_ack {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NetlinkError {}

impl NetlinkError {
    fn into_io(self) -> io::Error {
        let kind = io::Error::from_raw_os_error(self.errno).kind();
        io::Error::new(kind, self)
    }
}

/// The errno behind an error from this module (or any OS error).
pub fn errno(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<NetlinkError>())
            .map(|e| e.errno)
    })
}

/// Removing what is already gone (an address expired or taken with its
/// link, a route or link deleted meanwhile) is fine: `Ok` for those errnos,
/// so the mobile node's clean-up paths share one list of them.
pub fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e)
            if matches!(
                errno(&e),
                Some(libc::ENOENT | libc::EADDRNOTAVAIL | libc::ESRCH | libc::ENODEV)
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Wraps a local failure (socket call) in the same "operation: cause" form.
fn op_error(op: String, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(errno) => NetlinkError {
            op,
            errno,
            ext_ack: None,
        }
        .into_io(),
        None => io::Error::new(e.kind(), format!("{op}: {e}")),
    }
}

/// The interface's name for error messages, `if#N` when it has none.
pub(crate) fn ifname_or_index(index: u32) -> String {
    nix::net::if_::if_indextoname(index)
        .ok()
        .and_then(|n| n.into_string().ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("if#{index}"))
}

fn new_socket(groups: u32) -> io::Result<(OwnedFd, u32)> {
    let fd = socket::socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups))?;
    let local: NetlinkAddr = socket::getsockname(fd.as_raw_fd())?;
    Ok((fd, local.pid()))
}

fn set_int_opt(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live c_int.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives one whole datagram into `buf`, growing it as needed (peeks the
/// length first, so nothing is ever truncated).
fn recv_datagram(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, flags: MsgFlags) -> io::Result<usize> {
    loop {
        let want = match socket::recv(
            fd.as_raw_fd(),
            &mut buf[..],
            flags | MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
        ) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if want > buf.len() {
            buf.resize(want, 0);
        }
        match socket::recv(fd.as_raw_fd(), &mut buf[..], flags) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The rtnetlink request socket. Not shared between threads: one request is
/// in flight at a time and its answer is matched by sequence number (answers
/// to earlier, abandoned requests are skipped).
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
}

crate::sys::rawsock::fd_through!(Netlink, fd);

/// What a request expects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Just the ACK.
    Ack,
    /// Answer messages, then the ACK.
    Get,
    /// A multipart dump ending in NLMSG_DONE.
    Dump,
}

impl Netlink {
    /// Opens a blocking rtnetlink socket in the caller's network namespace.
    pub fn new() -> io::Result<Self> {
        let (fd, port) = new_socket(0).map_err(|e| op_error("open netlink socket".into(), e))?;
        // Extended ACKs carry a text reason; capped ACKs do not echo our
        // request back. Old kernels lack both: not fatal.
        let _ = set_int_opt(fd.as_fd(), libc::SOL_NETLINK, c::NETLINK_EXT_ACK, 1);
        let _ = set_int_opt(fd.as_fd(), libc::SOL_NETLINK, c::NETLINK_CAP_ACK, 1);
        socket::setsockopt(
            &fd,
            socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(REPLY_TIMEOUT.as_secs() as _, 0),
        )?;
        Ok(Self {
            fd,
            port,
            seq: rand::random::<u32>() >> 1,
            buf: vec![0; 32 * 1024],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        self.seq
    }

    /// Sends `req`, waits for its ACK; `on_msg` sees every answer message
    /// (type, payload). `op` names the operation for errors.
    fn transact(
        &mut self,
        req: MsgBuilder,
        reply: Reply,
        op: &dyn Fn() -> String,
        on_msg: &mut dyn FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        let seq = self.next_seq();
        let bytes = req.finish(seq);
        let kernel = NetlinkAddr::new(0, 0);
        loop {
            match socket::sendto(self.fd.as_raw_fd(), &bytes, &kernel, MsgFlags::empty()) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(op_error(op(), e.into())),
            }
        }
        loop {
            let n = match recv_datagram(self.fd.as_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(op_error(
                        op(),
                        io::Error::from_raw_os_error(libc::ETIMEDOUT),
                    ));
                }
                Err(e) => return Err(op_error(op(), e)),
            };
            let mut done = false;
            for m in msg::messages(&self.buf[..n]) {
                if m.seq != seq || m.pid != self.port {
                    continue; // a late answer to an earlier request
                }
                match m.ty {
                    c::NLMSG_NOOP => {}
                    c::NLMSG_ERROR => {
                        let err = msg::i32_at(m.payload, 0).unwrap_or(-libc::EPROTO);
                        if err != 0 {
                            return Err(NetlinkError {
                                op: op(),
                                errno: -err,
                                ext_ack: ext_ack_message(&m),
                            }
                            .into_io());
                        }
                        done = true;
                    }
                    c::NLMSG_DONE => {
                        let err = msg::i32_at(m.payload, 0).unwrap_or(0);
                        if err < 0 {
                            return Err(NetlinkError {
                                op: op(),
                                errno: -err,
                                ext_ack: None,
                            }
                            .into_io());
                        }
                        if reply == Reply::Dump {
                            done = true;
                        }
                    }
                    ty => on_msg(ty, m.payload),
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    /// A request answered only by an ACK.
    fn ack(&mut self, req: MsgBuilder, op: &dyn Fn() -> String) -> io::Result<()> {
        self.transact(req, Reply::Ack, op, &mut |_, _| {})
    }
}

/// The NLMSGERR_ATTR_MSG text of an NLMSG_ERROR, if any.
fn ext_ack_message(m: &msg::Msg<'_>) -> Option<String> {
    if m.flags & c::NLM_F_ACK_TLVS == 0 {
        return None;
    }
    // struct nlmsgerr: int error, then the original nlmsghdr, then (unless
    // capped) the original payload, then the TLVs.
    let orig_len = msg::u32_at(m.payload, 4)? as usize;
    let skip = if m.flags & c::NLM_F_CAPPED != 0 {
        4 + c::NLMSG_HDRLEN
    } else {
        4 + msg::align(orig_len)
    };
    let tlvs = m.payload.get(skip..)?;
    msg::attrs(tlvs)
        .find(|(ty, _)| *ty == c::NLMSGERR_ATTR_MSG)
        .map(|(_, v)| msg::string(v))
        .filter(|s| !s.is_empty())
}
