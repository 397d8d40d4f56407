//! The frame format as the models see it: the standard header's spec, or
//! the fuzz-chosen custom format (which is its own spec, plus the checks
//! the core makes on any custom format).

use alloc::vec::Vec;

use crate::{FrameHeader, HeaderFormat, ProtocolError, RpcId, MAX_HEADER_LEN};

use super::custom::FuzzHeader;
use super::spec::StdSpec;

/// A frame format, for the models.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wire {
    /// A standard header.
    Std(StdSpec),
    /// A custom [`HeaderFormat`].
    Custom(FuzzHeader),
}

impl Wire {
    /// Header bytes on the wire.
    pub(super) fn header_len(&self) -> usize {
        match self {
            Wire::Std(s) => s.header_len(),
            Wire::Custom(h) => h.header_len(),
        }
    }

    /// The largest id, `None` without ids (FIFO matching).
    pub(super) fn max_id(&self) -> Option<u64> {
        match self {
            Wire::Std(s) => s.max_id(),
            Wire::Custom(h) => h.max_id(),
        }
    }

    /// The largest payload.
    pub(super) fn max_payload(&self) -> usize {
        match self {
            Wire::Std(s) => s.max_payload(),
            Wire::Custom(h) => h.max_payload_len(),
        }
    }

    /// The largest frame, header included.
    pub(super) fn frame_limit(&self) -> usize {
        self.header_len().saturating_add(self.max_payload())
    }

    /// `(length, max)` of the `FrameTooLarge` a payload of `len` bytes
    /// gets, if it is too large.
    pub(super) fn too_large(&self, len: usize) -> Option<(u64, u64)> {
        match self {
            Wire::Std(s) => s.too_large(len),
            Wire::Custom(h) => {
                let max = h.max_payload_len();
                (len > max).then_some((len as u64, max as u64))
            }
        }
    }

    /// The bytes of a frame (`id` is ignored without ids).
    pub(super) fn frame(&self, id: u64, payload: &[u8]) -> Vec<u8> {
        let id = if self.max_id().is_some() { id } else { 0 };
        let mut out = Vec::with_capacity(self.header_len() + payload.len());
        match self {
            Wire::Std(s) => s.encode(id, payload, &mut out),
            Wire::Custom(h) => {
                let mut header = [0u8; MAX_HEADER_LEN];
                let n = h
                    .encode(RpcId(id), payload.len(), &mut header)
                    .expect("the model encodes only frames that fit");
                out.extend_from_slice(&header[..n]);
                out.extend_from_slice(payload);
            }
        }
        out
    }

    /// The reference decoder: what the core must make of the bytes at the
    /// start of `buf`.
    pub(super) fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        match self {
            Wire::Std(s) => s.decode(buf),
            Wire::Custom(h) => h.reference(buf),
        }
    }

    /// A bad header of the kind `kind` picks and the exact error it gets.
    pub(super) fn bad_header(&self, kind: u8, pick: u64) -> Option<(Vec<u8>, ProtocolError)> {
        match self {
            Wire::Std(s) => s.bad_header(kind, pick),
            Wire::Custom(h) => h.bad_header(kind, pick),
        }
    }
}
