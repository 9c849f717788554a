use thiserror::Error;

/// Why a packet was refused. Every parser returns one of these instead of
/// panicking, so the daemons can count bad input by reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The buffer ends before the structure it must hold.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field disagrees with the buffer or with the type's rules.
    #[error("bad length in {what}: {detail}")]
    BadLength { what: &'static str, detail: String },
    /// An option runs past the end of the header that carries it.
    #[error("option type {opt_type} overruns its {container}")]
    OptionOverrun {
        opt_type: u8,
        container: &'static str,
    },
    /// The checksum does not verify.
    #[error("bad {what} checksum: found {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        what: &'static str,
        found: u16,
        expected: u16,
    },
    /// A field holds a value that the RFC reserves or forbids here.
    #[error("invalid {field}: {value}")]
    Invalid { field: &'static str, value: u64 },
    /// A type or code this parser does not handle.
    #[error("unsupported {what} {value}")]
    Unsupported { what: &'static str, value: u64 },
    /// The caller asked `emit` for something that cannot be encoded.
    #[error("cannot emit {what}: {detail}")]
    Unencodable { what: &'static str, detail: String },
}

pub type Result<T> = core::result::Result<T, Error>;

/// Checks that `buf` holds at least `need` bytes.
pub(crate) fn need(buf: &[u8], need: usize, what: &'static str) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            what,
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// The first `len` bytes of an emit buffer, or `Truncated` saying how many
/// the caller's buffer lacks: every `emit` writes into exactly the bytes it
/// needs, so nothing of a larger buffer is touched.
pub(crate) fn room<'a>(buf: &'a mut [u8], len: usize, what: &'static str) -> Result<&'a mut [u8]> {
    let have = buf.len();
    buf.get_mut(..len).ok_or(Error::Truncated {
        what,
        need: len,
        have,
    })
}
