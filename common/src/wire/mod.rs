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

/// A flags word from a reserved or base value and each bit whose `bool`
/// is set: how the RA, NA and Prefix Information emitters, and the netlink
/// address request, turn their named booleans into bits in one place.
pub(crate) fn flag_word<T>(base: T, bits: &[(bool, T)]) -> T
where
    T: Copy + core::ops::BitOr<Output = T>,
{
    bits.iter()
        .filter(|(set, _)| *set)
        .fold(base, |word, &(_, bit)| word | bit)
}
