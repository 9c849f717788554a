//! Polling a condition with a timeout.

use std::thread;
use std::time::{Duration, Instant};

use super::error::{HarnessError, Result};

/// Calls `probe` every `every` until it returns `Ok(Ok(value))` or
/// `timeout` has passed. `Ok(Err(state))` means "not yet" and describes
/// what was seen, for the timeout message; `Err` stops at once.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<Result<T, String>>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        match probe()? {
            Ok(v) => return Ok(v),
            Err(last) => {
                if start.elapsed() >= timeout {
                    return Err(HarnessError::Timeout {
                        what: what.to_owned(),
                        after: timeout,
                        last,
                    });
                }
            }
        }
        thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_when_ready() {
        let mut n = 0;
        let v = poll(
            "n to reach 3",
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                n += 1;
                Ok(if n >= 3 { Ok(n) } else { Err(format!("n={n}")) })
            },
        )
        .expect("reaches 3");
        assert_eq!(v, 3);
    }

    #[test]
    fn times_out_with_last_state() {
        let err = poll::<()>(
            "never",
            Duration::from_millis(30),
            Duration::from_millis(5),
            || Ok(Err("still no".to_owned())),
        )
        .expect_err("never ready");
        let msg = err.to_string();
        assert!(msg.contains("never") && msg.contains("still no"), "{msg}");
    }
}
