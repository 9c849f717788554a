//! A value the control plane replaces and the forwarding threads read
//! without taking a lock on the fast path.
//!
//! The writer swaps in a new `Arc` under a mutex and bumps a generation
//! counter. Each reader keeps its own `Arc` and compares generations once
//! per batch (one atomic load); only after a change does it take the mutex,
//! for the time of an `Arc` clone. A binding update therefore never waits
//! for forwarding, and forwarding waits for a binding update at most for
//! one pointer swap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The shared slot.
#[derive(Debug)]
pub(crate) struct Shared<T> {
    generation: AtomicU64,
    current: Mutex<Arc<T>>,
}

impl<T> Shared<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        Self {
            generation: AtomicU64::new(0),
            current: Mutex::new(value),
        }
    }

    /// Replaces the value; readers see it at their next `get`.
    pub(crate) fn store(&self, value: Arc<T>) {
        let mut cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        *cur = value;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The current value (takes the mutex: for the control side).
    pub(crate) fn load(&self) -> Arc<T> {
        Arc::clone(&self.current.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A reader for a forwarding thread.
    pub(crate) fn reader(&self) -> Reader<T> {
        let cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        Reader {
            generation: self.generation.load(Ordering::Relaxed),
            value: Arc::clone(&cur),
        }
    }
}

/// A thread's cached copy of a [`Shared`] value.
#[derive(Debug)]
pub(crate) struct Reader<T> {
    generation: u64,
    value: Arc<T>,
}

impl<T> Reader<T> {
    /// The newest value: one atomic load unless it changed.
    #[inline]
    pub(crate) fn get(&mut self, shared: &Shared<T>) -> &Arc<T> {
        if shared.generation.load(Ordering::Acquire) != self.generation {
            let cur = shared
                .current
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.value = Arc::clone(&cur);
            // Stable while we hold the mutex: writers bump it under it.
            self.generation = shared.generation.load(Ordering::Relaxed);
        }
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_follow_stores() {
        let s = Shared::new(Arc::new(1));
        let mut r = s.reader();
        assert_eq!(**r.get(&s), 1);
        s.store(Arc::new(2));
        assert_eq!(**r.get(&s), 2);
        assert_eq!(*s.load(), 2);
        let mut late = s.reader();
        assert_eq!(**late.get(&s), 2);
        s.store(Arc::new(3));
        s.store(Arc::new(4));
        assert_eq!(**r.get(&s), 4);
        assert_eq!(**late.get(&s), 4);
    }

    #[test]
    fn concurrent_reader_sees_every_final_value() {
        let s = Arc::new(Shared::new(Arc::new(0u64)));
        let s2 = Arc::clone(&s);
        let t = std::thread::spawn(move || {
            let mut r = s2.reader();
            let mut last = 0;
            while last != 10_000 {
                let v = **r.get(&s2);
                assert!(v >= last, "went back from {last} to {v}");
                last = v;
            }
        });
        for i in 1..=10_000 {
            s.store(Arc::new(i));
        }
        t.join().expect("reader");
    }
}
