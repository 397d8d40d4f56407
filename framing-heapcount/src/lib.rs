//! Test support for the workspace's memory tests and examples: a global
//! allocator that forwards to the system allocator and counts the heap
//! bytes live now and at the peak, so a test can state how many bytes an
//! idle connection, a pending call or a long soak holds.
//!
//! Install it in the test binary or example, then read the counters:
//!
//! ```
//! #[global_allocator]
//! static HEAP: framing_heapcount::Counting = framing_heapcount::Counting;
//!
//! let before = framing_heapcount::live();
//! let v = vec![0u8; 1 << 20];
//! assert!(framing_heapcount::live() - before >= 1 << 20);
//! drop(v);
//! assert!(framing_heapcount::live() - before < 1 << 20);
//! ```
//!
//! The counters are process-wide: a measurement is only of itself while
//! nothing else in the process allocates (tests that measure take a lock).

#![allow(unsafe_code)] // the allocator; see the SAFETY notes

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// The counting allocator: every call goes to [`System`] unchanged; the
/// requested sizes are added to or taken from the live count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

/// Heap bytes allocated through [`Counting`] and not yet freed.
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The highest [`live`] count since the start or the last [`reset_peak`].
pub fn peak() -> isize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak from the live count now.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

fn grow(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract, and returns its result unchanged;
// counting touches neither the memory nor the layouts. The counters are
// atomics and never allocate, so the allocator does not re-enter itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grow(l.size() as isize);
        // SAFETY: the caller's layout meets `alloc`'s contract for `System` too.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        grow(l.size() as isize);
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `System` (through us) with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        grow(new as isize - l.size() as isize);
        // SAFETY: `p` was allocated by `System` (through us) with layout
        // `l`; the caller guarantees `new` is a valid size for its align.
        unsafe { System.realloc(p, l, new) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static HEAP: Counting = Counting;

    // One test: the counters are process-wide and tests run in parallel.
    #[test]
    fn counts_alloc_zeroed_realloc_and_free_and_keeps_the_peak() {
        let start = live();
        reset_peak();

        let mut v: Vec<u8> = Vec::with_capacity(1000);
        assert!(live() - start >= 1000, "alloc counted");
        v.extend_from_slice(&[7; 1000]);
        v.reserve_exact(9000); // realloc to 10,000
        assert!(live() - start >= 10_000, "realloc counted");
        let z = vec![0u8; 50_000]; // alloc_zeroed
        assert!(live() - start >= 60_000, "alloc_zeroed counted");
        assert!(v.iter().all(|&b| b == 7) && z.iter().all(|&b| b == 0));

        drop(z);
        drop(v);
        let end = live() - start;
        assert!(end < 1000, "frees counted: {end} B left");
        assert!(peak() - start >= 60_000, "peak kept after the frees");
        reset_peak();
        assert!(peak() - start < 1000, "peak restarted from live");
    }
}
