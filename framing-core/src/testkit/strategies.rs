//! Proptest strategies for frame formats, connection settings, payloads
//! and ways to cut a byte stream.
//!
//! Every strategy yields valid values only: codecs that
//! [`CodecBuilder::build`](crate::CodecBuilder::build) accepts, configs
//! that [`ConfigBuilder::build`](crate::ConfigBuilder::build) accepts.
//! Maximum frame lengths are kept small so that tests also reach the
//! limits.
//!
//! # Examples
//!
//! ```
//! use proptest::prelude::*;
//! use framing_core::testkit::strategies::{codec, payload_for};
//!
//! proptest!(ProptestConfig::with_cases(16), |((codec, p) in codec().prop_flat_map(|c| {
//!     let p = payload_for(&c);
//!     (Just(c), p)
//! }))| {
//!     prop_assert!(p.len() <= codec.max_payload_len());
//! });
//! ```

use alloc::vec::Vec;
use core::ops::RangeInclusive;
use core::time::Duration;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::pair::Chunker;
use crate::{Codec, Config, Endian, LengthCounts, RpcId};

/// The settings of a standard header, shown plainly when a case fails.
///
/// # Examples
///
/// ```
/// use framing_core::{Endian, LengthCounts};
/// use framing_core::testkit::strategies::CodecParams;
///
/// let params = CodecParams {
///     length_field_len: 2,
///     length_endian: Endian::Big,
///     length_signed: false,
///     length_counts: LengthCounts::Payload,
///     id_field_len: 1,
///     id_endian: Endian::Big,
///     max_payload: 100,
/// };
/// let codec = params.build();
/// assert_eq!((codec.max_payload_len(), codec.max_id()), (100, Some(255)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecParams {
    /// Length field size, 1 to 8 bytes.
    pub length_field_len: usize,
    /// Length field byte order.
    pub length_endian: Endian,
    /// Whether the length is read as signed.
    pub length_signed: bool,
    /// What the length counts.
    pub length_counts: LengthCounts,
    /// Id field size, 0 to 8 bytes.
    pub id_field_len: usize,
    /// Id field byte order.
    pub id_endian: Endian,
    /// Largest payload wanted; the maximum frame length is this plus what
    /// the length counts of the header, clipped to what the field holds.
    pub max_payload: u64,
}

impl CodecParams {
    /// The codec.
    ///
    /// # Panics
    /// Never for parameters from [`codec_params`]: they are all valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{Endian, LengthCounts};
    /// use framing_core::testkit::strategies::CodecParams;
    ///
    /// // A 1-byte length counting the whole frame: 255 at most, header included.
    /// let params = CodecParams {
    ///     length_field_len: 1,
    ///     length_endian: Endian::Little,
    ///     length_signed: false,
    ///     length_counts: LengthCounts::WholeFrame,
    ///     id_field_len: 4,
    ///     id_endian: Endian::Little,
    ///     max_payload: 1000,
    /// };
    /// assert_eq!(params.build().max_payload_len(), 255 - 5);
    /// ```
    pub fn build(&self) -> Codec {
        let overhead = match self.length_counts {
            LengthCounts::Payload => 0,
            LengthCounts::IdAndPayload => self.id_field_len as u64,
            LengthCounts::WholeFrame => (self.length_field_len + self.id_field_len) as u64,
        };
        Codec::builder()
            .length_field_len(self.length_field_len)
            .length_endian(self.length_endian)
            .length_signed(self.length_signed)
            .length_counts(self.length_counts)
            .id_field_len(self.id_field_len)
            .id_endian(self.id_endian)
            .max_frame_length(overhead + self.max_payload)
            .build()
            .expect("codec parameters from the strategy are valid")
    }
}

/// Either byte order.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Endian;
/// use framing_core::testkit::strategies::endian;
///
/// proptest!(ProptestConfig::with_cases(8), |(e in endian())| {
///     prop_assert!(e == Endian::Big || e == Endian::Little);
/// });
/// ```
pub fn endian() -> impl Strategy<Value = Endian> {
    prop_oneof![Just(Endian::Big), Just(Endian::Little)]
}

/// Every [`LengthCounts`].
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Codec;
/// use framing_core::testkit::strategies::length_counts;
///
/// proptest!(ProptestConfig::with_cases(8), |(c in length_counts())| {
///     prop_assert!(Codec::builder().length_counts(c).build().is_ok());
/// });
/// ```
pub fn length_counts() -> impl Strategy<Value = LengthCounts> {
    prop_oneof![
        Just(LengthCounts::Payload),
        Just(LengthCounts::IdAndPayload),
        Just(LengthCounts::WholeFrame),
    ]
}

/// Standard header settings with an id field of a size in `id_len` and a
/// maximum payload in `max_payload`.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::codec_params_with;
///
/// proptest!(ProptestConfig::with_cases(16), |(p in codec_params_with(1..=1, 10..=20))| {
///     prop_assert_eq!(p.build().max_id(), Some(255));
///     prop_assert!(p.build().max_payload_len() <= 20);
/// });
/// ```
pub fn codec_params_with(
    id_len: RangeInclusive<usize>,
    max_payload: RangeInclusive<u64>,
) -> impl Strategy<Value = CodecParams> {
    (
        1usize..=8,
        endian(),
        any::<bool>(),
        length_counts(),
        id_len,
        endian(),
        max_payload,
    )
        .prop_map(
            |(
                length_field_len,
                length_endian,
                length_signed,
                length_counts,
                id_field_len,
                id_endian,
                max_payload,
            )| CodecParams {
                length_field_len,
                length_endian,
                length_signed,
                length_counts,
                id_field_len,
                id_endian,
                max_payload,
            },
        )
}

/// Standard header settings: every field size and order, signedness and
/// [`LengthCounts`], id fields of 0 to 8 bytes, payloads up to 0..=300
/// bytes.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::codec_params;
///
/// proptest!(ProptestConfig::with_cases(16), |(p in codec_params())| {
///     prop_assert!(p.id_field_len <= 8 && p.max_payload <= 300);
/// });
/// ```
pub fn codec_params() -> impl Strategy<Value = CodecParams> {
    codec_params_with(0..=8, 0..=300)
}

/// Any valid standard codec with a small maximum frame length.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::codec;
///
/// proptest!(ProptestConfig::with_cases(16), |(c in codec())| {
///     prop_assert!(c.max_payload_len() <= 300);
/// });
/// ```
pub fn codec() -> impl Strategy<Value = Codec> {
    codec_params().prop_map(|p| p.build())
}

/// A codec whose id field size is in `id_len` and whose frames hold at
/// least `min_payload` bytes of payload.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::codec_with;
///
/// proptest!(ProptestConfig::with_cases(16), |(c in codec_with(2..=4, 24))| {
///     prop_assert!(c.has_ids());
///     prop_assert!(c.max_payload_len() >= 24);
/// });
/// ```
pub fn codec_with(id_len: RangeInclusive<usize>, min_payload: u64) -> impl Strategy<Value = Codec> {
    codec_params_with(id_len, min_payload..=min_payload.max(300)).prop_map(|p| p.build())
}

/// A payload of `len` random bytes.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::payload;
///
/// proptest!(ProptestConfig::with_cases(16), |(p in payload(3..=5))| {
///     prop_assert!((3..=5).contains(&p.len()));
/// });
/// ```
pub fn payload(len: RangeInclusive<usize>) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), len).prop_map(Bytes::from)
}

/// A payload that fits a frame of `codec` (at most 512 bytes).
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Codec;
/// use framing_core::testkit::strategies::payload_for;
///
/// let codec = Codec::builder().max_frame_length(20).build().unwrap();
/// proptest!(ProptestConfig::with_cases(16), |(p in payload_for(&codec))| {
///     prop_assert!(p.len() <= 16, "4 of the 20 are the id");
/// });
/// ```
pub fn payload_for(codec: &Codec) -> impl Strategy<Value = Bytes> {
    payload(0..=codec.max_payload_len().min(512))
}

/// An id that fits `codec`'s id field (0 without one), biased towards
/// small values and the field's maximum.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Codec;
/// use framing_core::testkit::strategies::rpc_id_for;
///
/// let codec = Codec::builder().id_field_len(1).build().unwrap();
/// proptest!(ProptestConfig::with_cases(16), |(id in rpc_id_for(&codec))| {
///     prop_assert!(id.0 <= 255);
/// });
/// ```
pub fn rpc_id_for(codec: &Codec) -> BoxedStrategy<RpcId> {
    match codec.max_id() {
        None => Just(RpcId(0)).boxed(),
        Some(max) => prop_oneof![
            3 => (0..=max.min(16)).prop_map(RpcId),
            1 => Just(RpcId(max)),
            2 => (0..=max).prop_map(RpcId),
        ]
        .boxed(),
    }
}

/// Frames (id and payload) that fit `codec`.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Codec;
/// use framing_core::testkit::{encode_frame, strategies::frames_for};
///
/// let codec = Codec::default();
/// proptest!(ProptestConfig::with_cases(8), |(frames in frames_for(&codec, 1..=3))| {
///     for (id, payload) in frames {
///         prop_assert_eq!(encode_frame(&codec, id.0, &payload).len(), 8 + payload.len());
///     }
/// });
/// ```
pub fn frames_for(
    codec: &Codec,
    count: RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<(RpcId, Bytes)>> {
    vec((rpc_id_for(codec), payload_for(codec)), count)
}

/// Sizes to cut a stream with: mostly tiny pieces (down to single bytes),
/// sometimes large ones.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::chunk_sizes;
///
/// proptest!(ProptestConfig::with_cases(16), |(sizes in chunk_sizes())| {
///     prop_assert!(!sizes.is_empty() && sizes.iter().all(|&n| (1..=4096).contains(&n)));
/// });
/// ```
pub fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(
        prop_oneof![4 => 1usize..=8, 2 => 9usize..=64, 1 => 65usize..=4096],
        1..=16,
    )
}

/// A [`Chunker`]: whole writes, fixed pieces or cycling sizes.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::chunker;
///
/// proptest!(ProptestConfig::with_cases(16), |(mut c in chunker())| {
///     prop_assert_eq!(c.split(b"every byte, in order").concat(), b"every byte, in order");
/// });
/// ```
pub fn chunker() -> impl Strategy<Value = Chunker> {
    prop_oneof![
        1 => Just(Chunker::whole()),
        1 => (1usize..=16).prop_map(Chunker::fixed),
        3 => chunk_sizes().prop_map(Chunker::sizes),
    ]
}

/// Cut points for a stream of `len` bytes: sorted, distinct, inside the
/// stream; cutting there gives pieces of any sizes, empty ones excluded.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::cuts;
///
/// proptest!(ProptestConfig::with_cases(16), |(points in cuts(10))| {
///     prop_assert!(points.windows(2).all(|w| w[0] < w[1]));
///     prop_assert!(points.iter().all(|&c| 0 < c && c < 10));
/// });
/// ```
pub fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(0..=len, 0..=len.min(64)).prop_map(move |mut v| {
        v.retain(|&c| c > 0 && c < len);
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Cuts `bytes` at the given sorted points.
///
/// # Examples
///
/// ```
/// use framing_core::testkit::strategies::split_at_cuts;
///
/// assert_eq!(split_at_cuts(b"abcdef", &[1, 4]), [&b"a"[..], b"bcd", b"ef"]);
/// ```
pub fn split_at_cuts<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in cuts {
        let c = c.clamp(start, bytes.len());
        if c > start {
            out.push(&bytes[start..c]);
            start = c;
        }
    }
    if start < bytes.len() {
        out.push(&bytes[start..]);
    }
    out
}

/// An optional timeout of 1 ms to `max_ms`.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use core::time::Duration;
/// use framing_core::testkit::strategies::timeout;
///
/// proptest!(ProptestConfig::with_cases(16), |(t in timeout(50))| {
///     prop_assert!(t.is_none_or(|t| Duration::from_millis(1) <= t && t <= Duration::from_millis(50)));
/// });
/// ```
pub fn timeout(max_ms: u64) -> impl Strategy<Value = Option<Duration>> {
    proptest::option::of((1..=max_ms).prop_map(Duration::from_millis))
}

/// Connection settings around `codec`: small watermarks
/// (`low < warn <= max`, up to a few KiB), optional idle and call
/// timeouts, strict mode on or off, small read chunks and any coalescing
/// threshold.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::Codec;
/// use framing_core::testkit::strategies::config_for;
///
/// proptest!(ProptestConfig::with_cases(16), |(c in config_for(Codec::default()))| {
///     prop_assert!(c.low_buffer_bytes() < c.warn_buffer_bytes());
///     prop_assert!(c.warn_buffer_bytes() <= c.max_buffer_bytes());
/// });
/// ```
pub fn config_for(codec: Codec) -> impl Strategy<Value = Config> {
    (
        1usize..=2048,
        0usize..=2048,
        timeout(10_000),
        timeout(1_000),
        any::<bool>(),
        64usize..=4096,
        0usize..=512,
        0usize..=64,
    )
        .prop_flat_map(
            move |(warn, extra, idle, call, strict, read_chunk, coalesce, late)| {
                let codec = codec.clone();
                (0..warn).prop_map(move |low| {
                    Config::builder()
                        .codec(codec.clone())
                        .low_buffer_bytes(low)
                        .warn_buffer_bytes(warn)
                        .max_buffer_bytes(warn + extra)
                        .idle_timeout(idle)
                        .call_timeout(call)
                        .strict_unknown_ids(strict)
                        .read_chunk(read_chunk)
                        .coalesce_max(coalesce)
                        .late_memory(late)
                        .build()
                        .expect("config from the strategy is valid")
                })
            },
        )
}

/// Connection settings with any codec from [`codec`]; see [`config_for`].
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use framing_core::testkit::strategies::config;
///
/// proptest!(ProptestConfig::with_cases(16), |(c in config())| {
///     prop_assert!(c.max_buffer_bytes() <= 4096);
/// });
/// ```
pub fn config() -> impl Strategy<Value = Config> {
    codec().prop_flat_map(config_for)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    #[test]
    fn every_generated_codec_and_config_is_valid() {
        let mut runner = TestRunner::deterministic();
        runner
            .run(&config(), |c| {
                prop_assert!(c.low_buffer_bytes() < c.warn_buffer_bytes());
                prop_assert!(c.warn_buffer_bytes() <= c.max_buffer_bytes());
                prop_assert!(c.codec().max_payload_len() <= 300);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn cutting_at_points_keeps_every_byte_in_order() {
        let mut runner = TestRunner::deterministic();
        let s = vec(any::<u8>(), 0..100).prop_flat_map(|b| {
            let n = b.len();
            (Just(b), cuts(n))
        });
        runner
            .run(&s, |(bytes, cuts)| {
                let pieces = split_at_cuts(&bytes, &cuts);
                prop_assert!(pieces.iter().all(|p| !p.is_empty()));
                prop_assert_eq!(pieces.concat(), bytes);
                Ok(())
            })
            .unwrap();
    }
}
