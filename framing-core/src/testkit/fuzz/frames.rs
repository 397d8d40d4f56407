//! Byte streams built from valid frames, and what a core must make of a
//! stream: its frames, the exact protocol error, the unfinished rest.

use alloc::vec::Vec;

use bytes::Bytes;

use crate::ProtocolError;

use super::reader::Reader;
use super::wire::Wire;

/// What a stream must decode to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The frames, in order: wire id (0 without ids) and payload.
    pub(super) frames: Vec<(u64, Bytes)>,
    /// The protocol error that ends the stream.
    pub(super) error: Option<ProtocolError>,
    /// Bytes of an unfinished frame left at the end (0 after an error,
    /// which drops them).
    pub(super) rest: usize,
    /// How many bytes of the stream it takes to know the error: the core
    /// must fail as soon as they have arrived, not before.
    pub(super) error_at: usize,
}

impl Outcome {
    /// The frames, the error and the rest, without `error_at` (which a
    /// construction does not know).
    pub(super) fn result(&self) -> (&[(u64, Bytes)], Option<ProtocolError>, usize) {
        (&self.frames, self.error, self.rest)
    }
}

/// The reference decoder run over a whole stream.
pub(super) fn reference(wire: &Wire, stream: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let mut at = 0;
    loop {
        let buf = &stream[at..];
        match wire.decode(buf) {
            Err(e) => {
                // The shortest prefix of the header that shows the error.
                let known = (1..=buf.len())
                    .find(|&k| wire.decode(&buf[..k]).is_err())
                    .expect("the whole buffer shows it");
                out.error = Some(e);
                out.error_at = at + known;
                return out;
            }
            Ok(Some(h)) if buf.len() >= h.header_len + h.payload_len => {
                let end = h.header_len + h.payload_len;
                let payload = Bytes::copy_from_slice(&buf[h.header_len..end]);
                out.frames.push((h.id.0, payload));
                at += end;
            }
            Ok(_) => {
                out.rest = buf.len();
                return out;
            }
        }
    }
}

/// A stream of valid frames chosen by the input, ending, as the input
/// picks, with a bad header, a frame cut short, or nothing; with the
/// outcome the construction guarantees.
///
/// Each frame takes an op byte (`% 8`: 0–4 a frame; 5, 6, 7 a length too
/// short, too large, or negative (custom formats: a bad magic byte); 7
/// with bit 3 set, a frame cut short), then an id byte (ids near the
/// maximum from `0xf0`), a length byte (`0xf8..`: the maximum payload
/// minus 0–7 when it is at most 64 KiB; `0xc0..`: up to 63 × 64 bytes;
/// else up to 63) and up to 32 payload bytes (the rest is a pattern).
pub(super) fn generate(wire: &Wire, r: &mut Reader<'_>) -> (Vec<u8>, Outcome) {
    let mut stream = Vec::new();
    let mut out = Outcome::default();
    while !r.is_empty() && out.frames.len() < 64 {
        let op = r.u8();
        let kind = op % 8;
        if kind >= 5 && !(kind == 7 && op & 8 != 0) {
            let pick = u64::from(r.u16());
            if let Some((header, error)) = wire.bad_header(kind - 5, pick) {
                stream.extend_from_slice(&header);
                // Whatever follows a bad header must not matter.
                let n = r.below(16);
                stream.extend_from_slice(r.bytes(n));
                out.error = Some(error);
                return (stream, out);
            }
        }
        let id = pick_id(wire, r.u8());
        let payload = pick_payload(wire, r);
        let frame = wire.frame(id, &payload);
        if kind == 7 && op & 8 != 0 {
            let cut = usize::from(r.u16()) % frame.len();
            stream.extend_from_slice(&frame[..cut]);
            out.rest = cut;
            return (stream, out);
        }
        stream.extend_from_slice(&frame);
        out.frames
            .push((if wire.max_id().is_some() { id } else { 0 }, payload));
    }
    (stream, out)
}

fn pick_id(wire: &Wire, pick: u8) -> u64 {
    match wire.max_id() {
        None => 0,
        Some(max) if pick >= 0xf0 => max.saturating_sub(u64::from(pick & 0xf)),
        Some(max) => u64::from(pick) % max.saturating_add(1).max(1),
    }
}

fn pick_payload(wire: &Wire, r: &mut Reader<'_>) -> Bytes {
    let cap = wire.max_payload();
    let pick = r.u8();
    let len = match pick {
        0xf8.. if cap <= 1 << 16 => cap.saturating_sub(usize::from(pick & 7)),
        0xc0.. => usize::from(pick & 0x3f) * 64,
        _ => usize::from(pick & 0x3f),
    }
    .min(cap);
    let given = r.bytes(len.min(32));
    let payload: Vec<u8> = (0..len)
        .map(|i| given.get(i).copied().unwrap_or(i as u8))
        .collect();
    Bytes::from(payload)
}
