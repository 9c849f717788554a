//! Stateless address autoconfiguration with Duplicate Address Detection,
//! sans-IO (RFC 4862, RFC 4861 host side, RFC 4429 optimistic DAD, RFC 7527
//! enhanced DAD, RFC 8981 lifetimes for random identifiers).
//!
//! One [`Slaac`] engine runs per interface. The I/O shell feeds it link
//! events, parsed Router Advertisements and Neighbor Solicitations and
//! Advertisements, and the current time; it answers with [`Action`]s (packets
//! to send, addresses and routes to install) and timestamped [`Event`]s, and
//! says with [`Slaac::poll_timeout`] when it next wants to be woken.

mod engine;
pub mod from_nd;
mod types;

pub use engine::Slaac;
pub use types::*;

use crate::addr::{IidGenerator, IidMode};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::net::Ipv6Addr;

/// The engine's identifier source backed by `addr`'s generators.
#[derive(Debug)]
pub struct GeneratorIids {
    generator: IidGenerator,
    rng: StdRng,
}

impl GeneratorIids {
    pub fn new(generator: IidGenerator, seed: u64) -> Self {
        Self {
            generator,
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

impl IidSource for GeneratorIids {
    fn kind(&self) -> IidKind {
        match self.generator.mode() {
            IidMode::Eui64 => IidKind::Eui64,
            IidMode::Stable => IidKind::Stable,
            IidMode::Random => IidKind::Random,
        }
    }

    fn iid(&mut self, prefix: &Ipv6Addr, attempt: u8) -> Option<([u8; 8], u8)> {
        self.generator
            .candidate(*prefix, attempt, &mut self.rng)
            .ok()
            .map(|c| (c.iid.octets(), c.attempt))
    }
}
