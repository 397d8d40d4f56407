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

    pub(crate) fn resolve_timeout(&self, default: Option<Duration>) -> Option<Duration> {
        match self.timeout {
            TimeoutChoice::Default => default,
            TimeoutChoice::Never => None,
            TimeoutChoice::After(d) => Some(d),
        }
    }
}
