//! Per-call options.

use core::time::Duration;

use crate::RpcId;

/// Options of one call: the id and the deadline.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use framing_core::{CallOptions, RpcId};
///
/// let opts = CallOptions::new().id(RpcId(42)).timeout(Duration::from_millis(250));
/// assert_ne!(opts, CallOptions::new());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    pub(crate) id: Option<RpcId>,
    pub(crate) timeout: TimeoutChoice,
    wait_for_room: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum TimeoutChoice {
    /// The connection's `call_timeout`.
    #[default]
    Default,
    /// No deadline.
    Never,
    /// This long after the call.
    After(Duration),
}

impl CallOptions {
    /// The defaults: an id chosen by the core, the connection's call timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this id instead of one chosen by the core. A pending id is
    /// refused with [`CallError::DuplicateRpcId`](crate::CallError::DuplicateRpcId).
    pub fn id(mut self, id: RpcId) -> Self {
        self.id = Some(id);
        self
    }

    /// Fail the call with `DeadlineExceeded` this long after it is made.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = TimeoutChoice::After(t);
        self
    }

    /// No deadline for this call, whatever the connection's default.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = TimeoutChoice::Never;
        self
    }

    /// Wait for room instead of failing with `BufferFull` while more than
    /// `max_buffer_bytes` are unwritten, until the call's deadline.
    ///
    /// The core itself never queues past the limit: it refuses with
    /// `BufferFull` either way. The option tells a driver to keep the
    /// call and offer it again once there is room, as the adapters'
    /// clients do; a hand-written loop may do the same.
    pub fn wait_for_room(mut self) -> Self {
        self.wait_for_room = true;
        self
    }

    /// Whether the call waits for room (see [`wait_for_room`](Self::wait_for_room)).
    pub fn waits_for_room(&self) -> bool {
        self.wait_for_room
    }

    /// The call's timeout given the connection's default: its own, none,
    /// or `default`.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::CallOptions;
    ///
    /// let default = Some(Duration::from_secs(5));
    /// assert_eq!(CallOptions::new().effective_timeout(default), default);
    /// assert_eq!(CallOptions::new().no_timeout().effective_timeout(default), None);
    /// ```
    pub fn effective_timeout(&self, default: Option<Duration>) -> Option<Duration> {
        match self.timeout {
            TimeoutChoice::Default => default,
            TimeoutChoice::Never => None,
            TimeoutChoice::After(d) => Some(d),
        }
    }
}
