//! The byte links of a [`Pair`](super::pair::Pair): how one direction
//! cuts, delays and bounds the bytes it carries.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Buf, Bytes};

use crate::Connection;

/// How a link cuts a byte stream into the pieces handed to `handle_read`.
///
/// The sizes are used in turn, cycling, across everything the link carries
/// (the cut does not restart with each write). A size of 0 counts as 1.
///
/// # Examples
///
/// ```
/// use framing_core::testkit::pair::Chunker;
///
/// let mut c = Chunker::sizes([1, 3]);
/// let pieces: Vec<&[u8]> = c.split(b"abcdefg");
/// assert_eq!(pieces, [&b"a"[..], b"bcd", b"e", b"fg"]);
/// assert_eq!(Chunker::whole().split(b"abc"), [&b"abc"[..]]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunker {
    /// Empty: deliver each write whole.
    sizes: Vec<usize>,
    next: usize,
}

impl Chunker {
    /// Every write delivered as one piece.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::testkit::pair::Chunker;
    ///
    /// assert_eq!(Chunker::whole().split(b"abcdef"), [&b"abcdef"[..]]);
    /// ```
    pub fn whole() -> Self {
        Chunker::default()
    }

    /// Pieces of `n` bytes (the last one of a write may be shorter).
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::testkit::pair::Chunker;
    ///
    /// assert_eq!(Chunker::fixed(2).split(b"abcde"), [&b"ab"[..], b"cd", b"e"]);
    /// ```
    pub fn fixed(n: usize) -> Self {
        Chunker::sizes([n])
    }

    /// Pieces of these sizes, in turn, cycling.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::testkit::pair::Chunker;
    ///
    /// assert_eq!(Chunker::sizes([1, 2]).split(b"abcd"), [&b"a"[..], b"bc", b"d"]);
    /// ```
    pub fn sizes(sizes: impl Into<Vec<usize>>) -> Self {
        Chunker {
            sizes: sizes.into(),
            next: 0,
        }
    }

    /// The size of the next piece, given `remaining` bytes to cut.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::testkit::pair::Chunker;
    ///
    /// let mut c = Chunker::sizes([3, 5]);
    /// assert_eq!(c.next_len(10), 3);
    /// assert_eq!(c.next_len(2), 2, "never more than what remains");
    /// assert_eq!(c.next_len(10), 3, "the sizes cycle");
    /// ```
    pub fn next_len(&mut self, remaining: usize) -> usize {
        if self.sizes.is_empty() {
            return remaining;
        }
        let n = self.sizes[self.next % self.sizes.len()].max(1);
        self.next = (self.next + 1) % self.sizes.len();
        n.min(remaining)
    }

    /// Cuts `bytes` into pieces.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::testkit::pair::Chunker;
    ///
    /// let mut c = Chunker::fixed(3);
    /// assert_eq!(c.split(b"abcd"), [&b"abc"[..], b"d"]);
    /// assert_eq!(c.split(b""), Vec::<&[u8]>::new());
    /// ```
    pub fn split<'a>(&mut self, mut bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (piece, rest) = bytes.split_at(self.next_len(bytes.len()));
            out.push(piece);
            bytes = rest;
        }
        out
    }
}

/// How one direction of the pair carries bytes.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use framing_core::testkit::pair::{Chunker, LinkConfig};
///
/// let link = LinkConfig { chunker: Chunker::fixed(1), delay: Duration::from_millis(2), capacity: 64 };
/// assert_eq!(link.capacity, 64);
/// assert_eq!(LinkConfig::default().capacity, usize::MAX);
/// ```
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// How the stream is cut into reads.
    pub chunker: Chunker,
    /// How long bytes take from the writer's `advance_transmit` to the
    /// reader's `handle_read`.
    pub delay: Duration,
    /// Most bytes in flight (written, not yet read); the writer's core keeps
    /// the rest queued. `usize::MAX` by default.
    pub capacity: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            chunker: Chunker::whole(),
            delay: Duration::ZERO,
            capacity: usize::MAX,
        }
    }
}

impl LinkConfig {
    /// A link cutting with `chunker`, no delay, unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::testkit::pair::{Chunker, LinkConfig};
    ///
    /// let link = LinkConfig::chunked(Chunker::fixed(1));
    /// assert_eq!((link.delay, link.capacity), (Duration::ZERO, usize::MAX));
    /// ```
    pub fn chunked(chunker: Chunker) -> Self {
        LinkConfig {
            chunker,
            ..LinkConfig::default()
        }
    }

    /// This link with a delivery delay.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::testkit::pair::LinkConfig;
    ///
    /// let link = LinkConfig::default().with_delay(Duration::from_millis(3));
    /// assert_eq!(link.delay, Duration::from_millis(3));
    /// ```
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// This link with at most `capacity` bytes in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::{LinkConfig, Pair};
    ///
    /// // Four bytes in flight at most; the server reads nothing.
    /// let link = LinkConfig::default().with_capacity(4);
    /// let mut pair: Pair = Pair::new(Config::default()).with_links(link, LinkConfig::default());
    /// pair.set_server_reading(false);
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(pair.in_flight(), (4, 0));
    /// assert_eq!(pair.client.queued_bytes(), 5, "the rest stays in the client");
    /// ```
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }
}

#[derive(Debug, Default)]
pub(super) struct Link {
    pub(super) config: LinkConfig,
    in_flight: VecDeque<(Duration, Bytes)>,
    pub(super) in_flight_bytes: usize,
    /// When the writer's end of stream reaches the reader.
    eof_at: Option<Duration>,
    eof_delivered: bool,
    pub(super) reading: bool,
}

impl Link {
    pub(super) fn new(config: LinkConfig) -> Self {
        Link {
            config,
            reading: true,
            ..Link::default()
        }
    }

    pub(super) fn push(&mut self, now: Duration, bytes: &[u8]) {
        let at = now.saturating_add(self.config.delay);
        for piece in self.config.chunker.split(bytes) {
            self.in_flight_bytes += piece.len();
            self.in_flight
                .push_back((at, Bytes::copy_from_slice(piece)));
        }
    }

    /// Moves what the writer has queued into the link; returns whether
    /// anything moved.
    pub(super) fn transmit<C>(
        &mut self,
        now: Duration,
        from: &mut Connection<Duration, C>,
    ) -> bool {
        let room = self.config.capacity.saturating_sub(self.in_flight_bytes);
        let mut moved = false;
        if let Some(mut out) = from.poll_transmit(now) {
            let take = room.min(out.remaining());
            if take > 0 {
                let taken = out.copy_to_bytes(take);
                self.push(now, &taken);
                moved = true;
            }
        }
        if from.is_closed() && from.queued_bytes() == 0 && self.eof_at.is_none() {
            self.eof_at = Some(now.saturating_add(self.config.delay));
            moved = true;
        }
        moved
    }

    fn can_deliver<C>(&self, to: &Connection<Duration, C>) -> bool {
        self.reading && to.wants_read()
    }

    /// Hands due bytes (and a due end of stream) to the reader.
    pub(super) fn deliver<C>(&mut self, now: Duration, to: &mut Connection<Duration, C>) -> bool {
        let mut moved = false;
        if to.is_closed() {
            // Nobody reads a closed connection: the bytes are lost.
            moved = !self.in_flight.is_empty();
            self.in_flight.clear();
            self.in_flight_bytes = 0;
            return moved;
        }
        while self.can_deliver(to) {
            match self.in_flight.front() {
                Some((at, _)) if *at <= now => {
                    let (_, piece) = self.in_flight.pop_front().expect("front exists");
                    self.in_flight_bytes -= piece.len();
                    to.handle_read(now, &piece);
                    moved = true;
                }
                _ => break,
            }
        }
        if self.in_flight.is_empty() && !self.eof_delivered && self.can_deliver(to) {
            if let Some(at) = self.eof_at {
                if at <= now {
                    self.eof_delivered = true;
                    to.handle_eof(now);
                    moved = true;
                }
            }
        }
        moved
    }

    /// The next instant at which this link has something to deliver.
    pub(super) fn next_delivery<C>(&self, to: &Connection<Duration, C>) -> Option<Duration> {
        if !self.can_deliver(to) {
            return None;
        }
        match self.in_flight.front() {
            Some((at, _)) => Some(*at),
            None if !self.eof_delivered => self.eof_at,
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunker_cycles_its_sizes_across_writes() {
        let mut c = Chunker::sizes([2, 0]);
        assert_eq!(c.split(b"abc"), [&b"ab"[..], b"c"]);
        assert_eq!(c.split(b"def"), [&b"de"[..], b"f"]);
    }
}
