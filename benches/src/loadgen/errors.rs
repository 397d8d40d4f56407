//! Why calls failed: one kind per way a call can end without its answer,
//! counted per cell.

use std::fmt;

use framing_core::CallError;

use crate::baseline::BaselineError;

/// How a call failed, as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Refused because more than `max_buffer_bytes` were unwritten (only
    /// calls that do not wait for room).
    BufferFull,
    /// No answer before the call's deadline.
    DeadlineExceeded,
    /// The connection ended with the call's bytes (maybe) written: a
    /// reconnecting client fails such a call rather than re-send it.
    Disconnected,
    /// The client was closed (or had ended) before the answer.
    Closed,
    /// The client was shutting down.
    ShuttingDown,
    /// The server broke the protocol.
    Protocol,
    /// An answer came back that is not the echo of the request.
    WrongAnswer,
    /// Anything else the client refused (an id or frame-size limit).
    Other,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::BufferFull,
        ErrorKind::DeadlineExceeded,
        ErrorKind::Disconnected,
        ErrorKind::Closed,
        ErrorKind::ShuttingDown,
        ErrorKind::Protocol,
        ErrorKind::WrongAnswer,
        ErrorKind::Other,
    ];

    /// The name reports print: `buffer_full`, `deadline_exceeded`,
    /// `disconnected`, `closed`, `shutting_down`, `protocol`,
    /// `wrong_answer`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BufferFull => "buffer_full",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::Closed => "closed",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::Protocol => "protocol",
            ErrorKind::WrongAnswer => "wrong_answer",
            ErrorKind::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Failed calls counted by [`ErrorKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts([u64; ErrorKind::ALL.len()]);

impl ErrorCounts {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: ErrorKind) {
        self.0[kind.index()] += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &ErrorCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// Failures of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.0[kind.index()]
    }

    /// Failures of every kind together.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The kinds that occurred, with their counts, in [`ErrorKind::ALL`]
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL
            .into_iter()
            .map(|k| (k, self.get(k)))
            .filter(|&(_, n)| n > 0)
    }
}

/// A failed load call: the client's own error, or an answer that is not
/// the echo of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// A framing client's (or pool's) error.
    Framing(CallError),
    /// The baseline client's error.
    Baseline(BaselineError),
    /// The answer is not the request's echo.
    WrongAnswer {
        /// Bytes sent.
        sent: usize,
        /// Bytes received.
        received: usize,
        /// Whether the lengths matched (so the bytes differed).
        same_length: bool,
    },
}

impl LoadError {
    /// The kind the report counts it under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LoadError::Framing(e) => match e {
                CallError::BufferFull { .. } => ErrorKind::BufferFull,
                CallError::DeadlineExceeded => ErrorKind::DeadlineExceeded,
                CallError::Disconnected(_) => ErrorKind::Disconnected,
                CallError::Closed => ErrorKind::Closed,
                CallError::ShuttingDown => ErrorKind::ShuttingDown,
                CallError::Protocol(_) => ErrorKind::Protocol,
                _ => ErrorKind::Other,
            },
            LoadError::Baseline(BaselineError::DeadlineExceeded) => ErrorKind::DeadlineExceeded,
            LoadError::Baseline(BaselineError::Disconnected) => ErrorKind::Disconnected,
            LoadError::WrongAnswer { .. } => ErrorKind::WrongAnswer,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Framing(e) => e.fmt(f),
            LoadError::Baseline(e) => e.fmt(f),
            LoadError::WrongAnswer {
                sent,
                received,
                same_length: true,
            } => write!(
                f,
                "the echo of {sent} bytes came back with the same length but other bytes ({received})"
            ),
            LoadError::WrongAnswer { sent, received, .. } => {
                write!(f, "the echo of {sent} bytes came back as {received}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_merge_and_list_only_kinds_that_occurred() {
        let mut a = ErrorCounts::default();
        a.add(ErrorKind::Disconnected);
        a.add(ErrorKind::Disconnected);
        let mut b = ErrorCounts::default();
        b.add(ErrorKind::BufferFull);
        a.merge(&b);
        assert_eq!(a.total(), 3);
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [(ErrorKind::BufferFull, 1), (ErrorKind::Disconnected, 2)]
        );
    }

    #[test]
    fn disconnected_is_its_own_kind_for_both_clients() {
        let framing = LoadError::Framing(CallError::Disconnected(
            framing_core::DisconnectReason::PeerClosed,
        ));
        assert_eq!(framing.kind(), ErrorKind::Disconnected);
        assert_eq!(
            LoadError::Baseline(BaselineError::Disconnected).kind(),
            ErrorKind::Disconnected
        );
        let full = LoadError::Framing(CallError::BufferFull { queued: 2, max: 1 });
        assert_eq!(full.kind(), ErrorKind::BufferFull);
    }
}
