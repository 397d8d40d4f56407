//! A [`HeaderFormat`] laid out by the fuzz input, written on the trait
//! itself (not through the standard header): an optional magic byte, the
//! id field before or after the length field, 1–4 length bytes and 0–8 id
//! bytes in either byte order, a length counting the payload or the whole
//! frame, and a maximum payload. A "lax" format leaves the maximum to the
//! core, which must enforce it (the trait's rules say a format reports at
//! most `max_payload_len`; the core checks rather than trusts).

use alloc::vec::Vec;

use crate::{Codec, EncodeError, FrameHeader, HeaderFormat, ProtocolError, RpcId};

use super::reader::Reader;
use super::report::Report;
use super::spec::{field_max, read_field, write_field};
use super::wire::Wire;
use super::{decode, ops};

/// A frame format chosen by the input, written on [`HeaderFormat`], through
/// a server and a client core; panics when a core does anything but what
/// the format and the contract say. See [`custom_header_report`].
pub fn custom_header(data: &[u8]) {
    let _ = custom_header_report(data);
}

/// [`custom_header`], returning what happened.
///
/// The first bytes choose the format (bits of the first byte: 0–1 length
/// field of 1–4 bytes, 2 little-endian, 3 id field first, 4 the length
/// counts the header, 5 the format leaves its maximum to the core, 6 a
/// magic byte follows the third byte; second byte: id field of `% 9`
/// bytes, bit 4 little-endian; third byte: maximum payload, its square,
/// 0 for the field's limit). The next byte's low bit picks the
/// harness, with the oracles of [`decode_report`](super::decode_report)
/// (0) or of [`run_ops_report`](super::run_ops_report) (1) over this
/// format; the rest is that harness's input after its codec bytes.
pub fn custom_header_report(data: &[u8]) -> Report {
    let mut r = Reader::new(data);
    let header = FuzzHeader::from_reader(&mut r);
    let codec = Codec::custom(header);
    assert_eq!(codec.max_id(), header.max_id(), "the codec's id range");
    assert_eq!(codec.max_payload_len(), header.max_payload, "its maximum");
    let wire = Wire::Custom(header);
    if r.u8() & 1 == 0 {
        decode::run(wire, codec, &mut r)
    } else {
        ops::run(wire, codec, &mut r)
    }
}

/// Why a header with a wrong magic byte is refused.
pub(super) const BAD_MAGIC: &str = "bad magic byte";

/// The fuzz-chosen header format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FuzzHeader {
    magic: Option<u8>,
    id_first: bool,
    len_bytes: usize,
    len_le: bool,
    id_bytes: usize,
    id_le: bool,
    /// The length counts the header too (otherwise only the payload).
    counts_header: bool,
    max_payload: usize,
    /// `decode` does not check `max_payload` itself.
    lax: bool,
}

impl FuzzHeader {
    /// Reads a format: three bytes, and a fourth for the magic byte.
    pub(super) fn from_reader(r: &mut Reader<'_>) -> Self {
        let a = r.u8();
        let b = r.u8();
        let m = r.u8();
        let magic = (a & 64 != 0).then(|| r.u8());
        let len_bytes = 1 + usize::from(a & 3);
        let id_bytes = usize::from(b % 9);
        let mut h = FuzzHeader {
            magic,
            id_first: a & 8 != 0,
            len_bytes,
            len_le: a & 4 != 0,
            id_bytes,
            id_le: b & 16 != 0,
            counts_header: a & 16 != 0,
            max_payload: 0,
            lax: a & 32 != 0,
        };
        let room = field_max(len_bytes) - h.overhead();
        h.max_payload = match m {
            0 => room,
            m => room.min(u64::from(m) * u64::from(m)),
        } as usize;
        h
    }

    /// Header bytes on the wire.
    pub(super) fn header_len(&self) -> usize {
        usize::from(self.magic.is_some()) + self.len_bytes + self.id_bytes
    }

    fn overhead(&self) -> u64 {
        if self.counts_header {
            self.header_len() as u64
        } else {
            0
        }
    }

    /// Where the length field and the id field start.
    fn offsets(&self) -> (usize, usize) {
        let start = usize::from(self.magic.is_some());
        if self.id_first {
            (start + self.id_bytes, start)
        } else {
            (start, start + self.len_bytes)
        }
    }

    /// Appends a header with this raw length field and id.
    fn write(&self, raw: u64, id: u64, out: &mut Vec<u8>) {
        out.extend(self.magic);
        if self.id_first {
            write_field(id, self.id_bytes, self.id_le, out);
        }
        write_field(raw, self.len_bytes, self.len_le, out);
        if !self.id_first {
            write_field(id, self.id_bytes, self.id_le, out);
        }
    }

    /// The exact error the core reports for a payload length this format
    /// lets through but the core must refuse (a lax format), or that the
    /// format itself reports.
    fn too_long(&self, raw: u64, payload_len: u64) -> ProtocolError {
        if self.lax {
            ProtocolError::LengthTooLarge {
                length: payload_len,
                max: self.max_payload as u64,
            }
        } else {
            ProtocolError::LengthTooLarge {
                length: raw,
                max: self.max_payload as u64 + self.overhead(),
            }
        }
    }

    /// What the core must make of `buf`: this format's answer, then the
    /// core's own check of the payload length (header lengths are always
    /// within `1..=MAX_HEADER_LEN` here).
    pub(super) fn reference(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        let h = self.decode(buf)?;
        if let Some(h) = h {
            if h.payload_len > self.max_payload {
                return Err(ProtocolError::LengthTooLarge {
                    length: h.payload_len as u64,
                    max: self.max_payload as u64,
                });
            }
        }
        Ok(h)
    }

    /// A header this format (or the core) refuses, of the kind `kind`
    /// picks, with its exact error; `None` when the format has no such
    /// value.
    pub(super) fn bad_header(&self, kind: u8, pick: u64) -> Option<(Vec<u8>, ProtocolError)> {
        let mut out = Vec::new();
        let error = match kind % 3 {
            0 if self.overhead() > 0 => {
                let length = pick % self.overhead();
                self.write(length, pick, &mut out);
                let min = self.overhead();
                ProtocolError::LengthTooShort { length, min }
            }
            1 if self.max_payload as u64 + self.overhead() < field_max(self.len_bytes) => {
                let first = self.max_payload as u64 + self.overhead() + 1;
                let raw = first + pick % (field_max(self.len_bytes) - first + 1);
                self.write(raw, pick, &mut out);
                self.too_long(raw, raw - self.overhead())
            }
            2 => {
                let magic = self.magic?;
                out.push(magic ^ (1 + (pick as u8 % 255)));
                ProtocolError::InvalidHeader { reason: BAD_MAGIC }
            }
            _ => return None,
        };
        Some((out, error))
    }
}

impl HeaderFormat for FuzzHeader {
    fn max_id(&self) -> Option<u64> {
        (self.id_bytes > 0).then(|| field_max(self.id_bytes))
    }

    fn max_payload_len(&self) -> usize {
        self.max_payload
    }

    fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        if let (Some(magic), Some(&first)) = (self.magic, buf.first()) {
            if first != magic {
                return Err(ProtocolError::InvalidHeader { reason: BAD_MAGIC });
            }
        }
        let header_len = self.header_len();
        let Some(header) = buf.get(..header_len) else {
            return Ok(None);
        };
        let (len_at, id_at) = self.offsets();
        let raw = read_field(&header[len_at..len_at + self.len_bytes], self.len_le);
        let id = read_field(&header[id_at..id_at + self.id_bytes], self.id_le);
        let min = self.overhead();
        if raw < min {
            return Err(ProtocolError::LengthTooShort { length: raw, min });
        }
        let payload_len = raw - min;
        if !self.lax && payload_len > self.max_payload as u64 {
            return Err(self.too_long(raw, payload_len));
        }
        Ok(Some(FrameHeader {
            header_len,
            payload_len: payload_len as usize,
            id: RpcId(id),
        }))
    }

    fn encode(&self, id: RpcId, payload_len: usize, out: &mut [u8]) -> Result<usize, EncodeError> {
        if let Some(max) = self.max_id().filter(|&max| id.0 > max) {
            return Err(EncodeError::IdOutOfRange { id, max });
        }
        let mut header = Vec::with_capacity(self.header_len());
        self.write(payload_len as u64 + self.overhead(), id.0, &mut header);
        out[..header.len()].copy_from_slice(&header);
        Ok(header.len())
    }
}
