//! The fuzz input reader, and the codec and settings read with it.

use core::time::Duration;

use crate::{Codec, Config};

/// Reads fuzz input as a stream of small values; past the end every read
/// yields zero, so any input is a complete program.
///
/// # Examples
///
/// ```
/// use framing_core::testkit::fuzz::Reader;
///
/// let mut r = Reader::new(&[1, 2, 3]);
/// assert_eq!(r.u16(), 0x0102);
/// assert_eq!(r.bytes(5), &[3]);
/// assert!(r.is_empty());
/// assert_eq!(r.u8(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// The next byte, 0 past the end.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Whether the next byte is odd.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        (u16::from(self.u8()) << 8) | u16::from(self.u8())
    }

    /// The next eight bytes, big-endian.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| (v << 8) | u64::from(self.u8()))
    }

    /// A value below `n` (`n` must be at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// Reads a valid standard [`Codec`] from three bytes: length field 1–8
/// bytes (bits 0–2 of the first), little-endian (bit 3), signed (bit 4),
/// what the length counts (`(a >> 5) % 3`: payload, id and payload, whole
/// frame); id field `b % 9` bytes, little-endian (bit 4 of the second);
/// the maximum frame length from the third (`& 3`: 0 `m >> 2`, 1
/// `1 << (m >> 2)`, 2 `16 + 64 * (m >> 2)`, 3 none), clipped to what the
/// field holds, or the field's limit when below the header it counts.
pub fn codec_from(r: &mut Reader<'_>) -> Codec {
    super::spec::std_from(r).1
}

/// Reads a [`Config`] with small, valid watermarks and timeouts around
/// `codec`, so that limits are reached within a short input.
pub fn config_from(r: &mut Reader<'_>, codec: Codec) -> Config {
    let max = 64 + usize::from(r.u16() % 4096);
    let warn = 1 + usize::from(r.u16()) % max;
    let low = usize::from(r.u16()) % warn;
    let flags = r.u8();
    let ms = |v: u8| Duration::from_millis(1 + u64::from(v) * 4);
    let idle = (flags & 1 != 0).then(|| ms(r.u8()));
    let call = (flags & 2 != 0).then(|| ms(r.u8()));
    Config::builder()
        .codec(codec)
        .max_buffer_bytes(max)
        .warn_buffer_bytes(warn)
        .low_buffer_bytes(low)
        .idle_timeout(idle)
        .call_timeout(call)
        .strict_unknown_ids(flags & 4 != 0)
        .late_memory(usize::from(flags >> 4))
        .read_chunk(64 * (1 + usize::from(r.u8() & 7)))
        .coalesce_max(usize::from(r.u8()))
        .build()
        .expect("watermarks are ordered by construction")
}
