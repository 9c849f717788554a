//! Binding Update sequence numbers (RFC 6275 9.5.1): a free-running 16-bit
//! counter compared modulo 2^16.
//!
//! RFC 6275 9.5.1 calls a received number "less than or equal to" the last
//! one when it lies in "the range of the last received number and the
//! preceding 32768 values, inclusive". Its own example (last 15: 0..=15 and
//! 32784..=65535 are less or equal) leaves out the value exactly 32768 away
//! (32783), which the sentence includes. We follow the sentence, as KAME,
//! UMIP (`MIP6_SEQ_GT`, a signed 16-bit difference) and the TAHI conformance
//! test HA_2_6_6 (last 15, received 32783: status 135) do: a number exactly
//! 32768 away is neither newer nor older, so a receiver rejects it. With this
//! rule the comparison is antisymmetric, and a sender that steps its number
//! by less than 32768 is never misread.

/// Half the sequence space: the distance at which order becomes ambiguous.
pub const SEQ_WINDOW: u16 = 32768;

/// `a` comes before `b` modulo 2^16: `b - a` (mod 2^16) is in 1..=32767.
pub const fn seq_less_than(a: u16, b: u16) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d < SEQ_WINDOW
}

/// `a` comes after `b` modulo 2^16.
pub const fn seq_greater_than(a: u16, b: u16) -> bool {
    seq_less_than(b, a)
}

/// Whether a Binding Update numbered `received` may replace the binding
/// created by `last` (RFC 6275 9.5.1): it must be greater, else the answer is
/// status 135 carrying `last`.
pub const fn seq_is_newer(received: u16, last: u16) -> bool {
    seq_greater_than(received, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_6275_example_last_15() {
        // RFC 6275 9.5.1: with 15 last, 0..=15 and 32784..=65535 are not
        // newer.
        for s in (0..=15).chain(32784..=65535) {
            assert!(!seq_is_newer(s, 15), "{s}");
        }
        for s in 16..=32782 {
            assert!(seq_is_newer(s, 15), "{s}");
        }
        // The value the example and the sentence disagree on: rejected.
        assert!(!seq_is_newer(32783, 15));
        assert!(!seq_is_newer(15, 32783));
    }

    #[test]
    fn wrap_around() {
        assert!(seq_less_than(65535, 0));
        assert!(seq_less_than(65535, 1));
        assert!(seq_greater_than(0, 65535));
        assert!(seq_is_newer(0, 65535));
        assert!(seq_is_newer(5, 65530));
        assert!(!seq_is_newer(65530, 5));
        assert!(seq_less_than(32767, 32768));
        assert!(seq_less_than(0, 32767));
        assert!(!seq_less_than(0, 32768));
        assert!(!seq_less_than(32768, 0));
        assert!(seq_less_than(32769, 0));
        assert!(!seq_less_than(7, 7));
    }

    proptest! {
        #[test]
        fn irreflexive(a: u16) {
            prop_assert!(!seq_less_than(a, a));
            prop_assert!(!seq_is_newer(a, a));
        }

        #[test]
        fn antisymmetric_and_total_off_the_midpoint(a: u16, b: u16) {
            let d = b.wrapping_sub(a);
            let (lt, gt) = (seq_less_than(a, b), seq_less_than(b, a));
            prop_assert!(!(lt && gt));
            if d == 0 || d == SEQ_WINDOW {
                prop_assert!(!lt && !gt);
            } else {
                prop_assert!(lt ^ gt);
            }
        }

        #[test]
        fn every_step_below_the_window_is_newer(a: u16, step in 1u16..SEQ_WINDOW) {
            let b = a.wrapping_add(step);
            prop_assert!(seq_is_newer(b, a));
            prop_assert!(!seq_is_newer(a, b));
            prop_assert!(seq_greater_than(b, a));
        }

        #[test]
        fn agrees_with_signed_difference(a: u16, b: u16) {
            // The KAME/UMIP formulation.
            prop_assert_eq!(seq_greater_than(a, b), (a.wrapping_sub(b) as i16) > 0);
        }
    }
}
