//! The harnesses' own account of a standard header: read from the same
//! fuzz bytes as [`codec_from`](super::codec_from), with a reference
//! encoder and decoder written from the behaviour contract (a length
//! field, then an id field; a negative, too short or too large length is
//! a protocol error that names the length and the limit), not from
//! `codec/header.rs`. The oracles compare the core against it.

use alloc::vec::Vec;

use crate::{Codec, Endian, FrameHeader, LengthCounts, ProtocolError, RpcId};

use super::reader::Reader;

/// A standard header's settings, as the fuzz input chose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StdSpec {
    len_bytes: usize,
    len_le: bool,
    signed: bool,
    /// What the length field counts beyond the payload.
    overhead: u64,
    id_bytes: usize,
    id_le: bool,
    /// The largest length field value accepted.
    max_length: u64,
}

/// The largest unsigned value of an `n`-byte field.
pub(super) fn field_max(n: usize) -> u64 {
    u64::MAX >> (64 - 8 * n as u32)
}

/// Reads an `n`-byte unsigned field.
pub(super) fn read_field(bytes: &[u8], le: bool) -> u64 {
    let mut be = [0u8; 8];
    let at = 8 - bytes.len();
    be[at..].copy_from_slice(bytes);
    if le {
        be[at..].reverse();
    }
    u64::from_be_bytes(be)
}

/// Appends `v` as an `n`-byte field (its low `n` bytes).
pub(super) fn write_field(v: u64, n: usize, le: bool, out: &mut Vec<u8>) {
    let be = v.to_be_bytes();
    let field = &be[8 - n..];
    if le {
        out.extend(field.iter().rev());
    } else {
        out.extend_from_slice(field);
    }
}

/// Reads the codec (three bytes, as [`codec_from`](super::codec_from)
/// documents) and the spec of the same header.
pub(super) fn std_from(r: &mut Reader<'_>) -> (StdSpec, Codec) {
    let a = r.u8();
    let b = r.u8();
    let max_choice = r.u8();
    let endian = |le: bool| if le { Endian::Little } else { Endian::Big };
    let len_bytes = 1 + usize::from(a & 7);
    let id_bytes = usize::from(b % 9);
    let (counts, overhead) = match (a >> 5) % 3 {
        0 => (LengthCounts::Payload, 0),
        1 => (LengthCounts::IdAndPayload, id_bytes as u64),
        _ => (LengthCounts::WholeFrame, (len_bytes + id_bytes) as u64),
    };
    let wanted = match max_choice & 3 {
        0 => u64::from(max_choice >> 2),
        1 => 1u64.checked_shl(u32::from(max_choice >> 2)).unwrap_or(0),
        2 => 16 + 64 * u64::from(max_choice >> 2),
        _ => u64::MAX,
    };
    let signed = a & 16 != 0;
    // The contract: the maximum is clipped to what the field holds (half
    // the range when signed) and to what memory can address; a maximum
    // below the header parts it counts is refused, and the reader then
    // falls back to the field's own limit.
    let field_limit = if signed {
        field_max(len_bytes) >> 1
    } else {
        field_max(len_bytes)
    }
    .min(isize::MAX as u64);
    let max_length = match wanted.min(field_limit) {
        m if m < overhead => field_limit,
        m => m,
    };
    let spec = StdSpec {
        len_bytes,
        len_le: a & 8 != 0,
        signed,
        overhead,
        id_bytes,
        id_le: b & 16 != 0,
        max_length,
    };
    let builder = Codec::builder()
        .length_field_len(len_bytes)
        .length_endian(endian(spec.len_le))
        .length_signed(signed)
        .length_counts(counts)
        .id_field_len(id_bytes)
        .id_endian(endian(spec.id_le));
    let codec = match builder.clone().max_frame_length(wanted).build() {
        Ok(codec) => codec,
        Err(_) => builder
            .max_frame_length(u64::MAX)
            .build()
            .expect("the field's limit holds any header"),
    };
    assert_eq!(
        codec.max_payload_len() as u64,
        max_length - overhead,
        "the builder's maximum differs from the contract's for {spec:?}"
    );
    assert_eq!(codec.max_id(), spec.max_id(), "id range of {spec:?}");
    (spec, codec)
}

impl StdSpec {
    /// Header bytes on the wire.
    pub(super) fn header_len(&self) -> usize {
        self.len_bytes + self.id_bytes
    }

    /// The largest id, `None` without an id field.
    pub(super) fn max_id(&self) -> Option<u64> {
        (self.id_bytes > 0).then(|| field_max(self.id_bytes))
    }

    /// The largest payload.
    pub(super) fn max_payload(&self) -> usize {
        usize::try_from(self.max_length - self.overhead).unwrap_or(usize::MAX)
    }

    /// The length field a payload of `len` bytes needs, and the maximum,
    /// when it is too large.
    pub(super) fn too_large(&self, len: usize) -> Option<(u64, u64)> {
        let length = (len as u64).saturating_add(self.overhead);
        (length > self.max_length).then_some((length, self.max_length))
    }

    /// Appends the frame's bytes to `out`.
    pub(super) fn encode(&self, id: u64, payload: &[u8], out: &mut Vec<u8>) {
        let length = payload.len() as u64 + self.overhead;
        write_field(length, self.len_bytes, self.len_le, out);
        write_field(id, self.id_bytes, self.id_le, out);
        out.extend_from_slice(payload);
    }

    /// The reference decoder: the header at the start of `buf`, `Ok(None)`
    /// while incomplete. A bad length is an error as soon as the length
    /// field is complete, before the id arrives (a peer must not be able
    /// to hold the error back).
    pub(super) fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        let Some(field) = buf.get(..self.len_bytes) else {
            return Ok(None);
        };
        let raw = read_field(field, self.len_le);
        let bits = 8 * self.len_bytes as u32;
        if self.signed && (raw >> (bits - 1)) & 1 == 1 {
            let length = (i128::from(raw) - (1i128 << bits)) as i64;
            return Err(ProtocolError::NegativeLength { length });
        }
        if raw > self.max_length {
            return Err(ProtocolError::LengthTooLarge {
                length: raw,
                max: self.max_length,
            });
        }
        if raw < self.overhead {
            return Err(ProtocolError::LengthTooShort {
                length: raw,
                min: self.overhead,
            });
        }
        let Some(id) = buf.get(self.len_bytes..self.header_len()) else {
            return Ok(None);
        };
        Ok(Some(FrameHeader {
            header_len: self.header_len(),
            payload_len: (raw - self.overhead) as usize,
            id: RpcId(read_field(id, self.id_le)),
        }))
    }

    /// A header the contract says is bad, of the kind `kind` picks (too
    /// short, too large, negative), with the exact error it must get; `None`
    /// when the codec has no such value (no overhead to fall short of, a
    /// maximum at the field's limit, an unsigned field).
    pub(super) fn bad_header(&self, kind: u8, pick: u64) -> Option<(Vec<u8>, ProtocolError)> {
        let field_limit = if self.signed {
            field_max(self.len_bytes) >> 1
        } else {
            field_max(self.len_bytes)
        };
        let (raw, error) = match kind % 3 {
            0 if self.overhead > 0 => {
                let length = pick % self.overhead;
                let min = self.overhead;
                (length, ProtocolError::LengthTooShort { length, min })
            }
            1 if self.max_length < field_limit => {
                let length = self.max_length + 1 + pick % (field_limit - self.max_length);
                let max = self.max_length;
                (length, ProtocolError::LengthTooLarge { length, max })
            }
            2 if self.signed => {
                // Top bit set: -1 down to the field's most negative value.
                let below = pick % (field_limit + 1);
                let raw = field_max(self.len_bytes) - below;
                (
                    raw,
                    ProtocolError::NegativeLength {
                        length: -1 - below as i64,
                    },
                )
            }
            _ => return None,
        };
        let mut out = Vec::new();
        write_field(raw, self.len_bytes, self.len_le, &mut out);
        // The id field: a bad length must fail whatever follows it.
        write_field(pick, self.id_bytes, self.id_le, &mut out);
        Some((out, error))
    }
}
