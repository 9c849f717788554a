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

/// `From<Message>` for each variant of a message enum whose variants each
/// wrap one message type.
macro_rules! from_variants {
    ($enum:ident { $($variant:ident($ty:ty)),+ $(,)? }) => {
        $(impl From<$ty> for $enum {
            fn from(m: $ty) -> Self {
                Self::$variant(m)
            }
        })+
    };
}
pub(crate) use from_variants;
