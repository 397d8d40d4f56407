//! The read buffer and incremental frame extraction.
//!
//! The buffer grows only with bytes that actually arrived (or space lent to
//! the driver to read into), never with a length the peer declared, so a
//! hostile length costs nothing until its bytes come.
//!
//! # Memory: the room follows the reads
//!
//! Payloads are slices of the read buffer (no copy), and the room lent to
//! the driver must be initialised (zero-filled) memory, so every byte of
//! room costs resident memory as soon as it is lent, and stays lent while
//! the connection waits for its next read. The room lent is therefore sized
//! by what the reads have been doing, as Netty's adaptive receive buffer
//! does:
//!
//! ```text
//! room      4 KiB ──full read──▶ 16 KiB ──full read──▶ 64 KiB (read_chunk)
//!           4 KiB ◀──4 small──── 16 KiB ◀──4 small──── 64 KiB
//! a read is "full" when it fills the slice lent; "small" when it is under
//! a quarter of the room; 4 small reads in a row divide the room by 4
//! ```
//!
//! A connection that sends one small request and then waits holds 4 KiB
//! ([`MIN_READ_ROOM`]); a busy one reaches `read_chunk` (64 KiB) after two
//! full reads and keeps it while its reads stay above a quarter of it,
//! even if the buffer drains between them. When the buffer is empty and
//! the allocation behind it is at least twice the room now wanted (a large
//! frame has passed, or the room shrank), it is released and a new one of
//! the room's size is made; frames still held by the application keep the
//! old one alive only as long as they live. A connection that goes silent
//! after a burst reads nothing that could shrink its room, so when its idle
//! timeout fires (`Config::idle_timeout`, 5 s by default) an empty buffer
//! is let go and the room starts again from 4 KiB.

use bytes::{Buf, Bytes, BytesMut};

use super::Codec;
use crate::{ProtocolError, RpcId};

/// Default largest room lent per read (`Config::read_chunk`): 64 KiB, the
/// most a loopback or LAN socket typically returns in one read.
pub(crate) const DEFAULT_READ_CHUNK: usize = 64 * 1024;

/// Room lent to a new or quiet connection, and so what an idle connection
/// keeps: one page, half of tokio-util's 8 KiB initial read capacity (ours
/// is zero-filled, so all of it is resident; theirs is not).
pub(crate) const MIN_READ_ROOM: usize = 4 * 1024;

/// The room is multiplied by this after a read that filled it, and divided
/// by it after [`SHRINK_AFTER`] reads below `room / GROWTH` in a row.
const GROWTH: usize = 4;

/// Small reads in a row before the room shrinks: a busy connection whose
/// buffer momentarily drains keeps its room.
const SHRINK_AFTER: u8 = 4;

/// An empty buffer whose allocation is at least this many times the room
/// wanted is released rather than reused.
const OVERSIZE: usize = 2;

#[derive(Debug)]
pub(crate) struct Decoder {
    /// `buf[..filled]` holds received bytes not yet framed; `buf[filled..]`
    /// is initialised spare room lent out by [`Decoder::recv_buffer`].
    buf: BytesMut,
    filled: usize,
    /// Bytes of the allocation behind `buf` (0 for none): what the decoder
    /// keeps alive.
    held: usize,
    /// Room to lend per read now, from `min_room` to `max_room`.
    room: usize,
    min_room: usize,
    /// `read_chunk`.
    max_room: usize,
    /// Length of the slice last lent by [`Decoder::recv_buffer`].
    lent: usize,
    /// Reads in a row below `room / GROWTH`.
    small_reads: u8,
}

impl Decoder {
    pub(crate) fn new(read_chunk: usize) -> Self {
        let max_room = read_chunk.max(64);
        let min_room = MIN_READ_ROOM.min(max_room);
        Decoder {
            buf: BytesMut::new(),
            filled: 0,
            held: 0,
            room: min_room,
            min_room,
            max_room,
            lent: 0,
            small_reads: 0,
        }
    }

    /// Received bytes not yet consumed as frames.
    pub(crate) fn buffered(&self) -> usize {
        self.filled
    }

    /// Nothing buffered and small reads of late: the next read is better
    /// copied in (see [`Self::release_if_quiet`]) than read into lent room.
    pub(crate) fn is_quiet(&self) -> bool {
        self.filled == 0 && self.room <= self.min_room
    }

    /// A quiet decoder keeps no buffer between reads: an idle connection
    /// then holds nothing here (payloads still alive keep their own part
    /// of the old allocation).
    pub(crate) fn release_if_quiet(&mut self) {
        if self.is_quiet() && self.held > 0 {
            self.clear();
        }
    }

    /// The connection has been idle a while: with nothing buffered, the
    /// buffer is let go and the room starts again from the smallest, as
    /// for a new connection. A busy connection's room is otherwise only
    /// shrunk by small reads, and an idle one reads nothing.
    pub(crate) fn trim(&mut self) {
        if self.filled == 0 {
            self.clear();
            self.room = self.min_room;
            self.small_reads = 0;
        }
    }

    /// Bytes of memory the buffer holds.
    pub(crate) fn capacity(&self) -> usize {
        self.held.max(self.buf.capacity())
    }

    /// Spare room to read into; pass the count read to [`Self::commit`].
    /// It is at least half the current room (see the module doc).
    pub(crate) fn recv_buffer(&mut self) -> &mut [u8] {
        let spare = self.buf.len() - self.filled;
        if spare < self.room / 2 || self.oversized() {
            // Grow by at least the received bytes so a large frame arriving
            // in pieces is copied O(log n) times, not once per read.
            let want = self.room.max(self.filled);
            self.reserve(want);
            self.buf.resize(self.filled + want, 0);
        }
        self.lent = self.buf.len() - self.filled;
        &mut self.buf[self.filled..]
    }

    /// Marks `n` bytes of the lent buffer as received.
    pub(crate) fn commit(&mut self, n: usize) {
        let n = n.min(self.buf.len() - self.filled);
        if n == 0 {
            return;
        }
        self.filled += n;
        let full = n == self.lent;
        self.lent = 0;
        self.adapt(n, full);
    }

    /// Copies received bytes in.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // Drop the stale spare first so a reallocation copies only data.
        self.buf.truncate(self.filled);
        if self.buf.capacity() - self.filled < data.len() || self.oversized() {
            // A quiet connection's read is taken whole and the buffer let
            // go once framed: no spare room for it.
            let room = if self.is_quiet() { 0 } else { self.room };
            self.reserve(data.len().max(room).max(self.filled));
        }
        self.buf.extend_from_slice(data);
        self.filled += data.len();
        self.lent = 0;
        self.adapt(data.len(), data.len() >= self.room);
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

    /// Forgets everything buffered and releases the buffer.
    pub(crate) fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.filled = 0;
        self.held = 0;
        self.lent = 0;
    }

    /// Nothing is buffered and the allocation is far larger than the room
    /// wanted: time to give it back.
    fn oversized(&self) -> bool {
        self.filled == 0 && self.held >= OVERSIZE.saturating_mul(self.room)
    }

    /// Makes `buf` (truncated to the received bytes) able to take
    /// `additional` more bytes: in its own allocation if that is free and
    /// not oversized, else in a new one of exactly the size needed.
    fn reserve(&mut self, additional: usize) {
        self.buf.truncate(self.filled);
        let need = self.filled + additional;
        if self.held < OVERSIZE.saturating_mul(need) && self.buf.try_reclaim(additional) {
            return;
        }
        let mut fresh = BytesMut::with_capacity(need);
        fresh.extend_from_slice(&self.buf);
        self.held = fresh.capacity();
        self.buf = fresh;
    }

    /// Adapts the room to a read of `n` bytes that did (`full`) or did not
    /// fill the room it was given.
    fn adapt(&mut self, n: usize, full: bool) {
        if full {
            self.room = self.room.saturating_mul(GROWTH).min(self.max_room);
            self.small_reads = 0;
        } else if n < self.room / GROWTH {
            self.small_reads += 1;
            if self.small_reads >= SHRINK_AFTER {
                self.room = (self.room / GROWTH).max(self.min_room);
                self.small_reads = 0;
            }
        } else {
            self.small_reads = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncodeError, FrameHeader, HeaderFormat};
    use alloc::vec::Vec;

    /// A default-format frame with a payload of `len` bytes of `byte`.
    fn frame(id: u32, len: usize, byte: u8) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + len);
        f.extend_from_slice(&(4 + len as u32).to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.resize(8 + len, byte);
        f
    }

    /// Reads `wire` as a socket would: each read fills as much of the lent
    /// room as there are bytes. Returns the room sizes lent and the frames.
    fn read_all(d: &mut Decoder, codec: &Codec, mut wire: &[u8]) -> (Vec<usize>, Vec<Bytes>) {
        let (mut rooms, mut frames) = (Vec::new(), Vec::new());
        while !wire.is_empty() {
            let room = d.recv_buffer();
            rooms.push(room.len());
            let n = room.len().min(wire.len());
            room[..n].copy_from_slice(&wire[..n]);
            d.commit(n);
            wire = &wire[n..];
            while let Some((_, payload)) = d.next_frame(codec).unwrap() {
                frames.push(payload);
            }
        }
        (rooms, frames)
    }

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

    #[test]
    fn payloads_are_slices_of_the_lent_room() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let room = d.recv_buffer();
        let range = room.as_ptr_range();
        let wire = frame(1, 100, 7);
        room[..wire.len()].copy_from_slice(&wire);
        d.commit(wire.len());
        let (_, payload) = d.next_frame(&codec).unwrap().unwrap();
        assert!(range.contains(&payload.as_ptr()), "payload was copied");
        assert_eq!(&payload[..], &[7; 100][..]);
    }

    #[test]
    fn an_idle_decoder_after_a_small_frame_holds_at_most_8_kib() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let (_, frames) = read_all(&mut d, &codec, &frame(1, 10, 1));
        assert_eq!(frames.len(), 1);
        // The driver lends the room again while it waits for the next read.
        let waiting = d.recv_buffer().len();
        assert!(waiting >= MIN_READ_ROOM / 2, "room {waiting}");
        assert!(d.capacity() <= 8 * 1024, "capacity {}", d.capacity());
        // The copying path too.
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        d.extend(&frame(1, 10, 1));
        assert!(d.next_frame(&codec).unwrap().is_some());
        assert!(d.capacity() <= 8 * 1024, "capacity {}", d.capacity());
    }

    #[test]
    fn a_burst_grows_the_room_and_small_reads_give_the_memory_back() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        // A burst: 100 frames of 4 KiB, read as fast as the room allows.
        let burst: Vec<u8> = (0..100).flat_map(|i| frame(i, 4096, i as u8)).collect();
        let (rooms, frames) = read_all(&mut d, &codec, &burst);
        assert_eq!(frames.len(), 100);
        assert!(frames
            .iter()
            .enumerate()
            .all(|(i, f)| f[..] == [i as u8; 4096]));
        assert_eq!(rooms[0], MIN_READ_ROOM);
        assert!(
            rooms[..4].contains(&DEFAULT_READ_CHUNK),
            "rooms lent {rooms:?}"
        );
        assert!(rooms.len() < 16, "{} reads for 400 KiB", rooms.len());
        assert!(d.capacity() >= DEFAULT_READ_CHUNK);
        drop(frames);

        // Drained, then a few requests of 10 bytes, one per read.
        for i in 0..8 {
            read_all(&mut d, &codec, &frame(i, 10, 0));
        }
        let room = d.recv_buffer().len();
        assert!(room <= 8 * 1024, "room {room}");
        assert!(d.capacity() <= 8 * 1024, "capacity {}", d.capacity());
    }

    #[test]
    fn a_busy_decoder_that_drains_for_a_moment_keeps_its_room() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let burst: Vec<u8> = (0..64).flat_map(|i| frame(i, 4096, 1)).collect();
        read_all(&mut d, &codec, &burst);
        // One small read between bursts: the room is kept, not reallocated.
        read_all(&mut d, &codec, &frame(0, 10, 0));
        let (rooms, _) = read_all(&mut d, &codec, &burst);
        assert!(
            rooms.iter().all(|&r| r >= DEFAULT_READ_CHUNK / 2),
            "rooms lent {rooms:?}"
        );
    }

    #[test]
    fn a_large_frame_is_released_once_consumed() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let (_, frames) = read_all(&mut d, &codec, &frame(1, 1 << 20, 3));
        assert_eq!(frames[0].len(), 1 << 20);
        assert!(d.capacity() >= 1 << 20);
        let room = d.recv_buffer().len();
        assert!(room <= DEFAULT_READ_CHUNK, "room {room}");
        assert!(
            d.capacity() <= DEFAULT_READ_CHUNK,
            "capacity {}",
            d.capacity()
        );
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

    #[test]
    fn a_quiet_decoder_keeps_no_buffer_and_a_busy_one_keeps_its_room() {
        let codec = Codec::default();
        let mut d = Decoder::new(64 * 1024);
        assert!(d.is_quiet());
        // A small request, copied in: framed, then the buffer let go.
        d.extend(&frame(1, 10, b'x'));
        let (_, payload) = d.next_frame(&codec).unwrap().unwrap();
        d.release_if_quiet();
        assert_eq!(d.capacity(), 0, "an idle decoder holds no buffer");
        assert_eq!(
            &payload[..],
            &[b'x'; 10],
            "the payload outlives the release"
        );
        // A read that fills the room: busy, the room grows and is kept.
        let big = frame(2, 8 * 1024, b'y');
        let (rooms, frames) = read_all(&mut d, &codec, &big);
        assert_eq!(frames.len(), 1);
        assert!(rooms.len() > 1 && !d.is_quiet(), "rooms {rooms:?}");
        d.release_if_quiet();
        assert!(d.capacity() > 0, "a busy decoder keeps its room");
    }

    #[test]
    fn trimming_an_idle_decoder_after_a_burst_lets_its_buffer_go_but_not_a_partial_frame() {
        let codec = Codec::default();
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let burst: Vec<u8> = (0..64).flat_map(|i| frame(i, 16 * 1024, 7)).collect();
        let (rooms, frames) = read_all(&mut d, &codec, &burst);
        assert_eq!(frames.len(), 64);
        drop(frames);
        assert_eq!(*rooms.iter().max().unwrap(), DEFAULT_READ_CHUNK);
        d.release_if_quiet();
        assert!(
            d.capacity() >= DEFAULT_READ_CHUNK / 2,
            "a burst keeps its room"
        );
        d.trim();
        assert_eq!(d.capacity(), 0, "an idle decoder holds no buffer");
        assert_eq!(
            d.recv_buffer().len(),
            MIN_READ_ROOM,
            "the room starts again"
        );

        // Half a frame waits for the rest: trimming keeps it.
        let mut d = Decoder::new(DEFAULT_READ_CHUNK);
        let wire = frame(1, 100, 9);
        d.extend(&wire[..50]);
        d.trim();
        d.extend(&wire[50..]);
        let (_, payload) = d.next_frame(&codec).unwrap().unwrap();
        assert_eq!(&payload[..], &[9; 100][..]);
    }
}
