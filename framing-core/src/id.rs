//! The RPC id newtype.

use core::fmt;

/// The id that pairs a response with its request.
///
/// On the wire it occupies the configured id field (0 to 8 bytes). With a
/// 0-byte id field there is no id on the wire: the core then numbers calls
/// itself, in the order they were sent, and the `RpcId` is only a handle for
/// [`Connection::cancel`](crate::Connection::cancel) and completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RpcId(pub u64);

impl RpcId {
    /// The raw value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for RpcId {
    fn from(v: u64) -> Self {
        RpcId(v)
    }
}

impl From<u32> for RpcId {
    fn from(v: u32) -> Self {
        RpcId(u64::from(v))
    }
}

impl fmt::Display for RpcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
