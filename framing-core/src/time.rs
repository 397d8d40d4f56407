//! Time as a value: the core never reads a clock.

use core::time::Duration;

/// A point in time, supplied by the driver.
///
/// The core only compares timestamps and adds durations to them; it never
/// asks "what time is it". Any monotonic clock works:
///
/// - with the `std` feature, `std::time::Instant`;
/// - everywhere (including `no_std`), [`Duration`], read as "time since an
///   arbitrary epoch" (boot, start of the test, ...). The test kit uses it
///   for its virtual clock.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use framing_core::Timestamp;
///
/// let t = Duration::from_millis(5);
/// assert_eq!(t.add_duration(Duration::from_millis(2)), Duration::from_millis(7));
/// ```
pub trait Timestamp: Copy + Ord + core::fmt::Debug {
    /// `self + d`, saturating at the largest representable value rather
    /// than panicking, so a huge deadline never overflows.
    fn add_duration(self, d: Duration) -> Self;

    /// `self - earlier`, or zero if `earlier` is later. The core uses it
    /// to store deadlines compactly, as an offset from the connection's
    /// creation; it checks that adding the offset back gives the same
    /// timestamp, and keeps the timestamp itself otherwise.
    fn saturating_duration_since(self, earlier: Self) -> Duration;
}

impl Timestamp for Duration {
    fn add_duration(self, d: Duration) -> Self {
        self.saturating_add(d)
    }

    fn saturating_duration_since(self, earlier: Self) -> Duration {
        self.saturating_sub(earlier)
    }
}

#[cfg(feature = "std")]
impl Timestamp for std::time::Instant {
    fn add_duration(self, d: Duration) -> Self {
        // Far-future deadlines (e.g. `Duration::MAX`) must not panic: clamp
        // to roughly a century ahead, which no real deadline reaches.
        self.checked_add(d)
            .or_else(|| self.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(self)
    }

    fn saturating_duration_since(self, earlier: Self) -> Duration {
        std::time::Instant::saturating_duration_since(&self, earlier)
    }
}
