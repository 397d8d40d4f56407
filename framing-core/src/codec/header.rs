//! The header trait and the standard length + id header.

use crate::{ProtocolError, RpcId};

/// The longest header any format may write, in bytes.
pub const MAX_HEADER_LEN: usize = 32;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes the header occupies on the wire (length and id fields).
    pub header_len: usize,
    /// Bytes of payload that follow the header.
    pub payload_len: usize,
    /// The rpc id (0 when the format carries none).
    pub id: RpcId,
}

/// Why a frame could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The frame's length field would exceed the maximum.
    FrameTooLarge {
        /// The length field the frame would need.
        length: u64,
        /// The maximum.
        max: u64,
    },
    /// The id does not fit the id field.
    IdOutOfRange {
        /// The id given.
        id: RpcId,
        /// The largest id the field holds.
        max: u64,
    },
}

/// A fully custom frame header: implement it to read and write lengths and
/// ids in any layout (the Node library took reader/writer functions).
///
/// Rules the core relies on, and that implementations must keep:
/// - [`decode`](Self::decode) looks only at the bytes given, returns
///   `Ok(None)` while the header is incomplete, and never panics on any
///   input: bad input is an `Err`.
/// - the header it reports is at most [`MAX_HEADER_LEN`] bytes long, and
///   `payload_len` is at most [`max_payload_len`](Self::max_payload_len).
/// - [`encode`](Self::encode) writes at most [`MAX_HEADER_LEN`] bytes and
///   returns how many.
///
/// # Examples
///
/// A header of one length byte counting the payload, and no id
/// (FIFO matching):
///
/// ```
/// use framing_core::{Codec, EncodeError, FrameHeader, HeaderFormat, ProtocolError, RpcId};
///
/// #[derive(Debug)]
/// struct TinyHeader;
///
/// impl HeaderFormat for TinyHeader {
///     fn max_id(&self) -> Option<u64> { None }
///     fn max_payload_len(&self) -> usize { 255 }
///     fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
///         Ok(buf.first().map(|&n| FrameHeader { header_len: 1, payload_len: n as usize, id: RpcId(0) }))
///     }
///     fn encode(&self, _id: RpcId, payload_len: usize, out: &mut [u8]) -> Result<usize, EncodeError> {
///         let n = u8::try_from(payload_len)
///             .map_err(|_| EncodeError::FrameTooLarge { length: payload_len as u64, max: 255 })?;
///         out[0] = n;
///         Ok(1)
///     }
/// }
///
/// let codec = Codec::custom(TinyHeader);
/// assert!(!codec.has_ids());
/// ```
pub trait HeaderFormat: core::fmt::Debug + Send + Sync + 'static {
    /// The largest id the format carries, or `None` when it carries no id
    /// (responses then match calls in FIFO order).
    fn max_id(&self) -> Option<u64>;
    /// The largest payload a frame may carry.
    fn max_payload_len(&self) -> usize;
    /// Parses a header from the start of `buf`.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the bytes can never form a valid header.
    fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError>;
    /// Writes the header of a frame with this id and payload length into
    /// `out` (which holds [`MAX_HEADER_LEN`] bytes), returning its length.
    ///
    /// # Errors
    /// An [`EncodeError`] when the frame cannot be represented.
    fn encode(&self, id: RpcId, payload_len: usize, out: &mut [u8]) -> Result<usize, EncodeError>;
}

/// Byte order of a header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endian {
    /// Most significant byte first (network order; the default).
    #[default]
    Big,
    /// Least significant byte first.
    Little,
}

/// What the length field counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthCounts {
    /// Only the payload.
    Payload,
    /// The id field and the payload (the Node library's format; default).
    #[default]
    IdAndPayload,
    /// The whole frame, length field included.
    WholeFrame,
}

/// The built-in header: a length field followed by an id field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardHeader {
    pub(crate) len_bytes: usize,
    pub(crate) len_endian: Endian,
    pub(crate) len_signed: bool,
    pub(crate) counts: LengthCounts,
    pub(crate) id_bytes: usize,
    pub(crate) id_endian: Endian,
    /// Maximum value of the length field.
    pub(crate) max_length: u64,
}

#[inline]
fn read_uint(bytes: &[u8], endian: Endian) -> u64 {
    // The common widths as single loads; others byte by byte.
    match (bytes.len(), endian) {
        (4, Endian::Big) => {
            return u64::from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        (4, Endian::Little) => {
            return u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        (2, Endian::Big) => return u64::from(u16::from_be_bytes([bytes[0], bytes[1]])),
        (2, Endian::Little) => return u64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        _ => {}
    }
    let mut v = 0u64;
    match endian {
        Endian::Big => {
            for &b in bytes {
                v = (v << 8) | u64::from(b);
            }
        }
        Endian::Little => {
            for &b in bytes.iter().rev() {
                v = (v << 8) | u64::from(b);
            }
        }
    }
    v
}

fn write_uint(v: u64, out: &mut [u8], endian: Endian) {
    let n = out.len();
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = match endian {
            Endian::Big => 8 * (n - 1 - i),
            Endian::Little => 8 * i,
        };
        *slot = (v >> shift) as u8;
    }
}

/// Largest unsigned value of an `n`-byte field.
pub(crate) fn field_max(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

impl StandardHeader {
    /// Bytes of header on the wire.
    pub const fn header_len(&self) -> usize {
        self.len_bytes + self.id_bytes
    }

    /// What the length field adds on top of the payload.
    pub(crate) const fn overhead(&self) -> u64 {
        match self.counts {
            LengthCounts::Payload => 0,
            LengthCounts::IdAndPayload => self.id_bytes as u64,
            LengthCounts::WholeFrame => (self.len_bytes + self.id_bytes) as u64,
        }
    }

    /// The largest id the id field holds (`None` for a 0-byte field).
    pub fn max_id(&self) -> Option<u64> {
        (self.id_bytes > 0).then(|| field_max(self.id_bytes))
    }

    /// The largest payload a frame may carry.
    pub fn max_payload_len(&self) -> usize {
        usize::try_from(self.max_length - self.overhead()).unwrap_or(usize::MAX)
    }

    /// Parses a header; see [`HeaderFormat::decode`].
    ///
    /// # Errors
    /// A bad length, as [`ProtocolError`].
    #[inline]
    pub fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        let hl = self.header_len();
        if buf.len() < self.len_bytes {
            return Ok(None);
        }
        let raw = read_uint(&buf[..self.len_bytes], self.len_endian);
        if self.len_signed {
            let bits = 8 * self.len_bytes as u32;
            let signed = if bits == 64 {
                raw as i64
            } else {
                ((raw << (64 - bits)) as i64) >> (64 - bits)
            };
            if signed < 0 {
                return Err(ProtocolError::NegativeLength { length: signed });
            }
        }
        if raw > self.max_length {
            return Err(ProtocolError::LengthTooLarge {
                length: raw,
                max: self.max_length,
            });
        }
        let overhead = self.overhead();
        if raw < overhead {
            return Err(ProtocolError::LengthTooShort {
                length: raw,
                min: overhead,
            });
        }
        if buf.len() < hl {
            return Ok(None);
        }
        let id = read_uint(&buf[self.len_bytes..hl], self.id_endian);
        Ok(Some(FrameHeader {
            header_len: hl,
            // Cannot truncate: max_length fits usize (checked by the builder).
            payload_len: (raw - overhead) as usize,
            id: RpcId(id),
        }))
    }

    /// Writes a header; see [`HeaderFormat::encode`].
    ///
    /// # Errors
    /// A frame too large or an id out of range, as [`EncodeError`].
    #[inline]
    pub fn encode(
        &self,
        id: RpcId,
        payload_len: usize,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let length = (payload_len as u64).saturating_add(self.overhead());
        if length > self.max_length {
            return Err(EncodeError::FrameTooLarge {
                length,
                max: self.max_length,
            });
        }
        let max_id = field_max(self.id_bytes);
        if self.id_bytes > 0 && id.0 > max_id {
            return Err(EncodeError::IdOutOfRange { id, max: max_id });
        }
        let hl = self.header_len();
        write_uint(length, &mut out[..self.len_bytes], self.len_endian);
        write_uint(id.0, &mut out[self.len_bytes..hl], self.id_endian);
        Ok(hl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;

    #[test]
    fn reads_and_writes_fields_in_both_byte_orders() {
        let mut b = [0u8; 3];
        write_uint(0x010203, &mut b, Endian::Big);
        assert_eq!(b, [1, 2, 3]);
        assert_eq!(read_uint(&b, Endian::Big), 0x010203);
        write_uint(0x010203, &mut b, Endian::Little);
        assert_eq!(b, [3, 2, 1]);
        assert_eq!(read_uint(&b, Endian::Little), 0x010203);
    }

    #[test]
    fn default_header_matches_the_node_wire_format() {
        let codec = Codec::default();
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = codec.encode_header(RpcId(7), 3, &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0, 0, 7, 0, 0, 0, 7]);
        let h = codec.decode_header(&out[..n]).unwrap().unwrap();
        assert_eq!(
            h,
            FrameHeader {
                header_len: 8,
                payload_len: 3,
                id: RpcId(7)
            }
        );
    }

    #[test]
    fn negative_signed_length_is_a_protocol_error() {
        let codec = Codec::default();
        let err = codec
            .decode_header(&[0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 1])
            .unwrap_err();
        assert_eq!(err, ProtocolError::NegativeLength { length: -2 });
    }

    #[test]
    fn length_shorter_than_the_id_is_a_protocol_error() {
        let codec = Codec::default();
        let err = codec.decode_header(&[0, 0, 0, 3]).unwrap_err();
        assert_eq!(err, ProtocolError::LengthTooShort { length: 3, min: 4 });
    }

    #[test]
    fn length_above_the_maximum_is_a_protocol_error_before_the_id_arrives() {
        let codec = Codec::builder().max_frame_length(100).build().unwrap();
        let err = codec.decode_header(&[0, 0, 0, 101]).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::LengthTooLarge {
                length: 101,
                max: 100
            }
        );
    }

    #[test]
    fn incomplete_headers_wait_for_more_bytes() {
        let codec = Codec::default();
        assert_eq!(codec.decode_header(&[0, 0]).unwrap(), None);
        assert_eq!(codec.decode_header(&[0, 0, 0, 4, 0]).unwrap(), None);
    }
}
