//! The bytes between the two cores as the model sees them: each core's
//! queue of unwritten frames and each core's read buffer, with where
//! every byte came from (a frame a core queued, or bytes the test
//! injected). A frame the reference decoder reads is "whole" when its
//! bytes are exactly one queued frame's bytes; injected bytes, or a frame
//! boundary they shifted, make it garbled.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::ProtocolError;

use super::wire::Wire;

/// Which queued frame a byte belongs to, and what the frame was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tag {
    /// Unique per queued frame.
    pub(super) serial: u64,
    /// What the frame carries.
    pub(super) kind: TagKind,
}

/// What a queued frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagKind {
    /// The request of the call with this context.
    Request {
        /// The call's context.
        ctx: u64,
    },
    /// A response.
    Response {
        /// The call whose request it answers (`None`: a request no call
        /// sent whole, or an id no request had).
        answers: Option<u64>,
        /// That request was answered before (a duplicate answer).
        again: bool,
        /// The server had decoded only whole requests so far, so its
        /// request numbering was the client's call numbering.
        in_step: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// Bytes of a queued frame of `total` bytes, from `offset` on.
    Frame {
        tag: Tag,
        offset: usize,
        total: usize,
    },
    /// Bytes the test injected.
    Injected,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    len: usize,
    src: Src,
}

/// Bytes on their way from one core to the other, with their origin.
#[derive(Debug, Default)]
pub(super) struct Piece {
    /// The bytes.
    pub(super) bytes: Vec<u8>,
    runs: Vec<Run>,
}

impl Piece {
    /// Bytes the test injects.
    pub(super) fn injected(bytes: &[u8]) -> Self {
        Piece {
            bytes: bytes.to_vec(),
            runs: alloc::vec![Run {
                len: bytes.len(),
                src: Src::Injected,
            }],
        }
    }

    /// Splits off the first `n` bytes.
    pub(super) fn take_front(&mut self, n: usize) -> Piece {
        let rest = self.bytes.split_off(n);
        let front = core::mem::replace(&mut self.bytes, rest);
        let mut runs = Vec::new();
        let mut left = n;
        while left > 0 {
            let run = &mut self.runs[0];
            let k = run.len.min(left);
            runs.push(Run { len: k, ..*run });
            left -= k;
            run.len -= k;
            if let Src::Frame { offset, .. } = &mut run.src {
                *offset += k;
            }
            if run.len == 0 {
                self.runs.remove(0);
            }
        }
        Piece { bytes: front, runs }
    }
}

/// A core's unwritten frames, oldest first.
#[derive(Debug, Default)]
pub(super) struct OutQueue {
    /// Each frame's bytes, tag, and bytes already written.
    frames: VecDeque<(Vec<u8>, Tag, usize)>,
    len: usize,
}

impl OutQueue {
    /// Unwritten bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, bytes: Vec<u8>, tag: Tag) {
        self.len += bytes.len();
        self.frames.push_back((bytes, tag, 0));
    }

    pub(super) fn clear(&mut self) {
        self.frames.clear();
        self.len = 0;
    }

    /// Takes `n` bytes (at most what is queued) off the front into `into`.
    pub(super) fn take(&mut self, n: usize, into: &mut Piece) {
        let mut left = n.min(self.len);
        self.len -= left;
        while left > 0 {
            let (bytes, tag, sent) = self.frames.front_mut().expect("len counts the frames");
            let k = (bytes.len() - *sent).min(left);
            into.bytes.extend_from_slice(&bytes[*sent..*sent + k]);
            into.runs.push(Run {
                len: k,
                src: Src::Frame {
                    tag: *tag,
                    offset: *sent,
                    total: bytes.len(),
                },
            });
            *sent += k;
            left -= k;
            if *sent == bytes.len() {
                self.frames.pop_front();
            }
        }
    }
}

/// A frame the reference decoder read from a core's read buffer.
#[derive(Debug)]
pub(super) struct Decoded {
    /// The wire id (0 without ids).
    pub(super) id: u64,
    pub(super) payload: Bytes,
    /// The queued frame it is, when whole.
    pub(super) tag: Option<Tag>,
}

/// A core's received bytes not yet framed.
#[derive(Debug, Default)]
pub(super) struct InBuf {
    bytes: Vec<u8>,
    runs: VecDeque<Run>,
}

impl InBuf {
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.runs.clear();
    }

    pub(super) fn push(&mut self, piece: &Piece) {
        self.bytes.extend_from_slice(&piece.bytes);
        for run in &piece.runs {
            if let Some(last) = self.runs.back_mut() {
                if let (
                    Src::Frame { tag, offset, .. },
                    Src::Frame {
                        tag: t, offset: o, ..
                    },
                ) = (last.src, run.src)
                {
                    if tag.serial == t.serial && offset + last.len == o {
                        last.len += run.len;
                        continue;
                    }
                }
            }
            self.runs.push_back(*run);
        }
    }

    /// The next frame by the reference decoder, taken out of the buffer;
    /// `Ok(None)` while incomplete. An error leaves the buffer as it is.
    pub(super) fn next_frame(&mut self, wire: &Wire) -> Result<Option<Decoded>, ProtocolError> {
        let Some(h) = wire.decode(&self.bytes)? else {
            return Ok(None);
        };
        let total = h.header_len + h.payload_len;
        if self.bytes.len() < total {
            return Ok(None);
        }
        let front = self.runs.front().expect("runs cover the bytes");
        let tag = match front.src {
            Src::Frame {
                tag,
                offset: 0,
                total: t,
            } if t == total && front.len >= total => Some(tag),
            _ => None,
        };
        let payload = Bytes::copy_from_slice(&self.bytes[h.header_len..total]);
        self.bytes.drain(..total);
        let mut left = total;
        while left > 0 {
            let run = self.runs.front_mut().expect("runs cover the bytes");
            let k = run.len.min(left);
            left -= k;
            run.len -= k;
            if let Src::Frame { offset, .. } = &mut run.src {
                *offset += k;
            }
            if run.len == 0 {
                self.runs.pop_front();
            }
        }
        Ok(Some(Decoded {
            id: h.id.0,
            payload,
            tag,
        }))
    }
}
