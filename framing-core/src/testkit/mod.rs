//! Test kit (feature `testkit`): drive client and server cores against each
//! other in memory, with a virtual clock and control over how bytes are
//! chunked and delayed, plus proptest strategies for configs and frames,
//! so that protocols built on the core can be property-tested without
//! sockets.
//!
//! - [`pair::Pair`]: a client and a server [`Connection`](crate::Connection)
//!   joined by two links. Each link cuts the byte stream with a
//!   [`pair::Chunker`], delivers it after a delay and holds at most a
//!   given number of bytes in flight. The server answers with a handler
//!   (echo by default) or holds requests for the test to answer. Time is a
//!   [`Duration`](core::time::Duration) since the start and moves only when
//!   the test moves it, jumping to the earliest `poll_timeout` of either
//!   side or the next delivery.
//! - [`strategies`]: valid codecs and configs (every field size, byte
//!   order, signedness and [`LengthCounts`](crate::LengthCounts); small
//!   frame limits), payloads, ids and ways to cut a stream.
//!
//! # Example: a request/response protocol, property-tested
//!
//! A toy protocol whose server upper-cases what it gets. The property: for
//! any frame format, any payloads, any chunking and any link delay, every
//! call completes exactly once with the upper-cased request.
//!
//! ```
//! use core::time::Duration;
//! use bytes::Bytes;
//! use proptest::prelude::*;
//! use framing_core::Config;
//! use framing_core::testkit::pair::{LinkConfig, Pair};
//! use framing_core::testkit::strategies::{chunker, codec, payload_for};
//!
//! let scenario = codec().prop_flat_map(|c| {
//!     let payloads = proptest::collection::vec(payload_for(&c), 0..8);
//!     (Just(c), payloads, chunker(), chunker(), 0u64..50)
//! });
//! proptest!(ProptestConfig::with_cases(32), |((codec, payloads, up, down, delay) in scenario)| {
//!     let config = Config::builder().codec(codec).build().unwrap();
//!     let delay = Duration::from_millis(delay);
//!     let mut pair: Pair<usize> = Pair::new(config)
//!         .with_links(
//!             LinkConfig::chunked(up).with_delay(delay),
//!             LinkConfig::chunked(down).with_delay(delay),
//!         )
//!         .with_handler(|_id, request| Some(Bytes::from(request.to_ascii_uppercase())));
//!     for (i, p) in payloads.iter().enumerate() {
//!         pair.call(p.clone(), i).unwrap();
//!     }
//!     pair.run(); // until nothing is in flight and no timer is left
//!
//!     let mut done = pair.take_completions();
//!     done.sort_by_key(|c| c.ctx);
//!     prop_assert_eq!(done.len(), payloads.len());
//!     for c in done {
//!         prop_assert_eq!(c.result.unwrap(), payloads[c.ctx].to_ascii_uppercase());
//!     }
//! });
//! ```
//!
//! # Example: deadlines on a virtual clock
//!
//! ```
//! use core::time::Duration;
//! use bytes::Bytes;
//! use framing_core::{CallError, CallOptions, Config};
//! use framing_core::testkit::pair::Pair;
//!
//! let mut pair: Pair<&str> = Pair::new(Config::default()).holding_requests();
//! let opts = CallOptions::new().timeout(Duration::from_millis(250));
//! pair.call_with(Bytes::from_static(b"slow"), opts, "slow").unwrap();
//! pair.advance(Duration::from_secs(1)); // no sleeping: the clock jumps
//!
//! let done = pair.take_completions();
//! assert_eq!(done[0].result, Err(CallError::DeadlineExceeded));
//! // The server still holds the request; its late answer is dropped.
//! let (id, _) = pair.take_held_requests()[0].clone();
//! pair.respond(id, Bytes::from_static(b"too late")).unwrap();
//! pair.drive();
//! assert_eq!(pair.client_stats().late_responses, 1);
//! ```

pub mod fuzz;
mod link;
pub mod pair;
pub mod strategies;

/// The bytes of one frame in `codec`'s format: header (with `id`) and
/// payload, as a peer would send them. Handy for feeding a core by hand.
///
/// # Panics
/// If the frame cannot be encoded (payload too large, id out of range):
/// a test's own mistake.
///
/// # Examples
///
/// ```
/// use framing_core::{testkit::encode_frame, Codec};
///
/// let wire = encode_frame(&Codec::default(), 7, b"hi");
/// assert_eq!(wire, [0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i']);
/// ```
pub fn encode_frame(codec: &crate::Codec, id: u64, payload: &[u8]) -> alloc::vec::Vec<u8> {
    let mut header = [0u8; crate::MAX_HEADER_LEN];
    let n = codec
        .encode_header(crate::RpcId(id), payload.len(), &mut header)
        .expect("the test's frame fits its codec");
    let mut out = header[..n].to_vec();
    out.extend_from_slice(payload);
    out
}

/// A copy of every unwritten byte of `conn`, left queued (`now` is only
/// what [`Connection::poll_transmit`](crate::Connection::poll_transmit)
/// asks for).
///
/// # Examples
///
/// ```
/// use framing_core::{testkit::{peek_transmit, take_transmit}, Config, Connection};
///
/// let mut conn: Connection<core::time::Duration> =
///     Connection::client(Config::default(), Default::default());
/// conn.call(Default::default(), "hi", ()).unwrap();
/// let t0 = Default::default();
/// assert_eq!(peek_transmit(&mut conn, t0).len(), 10);
/// assert_eq!(take_transmit(&mut conn, t0).len(), 10);
/// assert!(peek_transmit(&mut conn, t0).is_empty());
/// ```
pub fn peek_transmit<T: crate::Timestamp, C>(
    conn: &mut crate::Connection<T, C>,
    now: T,
) -> alloc::vec::Vec<u8> {
    let Some(out) = conn.poll_transmit(now) else {
        return alloc::vec::Vec::new();
    };
    out.chunks().flatten().copied().collect()
}

/// Every unwritten byte of `conn`, taken as a socket that accepts all of
/// it at `now` would.
pub fn take_transmit<T: crate::Timestamp, C>(
    conn: &mut crate::Connection<T, C>,
    now: T,
) -> alloc::vec::Vec<u8> {
    use bytes::Buf;
    match conn.poll_transmit(now) {
        Some(mut out) => {
            let n = out.remaining();
            out.copy_to_bytes(n).to_vec()
        }
        None => alloc::vec::Vec::new(),
    }
}
