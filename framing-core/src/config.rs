//! Connection settings: watermarks, limits and timeouts, with the Node
//! library's defaults.

use core::time::Duration;

use crate::codec::{decoder::DEFAULT_READ_CHUNK, write_queue::DEFAULT_COALESCE_MAX};
use crate::{CallError, Codec, ConfigError};

/// Default idle timeout: 5 s, the Node library's.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default warning watermark: 512 KiB unwritten bytes raise `Pause`
/// (the Node library's `warn_buffer_bytes`).
pub const DEFAULT_WARN_BUFFER_BYTES: usize = 512 * 1024;
/// Default hard limit: calls are refused with `BufferFull` above 1 MiB
/// unwritten bytes (the Node library's `max_buffer_bytes`).
pub const DEFAULT_MAX_BUFFER_BYTES: usize = 1024 * 1024;
/// Default low watermark: `Resume` once fully drained, as the Node library.
pub const DEFAULT_LOW_BUFFER_BYTES: usize = 0;
/// Default number of abandonments remembered (calls cancelled, timed out or
/// failed by `fail_pending`), so that their late responses are reported as
/// late rather than unknown, and so that automatically chosen ids do not
/// reuse them too soon. See [`ConfigBuilder::late_memory`]. At 4096, a
/// client that abandons a call every millisecond still knows a late
/// answer four seconds on; a full memory holds about 176 KiB.
pub const DEFAULT_LATE_MEMORY: usize = 4096;

/// Settings of one connection. Build with [`Config::builder`].
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use framing_core::Config;
///
/// let config = Config::builder()
///     .call_timeout(Some(Duration::from_secs(2)))
///     .idle_timeout(None)
///     .build()
///     .unwrap();
/// assert_eq!(config.call_timeout(), Some(Duration::from_secs(2)));
/// assert_eq!(config.max_buffer_bytes(), 1024 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) codec: Codec,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) warn_buffer_bytes: usize,
    pub(crate) max_buffer_bytes: usize,
    pub(crate) low_buffer_bytes: usize,
    pub(crate) strict_unknown_ids: bool,
    pub(crate) late_memory: usize,
    pub(crate) read_chunk: usize,
    pub(crate) coalesce_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            codec: Codec::default(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            call_timeout: None,
            warn_buffer_bytes: DEFAULT_WARN_BUFFER_BYTES,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            low_buffer_bytes: DEFAULT_LOW_BUFFER_BYTES,
            strict_unknown_ids: false,
            late_memory: DEFAULT_LATE_MEMORY,
            read_chunk: DEFAULT_READ_CHUNK,
            coalesce_max: DEFAULT_COALESCE_MAX,
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// A builder starting from these settings.
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            config: self.clone(),
        }
    }

    /// The frame format.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }
    /// Idle timeout, `None` when disabled.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
    /// Default per-call timeout, `None` when calls wait indefinitely.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }
    /// Unwritten bytes above which `Pause` is raised.
    pub fn warn_buffer_bytes(&self) -> usize {
        self.warn_buffer_bytes
    }
    /// Unwritten bytes above which calls are refused with `BufferFull`.
    pub fn max_buffer_bytes(&self) -> usize {
        self.max_buffer_bytes
    }
    /// Unwritten bytes at or below which `Resume` is raised after `Pause`.
    pub fn low_buffer_bytes(&self) -> usize {
        self.low_buffer_bytes
    }
    /// Whether an unknown response id fails the connection.
    pub fn strict_unknown_ids(&self) -> bool {
        self.strict_unknown_ids
    }

    /// Whether a call may be queued while `queued` bytes are unwritten:
    /// the one place the `max_buffer_bytes` limit is checked, by the core
    /// and by handles reading a published queue size.
    ///
    /// # Errors
    /// [`CallError::BufferFull`] above `max_buffer_bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = framing_core::Config::default();
    /// assert!(config.check_room(1024 * 1024).is_ok());
    /// assert!(config.check_room(1024 * 1024 + 1).is_err());
    /// ```
    #[inline]
    pub fn check_room(&self, queued: usize) -> Result<(), CallError> {
        if queued > self.max_buffer_bytes {
            return Err(CallError::BufferFull {
                queued,
                max: self.max_buffer_bytes,
            });
        }
        Ok(())
    }
}

/// Checked builder for [`Config`].
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// The frame format (default: [`Codec::default`]).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.config.codec = codec;
        self
    }
    /// Idle timeout; `None` disables it (default 5 s). After this long
    /// without traffic the connection raises [`Event::IdleTimeout`] (it
    /// stays open) and lets go of an empty read buffer that a burst grew,
    /// so a silent connection holds no more than a new one.
    ///
    /// [`Event::IdleTimeout`]: crate::Event::IdleTimeout
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.idle_timeout = t;
        self
    }
    /// Default deadline for every call, counted from the call; `None` (the
    /// default) lets calls wait until answered, closed or failed.
    pub fn call_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.call_timeout = t;
        self
    }
    /// `Pause` threshold (default 512 KiB).
    pub fn warn_buffer_bytes(mut self, n: usize) -> Self {
        self.config.warn_buffer_bytes = n;
        self
    }
    /// `BufferFull` threshold (default 1 MiB).
    pub fn max_buffer_bytes(mut self, n: usize) -> Self {
        self.config.max_buffer_bytes = n;
        self
    }
    /// `Resume` threshold (default 0: fully drained).
    pub fn low_buffer_bytes(mut self, n: usize) -> Self {
        self.config.low_buffer_bytes = n;
        self
    }
    /// Make a response with an unknown id a protocol error (default off:
    /// such responses are dropped, counted and reported). A response to an
    /// id the client remembers abandoning is late, not unknown, and never
    /// fatal; how long ids are remembered is [`late_memory`](Self::late_memory).
    pub fn strict_unknown_ids(mut self, strict: bool) -> Self {
        self.config.strict_unknown_ids = strict;
        self
    }
    /// How many abandoned calls the client remembers (default
    /// [`DEFAULT_LATE_MEMORY`], 4096), to tell a late response from an
    /// unknown one. Without an id field it has no effect: there a call that
    /// was abandoned keeps its place in the queue until its response comes.
    ///
    /// **What is remembered**: the id of every call that was cancelled, that
    /// passed its deadline, or that `fail_pending` failed, one record per
    /// abandonment. An id is remembered while its latest abandonment is
    /// among the last `n`; a caller that reuses an id on purpose
    /// ([`CallOptions::id`](crate::CallOptions::id)) makes it forgotten
    /// until it is abandoned again. Automatic ids skip remembered ids while
    /// any other id is free.
    ///
    /// **Within the bound**, a response to a remembered id is dropped,
    /// counted and reported as
    /// [`UnknownResponse { late: true }`](crate::Event::UnknownResponse),
    /// in strict mode too: the peer may rightly answer after our deadline,
    /// and that is never fatal.
    ///
    /// **Beyond the bound**, the id is forgotten and its response is an
    /// unknown one: `UnknownResponse { late: false }`, and in strict mode
    /// ([`strict_unknown_ids`](Self::strict_unknown_ids)) a
    /// [`ProtocolError::UnknownResponseId`](crate::ProtocolError::UnknownResponseId)
    /// that fails the connection. So in strict mode a very late response,
    /// one that arrives after `n` more abandonments, *is* fatal: choose `n`
    /// above the abandonments that can happen while a late answer may still
    /// be on its way (abandonments per second times the peer's worst delay).
    /// `0` remembers nothing.
    ///
    /// **Memory**: a queue of at most `n` 8-byte records and a hash set of
    /// at most `n` ids. Forgetting leaves deleted slots, and the set
    /// settles at four 9-byte buckets per id: about 44 bytes per
    /// remembered id, 176 KiB at 4096, allocated as calls are abandoned and
    /// never more, however many calls are made (`tests/live_memory.rs`
    /// measures it over a million operations).
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{CallOptions, Config, Connection, Event, RpcId};
    ///
    /// // A response frame in the default format: length, id, payload.
    /// let frame = |id: u8| [0, 0, 0, 5, 0, 0, 0, id, b'!'];
    /// let config = Config::builder().late_memory(1).strict_unknown_ids(true).build().unwrap();
    /// let t0 = core::time::Duration::ZERO;
    /// let mut c: Connection<_, ()> = Connection::client(config, t0);
    /// for id in [1, 2] {
    ///     c.call_with(t0, "x", CallOptions::new().id(RpcId(id)), ()).unwrap();
    ///     c.cancel(RpcId(id));
    /// }
    /// // Id 2 was the last abandonment: its answer is late, not fatal.
    /// c.handle_read(t0, &frame(2));
    /// assert!(matches!(c.poll_event(), Some(Event::UnknownResponse { late: true, .. })));
    /// // Id 1 is beyond the bound: in strict mode its answer fails the connection.
    /// c.handle_read(t0, &frame(1));
    /// assert!(matches!(c.poll_event(), Some(Event::ProtocolError(_))));
    /// assert!(c.is_closed());
    /// ```
    pub fn late_memory(mut self, n: usize) -> Self {
        self.config.late_memory = n;
        self
    }
    /// The most room lent per read (default 64 KiB).
    ///
    /// The room lent starts at 4 KiB (or this, if smaller), is multiplied
    /// by 4 after each read that fills it, up to this, and divided by 4
    /// after 4 reads in a row below a quarter of it; an empty buffer much
    /// larger than the room is released. So an idle connection holds
    /// 4 KiB of read buffer, and a busy one reads this much per call.
    pub fn read_chunk(mut self, n: usize) -> Self {
        self.config.read_chunk = n;
        self
    }
    /// Payloads up to this size are copied next to their header so that
    /// small frames batch into one slice; larger ones are referenced
    /// without a copy (default 256 bytes; 0 never copies).
    pub fn coalesce_max(mut self, n: usize) -> Self {
        self.config.coalesce_max = n;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::Watermarks`] unless `low < warn <= max`;
    /// [`ConfigError::ZeroDuration`] for a zero timeout.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        if !(c.low_buffer_bytes < c.warn_buffer_bytes && c.warn_buffer_bytes <= c.max_buffer_bytes)
        {
            return Err(ConfigError::Watermarks {
                low: c.low_buffer_bytes,
                warn: c.warn_buffer_bytes,
                max: c.max_buffer_bytes,
            });
        }
        if c.idle_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration("idle timeout"));
        }
        if c.call_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration("call timeout"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_node_librarys() {
        let c = Config::default();
        assert_eq!(c.idle_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(c.warn_buffer_bytes(), 512 * 1024);
        assert_eq!(c.max_buffer_bytes(), 1024 * 1024);
        assert_eq!(c.low_buffer_bytes(), 0);
        assert_eq!(c.call_timeout(), None);
        assert!(!c.strict_unknown_ids());
    }

    #[test]
    fn rejects_inverted_watermarks() {
        let err = Config::builder()
            .warn_buffer_bytes(10)
            .max_buffer_bytes(5)
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Watermarks {
                low: 0,
                warn: 10,
                max: 5
            }
        );
        let err = Config::builder()
            .low_buffer_bytes(600 * 1024)
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::Watermarks { .. }));
    }

    #[test]
    fn rejects_zero_timeouts() {
        let err = Config::builder()
            .idle_timeout(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroDuration("idle timeout"));
        let err = Config::builder()
            .call_timeout(Some(Duration::ZERO))
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroDuration("call timeout"));
    }
}
