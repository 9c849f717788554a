//! The one shape of every engine's event: what happened, with when.

use std::time::Instant;

/// Something of kind `K` that happened at `at` (an engine's simulated or
/// real clock). Each engine names its own `Event = Timed<EventKind>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed<K> {
    pub at: Instant,
    pub kind: K,
}
