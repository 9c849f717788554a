//! The project's own Router Advertisement sender on one Linux interface:
//! the I/O shell around [`crate::radv`]. The testbed's routers and the home
//! agent run it.

use super::icmp6::NdSocket;
use super::netlink::Netlink;
use crate::radv::{RaContent, RaScheduler, RaTiming};
use crate::wire::nd::{ALL_NODES, ALL_ROUTERS, NdRepr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RaSender {
    nd: NdSocket,
    mac: Option<[u8; 6]>,
    content: RaContent,
    scheduler: RaScheduler,
    buf: Vec<u8>,
    /// Advertisements sent, for logs and tests.
    pub sent: u64,
    /// Solicitations answered (scheduled).
    pub solicited: u64,
}

impl RaSender {
    pub fn open(ifname: &str, content: RaContent, timing: RaTiming, seed: u64) -> io::Result<Self> {
        let mut nl = Netlink::new()?;
        let index = nl.link_index(ifname)?;
        let mac = <[u8; 6]>::try_from(nl.link_info(index)?.mac.as_slice()).ok();
        let nd = NdSocket::with_types(ifname, &[crate::wire::nd::msg_type::ROUTER_SOLICIT])?;
        nd.set_nonblocking(true)?;
        // Solicitations go to all-routers; a host that is not forwarding has
        // not joined it.
        nd.join(ALL_ROUTERS)?;
        Ok(Self {
            nd,
            mac,
            content,
            scheduler: RaScheduler::new(timing, seed),
            buf: vec![0; 1500],
            sent: 0,
            solicited: 0,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.nd.as_fd()
    }

    pub fn start(&mut self, now: Instant) {
        self.scheduler.start(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.scheduler.poll_timeout()
    }

    /// Reads waiting solicitations; a valid one brings the next RA forward.
    pub fn handle_readable(&mut self, now: Instant) -> io::Result<()> {
        loop {
            let info = match self.nd.recv(&mut self.buf) {
                Ok(i) => i,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            let bytes = self.buf.get(..info.len).unwrap_or_default();
            let Ok(repr @ NdRepr::RouterSolicit(_)) = NdRepr::from_bytes(bytes) else {
                continue;
            };
            if repr.validate(&info.src, &info.dst, info.hop_limit).is_ok() {
                self.solicited += 1;
                self.scheduler.handle_rs(now);
            }
        }
    }

    /// Sends the advertisement if one is due.
    pub fn handle_timeout(&mut self, now: Instant) -> io::Result<()> {
        if self.scheduler.handle_timeout(now) {
            self.send(false)?;
        }
        Ok(())
    }

    /// Stops advertising with a final RA of router lifetime 0 (RFC 4861
    /// 6.2.5), so hosts drop us at once instead of at expiry.
    pub fn stop(&mut self) -> io::Result<()> {
        self.scheduler.stop();
        self.send(true)
    }

    fn send(&mut self, final_ra: bool) -> io::Result<()> {
        let ra = NdRepr::RouterAdvert(self.content.advert(self.mac, final_ra));
        let bytes = ra
            .to_bytes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        // The kernel picks our link-local address as the source for
        // ff02::1, as RFC 4861 6.1.2 requires.
        self.nd.send(&bytes, None, ALL_NODES)?;
        self.sent += 1;
        Ok(())
    }

    /// Advertises until `stop` is set, then sends the final RA.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        self.start(Instant::now());
        while !stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            self.handle_timeout(now)?;
            let wait = self
                .poll_timeout()
                .map_or(Duration::from_millis(200), |t| {
                    t.saturating_duration_since(now)
                })
                .min(Duration::from_millis(200));
            let mut fds = [libc::pollfd {
                fd: self.nd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(200);
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
            if n > 0 {
                self.handle_readable(Instant::now())?;
            }
        }
        self.stop()
    }
}
