//! The wire format: how a frame's header is read and written.
//!
//! ```text
//! default (the Node `framing-socket` format), all integers big-endian:
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n: it counts the rpc id and the payload, not itself
//! ```
//!
//! [`Codec::builder`] changes the field sizes, byte orders, what the length
//! counts and the maximum frame length; [`Codec::custom`] takes any
//! [`HeaderFormat`].

mod builder;
pub(crate) mod decoder;
mod header;
pub(crate) mod write_queue;

use alloc::sync::Arc;

pub use builder::CodecBuilder;
pub(crate) use decoder::Decoder;
pub use header::{
    EncodeError, Endian, FrameHeader, HeaderFormat, LengthCounts, StandardHeader, MAX_HEADER_LEN,
};
pub(crate) use write_queue::WriteQueue;

use crate::{ProtocolError, RpcId};

/// Default maximum frame length: 8 MiB, as tokio-util's
/// `LengthDelimitedCodec` (the Node library had no limit at all).
pub const DEFAULT_MAX_FRAME_LENGTH: u64 = 8 * 1024 * 1024;

/// A frame format: the standard length + id header with checked settings,
/// or a custom [`HeaderFormat`]. Cheap to clone.
///
/// # Examples
///
/// ```
/// use framing_core::{Codec, Endian, LengthCounts};
///
/// // 2-byte little-endian length counting only the payload, no id (FIFO).
/// let codec = Codec::builder()
///     .length_field_len(2)
///     .length_endian(Endian::Little)
///     .length_counts(LengthCounts::Payload)
///     .id_field_len(0)
///     .build()
///     .unwrap();
/// assert_eq!(codec.max_id(), None);
/// assert_eq!(codec.max_payload_len(), 0x7fff); // signed 16-bit length
/// ```
#[derive(Debug, Clone)]
pub struct Codec {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Standard(StandardHeader),
    Custom(Arc<dyn HeaderFormat>),
}

impl Default for Codec {
    /// The Node library's format: 4-byte big-endian signed length counting
    /// id and payload, 4-byte big-endian id, 8 MiB maximum.
    fn default() -> Self {
        Codec::builder()
            .build()
            .expect("the default codec configuration is valid")
    }
}

impl Codec {
    /// A builder starting from the defaults.
    pub fn builder() -> CodecBuilder {
        CodecBuilder::new()
    }

    /// A codec using a custom header format.
    pub fn custom(format: impl HeaderFormat) -> Self {
        Codec {
            kind: Kind::Custom(Arc::new(format)),
        }
    }

    pub(crate) fn from_standard(h: StandardHeader) -> Self {
        Codec {
            kind: Kind::Standard(h),
        }
    }

    /// The standard header's settings, unless the codec is custom.
    pub fn standard(&self) -> Option<&StandardHeader> {
        match &self.kind {
            Kind::Standard(h) => Some(h),
            Kind::Custom(_) => None,
        }
    }

    /// Whether frames carry an rpc id (otherwise responses match in FIFO order).
    pub fn has_ids(&self) -> bool {
        self.max_id().is_some()
    }

    /// The largest id the format carries, `None` without ids.
    pub fn max_id(&self) -> Option<u64> {
        match &self.kind {
            Kind::Standard(h) => h.max_id(),
            Kind::Custom(c) => c.max_id(),
        }
    }

    /// The largest payload a frame may carry.
    pub fn max_payload_len(&self) -> usize {
        match &self.kind {
            Kind::Standard(h) => h.max_payload_len(),
            Kind::Custom(c) => c.max_payload_len(),
        }
    }

    /// Parses a header from the start of `buf`: `Ok(None)` while incomplete.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the bytes can never form a valid header.
    #[inline]
    pub fn decode_header(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        match &self.kind {
            Kind::Standard(h) => h.decode(buf),
            Kind::Custom(c) => {
                let r = c.decode(buf)?;
                if let Some(h) = r {
                    if h.header_len > MAX_HEADER_LEN || h.header_len == 0 {
                        return Err(ProtocolError::InvalidHeader {
                            reason: "custom header length out of range",
                        });
                    }
                    if h.payload_len > c.max_payload_len() {
                        return Err(ProtocolError::LengthTooLarge {
                            length: h.payload_len as u64,
                            max: c.max_payload_len() as u64,
                        });
                    }
                }
                Ok(r)
            }
        }
    }

    /// Writes the header for a frame into `out`, returning its length.
    ///
    /// # Errors
    /// An [`EncodeError`] when the frame cannot be represented.
    #[inline]
    pub fn encode_header(
        &self,
        id: RpcId,
        payload_len: usize,
        out: &mut [u8; MAX_HEADER_LEN],
    ) -> Result<usize, EncodeError> {
        match &self.kind {
            Kind::Standard(h) => h.encode(id, payload_len, out),
            Kind::Custom(c) => {
                if payload_len > c.max_payload_len() {
                    return Err(EncodeError::FrameTooLarge {
                        length: payload_len as u64,
                        max: c.max_payload_len() as u64,
                    });
                }
                let n = c.encode(id, payload_len, out)?;
                Ok(n.min(MAX_HEADER_LEN))
            }
        }
    }
}
