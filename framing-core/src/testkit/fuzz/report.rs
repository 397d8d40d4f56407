//! What a harness run saw happen, so that the corpus replay can check
//! that each seed does what its name says.

use alloc::collections::BTreeMap;
use core::fmt;

use crate::{CallError, DisconnectReason, ProtocolError, RespondError};

/// Something a harness run saw happen. Errors are named by their variant
/// (`"NoFreeId"`, `"LengthTooLarge"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Seen {
    /// The server core decoded a request.
    Request,
    /// The server core decoded a frame exactly as large as the codec allows.
    FrameAtMax,
    /// A call completed with its response.
    Answered,
    /// A call completed with this [`CallError`].
    Failed(&'static str),
    /// A call was refused at once with this [`CallError`].
    Refused(&'static str),
    /// `respond` refused with this [`RespondError`].
    RespondRefused(&'static str),
    /// A call was cancelled.
    Cancelled,
    /// A [`ProtocolError`] event, on the server or the client.
    ProtocolError {
        /// On the server core.
        server: bool,
        /// The variant.
        kind: &'static str,
    },
    /// A `Disconnected` event with this [`DisconnectReason`].
    Disconnected {
        /// On the server core.
        server: bool,
        /// The variant.
        kind: &'static str,
    },
    /// A `Pause` event.
    Pause {
        /// On the server core.
        server: bool,
    },
    /// A `Resume` event.
    Resume {
        /// On the server core.
        server: bool,
    },
    /// An `IdleTimeout` event.
    IdleTimeout {
        /// On the server core.
        server: bool,
    },
    /// A response matched no pending call.
    UnknownResponse {
        /// Its call had recently been cancelled or timed out.
        late: bool,
    },
    /// A graceful shutdown finished: the core closed without `close()`.
    ShutdownFinished {
        /// On the server core.
        server: bool,
    },
    /// A graceful shutdown's deadline closed what was left.
    ShutdownDeadline {
        /// On the server core.
        server: bool,
    },
    /// Bytes of an unfinished frame were left when the input ended.
    Unfinished,
}

/// What a harness run saw, with how often.
///
/// # Examples
///
/// ```
/// use framing_core::testkit::fuzz::{self, Seen};
///
/// // A 4-byte big-endian length of 300 under a 1-byte id field, max 40.
/// let report = fuzz::decode_report(&[0x23, 0x01, 40 << 2, 0, 0, 0, 0, 0x01, 0x2c, 0]);
/// assert_eq!(report.count(Seen::ProtocolError { server: true, kind: "LengthTooLarge" }), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    seen: BTreeMap<Seen, u64>,
}

impl Report {
    /// How often `what` happened.
    pub fn count(&self, what: Seen) -> u64 {
        self.seen.get(&what).copied().unwrap_or(0)
    }

    /// Whether `what` happened at least once.
    pub fn saw(&self, what: Seen) -> bool {
        self.count(what) > 0
    }

    /// Everything that happened, with counts.
    pub fn iter(&self) -> impl Iterator<Item = (Seen, u64)> + '_ {
        self.seen.iter().map(|(&s, &n)| (s, n))
    }

    pub(super) fn add(&mut self, what: Seen) {
        *self.seen.entry(what).or_insert(0) += 1;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (what, n)) in self.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{what:?} x{n}")?;
        }
        Ok(())
    }
}

/// The variant of a [`CallError`].
pub(super) fn call_error_name(e: &CallError) -> &'static str {
    match e {
        CallError::BufferFull { .. } => "BufferFull",
        CallError::DuplicateRpcId(_) => "DuplicateRpcId",
        CallError::IdOutOfRange { .. } => "IdOutOfRange",
        CallError::NoFreeId => "NoFreeId",
        CallError::IdsNotSupported => "IdsNotSupported",
        CallError::FrameTooLarge { .. } => "FrameTooLarge",
        CallError::ShuttingDown => "ShuttingDown",
        CallError::WrongRole => "WrongRole",
        CallError::DeadlineExceeded => "DeadlineExceeded",
        CallError::Closed => "Closed",
        CallError::Disconnected(_) => "Disconnected",
        CallError::FailedByUser => "FailedByUser",
        CallError::Protocol(_) => "Protocol",
    }
}

/// The variant of a [`ProtocolError`].
pub(super) fn protocol_name(e: &ProtocolError) -> &'static str {
    match e {
        ProtocolError::LengthTooShort { .. } => "LengthTooShort",
        ProtocolError::LengthTooLarge { .. } => "LengthTooLarge",
        ProtocolError::NegativeLength { .. } => "NegativeLength",
        ProtocolError::UnknownResponseId { .. } => "UnknownResponseId",
        ProtocolError::InvalidHeader { .. } => "InvalidHeader",
    }
}

/// The variant of a [`DisconnectReason`].
pub(super) fn disconnect_name(r: &DisconnectReason) -> &'static str {
    match r {
        DisconnectReason::PeerClosed => "PeerClosed",
        DisconnectReason::PeerClosedMidFrame { .. } => "PeerClosedMidFrame",
        DisconnectReason::Io(_) => "Io",
        DisconnectReason::NotConnected => "NotConnected",
    }
}

/// The variant of a [`RespondError`].
pub(super) fn respond_error_name(e: &RespondError) -> &'static str {
    match e {
        RespondError::WrongRole => "WrongRole",
        RespondError::IdOutOfRange { .. } => "IdOutOfRange",
        RespondError::UnknownRequest(_) => "UnknownRequest",
        RespondError::FrameTooLarge { .. } => "FrameTooLarge",
        RespondError::Closed => "Closed",
    }
}
