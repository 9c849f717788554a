//! Packet formats, sans-IO.
//!
//! Each format is a checked view over bytes (`XxxPacket<T: AsRef<[u8]>>`,
//! built with `new_checked`) plus a plain `XxxRepr` with `parse` and `emit`,
//! and `emit(parse(x)) == x` holds for every well-formed input.

pub mod checksum;
pub mod dhaad;
mod error;
pub mod exthdr;
pub mod mh;
pub mod nd;
pub mod tunnel;

pub use error::{Error, Result};
