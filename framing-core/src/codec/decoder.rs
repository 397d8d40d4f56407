//! The read buffer and incremental frame extraction.
//!
//! The buffer grows only with bytes that actually arrived (or space lent to
//! the driver to read into), never with a length the peer declared, so a
//! hostile length costs nothing until its bytes come.

use bytes::{Buf, Bytes, BytesMut};

use super::Codec;
use crate::{ProtocolError, RpcId};

/// Bytes lent to the driver per read when the buffer must grow.
pub(crate) const DEFAULT_READ_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Decoder {
    /// `buf[..filled]` holds received bytes not yet framed; `buf[filled..]`
    /// is initialised spare room lent out by [`Decoder::recv_buffer`].
    buf: BytesMut,
    filled: usize,
    read_chunk: usize,
}

impl Decoder {
    pub(crate) fn new(read_chunk: usize) -> Self {
        Decoder {
            buf: BytesMut::new(),
            filled: 0,
            read_chunk: read_chunk.max(64),
        }
    }

    /// Received bytes not yet consumed as frames.
    pub(crate) fn buffered(&self) -> usize {
        self.filled
    }

    /// Bytes of memory the buffer holds.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Spare room to read into; pass the count read to [`Self::commit`].
    pub(crate) fn recv_buffer(&mut self) -> &mut [u8] {
        let spare = self.buf.len() - self.filled;
        if spare < self.read_chunk / 2 {
            // Drop the stale spare first so a reallocation copies only data.
            self.buf.truncate(self.filled);
            // Grow by at least the received bytes so a large frame arriving
            // in pieces is copied O(log n) times, not once per read.
            let grow = self.read_chunk.max(self.filled);
            self.buf.reserve(grow);
            self.buf.resize(self.filled + grow, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Marks `n` bytes of the lent buffer as received.
    pub(crate) fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// Copies received bytes in.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(data);
        self.filled += data.len();
    }

    /// The next complete frame, its payload a slice of the read buffer.
    ///
    /// # Errors
    /// The codec's [`ProtocolError`]; [`ProtocolError::LengthTooLarge`] for
    /// a frame whose header and payload together exceed the address space
    /// (a custom format allowing payloads up to `usize::MAX`).
    #[inline]
    pub(crate) fn next_frame(
        &mut self,
        codec: &Codec,
    ) -> Result<Option<(RpcId, Bytes)>, ProtocolError> {
        let Some(h) = codec.decode_header(&self.buf[..self.filled])? else {
            return Ok(None);
        };
        let Some(total) = h.header_len.checked_add(h.payload_len) else {
            return Err(ProtocolError::LengthTooLarge {
                length: h.payload_len as u64,
                max: (usize::MAX - h.header_len) as u64,
            });
        };
        if self.filled < total {
            return Ok(None);
        }
        // `Bytes::advance` is a pointer bump; `BytesMut`'s checks its kind.
        let mut payload = self.buf.split_to(total).freeze();
        payload.advance(h.header_len);
        self.filled -= total;
        Ok(Some((h.id, payload)))
    }

    /// Forgets everything buffered.
    pub(crate) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.filled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncodeError, FrameHeader, HeaderFormat};

    #[test]
    fn lends_initialised_room_and_frames_what_was_committed() {
        let codec = Codec::default();
        let mut d = Decoder::new(1024);
        let wire = [0, 0, 0, 6, 0, 0, 0, 9, b'h', b'i'];
        let room = d.recv_buffer();
        assert!(room.len() >= 512);
        room[..wire.len()].copy_from_slice(&wire);
        d.commit(wire.len());
        let (id, payload) = d.next_frame(&codec).unwrap().unwrap();
        assert_eq!(id.0, 9);
        assert_eq!(&payload[..], b"hi");
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_huge_declared_length_reserves_nothing() {
        let codec = Codec::default();
        let mut d = Decoder::new(1024);
        // Declares ~8 MiB, sends 8 bytes of header.
        d.extend(&[0, 0x7f, 0xff, 0xf0, 0, 0, 0, 1]);
        assert_eq!(d.next_frame(&codec).unwrap(), None);
        assert!(d.capacity() < 4096, "capacity {}", d.capacity());
    }

    /// A format that allows any payload length: 8-byte length, no id.
    #[derive(Debug)]
    struct Unbounded;

    impl HeaderFormat for Unbounded {
        fn max_id(&self) -> Option<u64> {
            None
        }
        fn max_payload_len(&self) -> usize {
            usize::MAX
        }
        fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
            let Some(len) = buf.get(..8) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(len.try_into().expect("8 bytes"));
            Ok(Some(FrameHeader {
                header_len: 8,
                payload_len: usize::try_from(len).unwrap_or(usize::MAX),
                id: RpcId(0),
            }))
        }
        fn encode(&self, _: RpcId, len: usize, out: &mut [u8]) -> Result<usize, EncodeError> {
            out[..8].copy_from_slice(&(len as u64).to_be_bytes());
            Ok(8)
        }
    }

    #[test]
    fn a_length_overflowing_the_address_space_is_a_protocol_error() {
        let codec = Codec::custom(Unbounded);
        let mut d = Decoder::new(1024);
        d.extend(&u64::MAX.to_be_bytes());
        assert_eq!(
            d.next_frame(&codec),
            Err(ProtocolError::LengthTooLarge {
                length: usize::MAX as u64,
                max: (usize::MAX - 8) as u64,
            })
        );
        // One below the limit is merely incomplete.
        let mut d = Decoder::new(1024);
        d.extend(&((usize::MAX - 8) as u64).to_be_bytes());
        assert_eq!(d.next_frame(&codec), Ok(None));
    }
}
