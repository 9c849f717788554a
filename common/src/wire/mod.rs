//! Packet formats, sans-IO.
//!
//! Each format is a checked view over bytes (`XxxPacket<T: AsRef<[u8]>>`,
//! built with `new_checked`) plus a plain `XxxRepr` with `parse` and `emit`,
//! and `emit(parse(x)) == x` holds for every well-formed input.

mod be;
pub mod checksum;
pub mod dhaad;
mod error;
pub mod exthdr;
pub mod mh;
pub mod nd;
#[cfg(test)]
mod test_addrs;
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

/// `contains`, `with` and `|` for a flags newtype that keeps its whole
/// word (so unnamed bits survive a round trip): the BU's 16-bit and the
/// BA's 8-bit flags.
macro_rules! flags_ops {
    ($ty:ident) => {
        impl $ty {
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            pub const fn with(self, other: Self, on: bool) -> Self {
                if on {
                    Self(self.0 | other.0)
                } else {
                    Self(self.0 & !other.0)
                }
            }
        }

        impl core::ops::BitOr for $ty {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }
    };
}
pub(crate) use flags_ops;

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
