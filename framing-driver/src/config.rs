//! Adapter settings: the core's [`framing_core::Config`] plus the socket and
//! the driver, built and checked like the core's.

use std::time::Duration;

use bytes::Bytes;
use framing_core::ConfigError;

/// Default connect timeout: 5 s, as the Node library.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default delay before the first TCP keepalive probe: 1 s, as the Node
/// library's `setKeepAlive(true, 1000)`.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(1);
/// Default cap on requests a server connection handles at once; past it
/// the server stops reading until some are answered.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 65_536;
/// Default number of events a subscriber may fall behind before it misses
/// some (and is told how many with `EventKind::Lagged`). Events are rare
/// (watermarks, idle, errors): 256 is far more than a live subscriber lags.
pub const DEFAULT_EVENT_CAPACITY: usize = 256;

/// Default time a server's graceful shutdown (by signal) lets requests in
/// flight finish: 30 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Default first reconnect delay (before jitter): 100 ms.
pub const DEFAULT_RECONNECT_INITIAL: Duration = Duration::from_millis(100);
/// Default longest reconnect delay (before jitter): 5 s.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Default growth of the reconnect delay per failed attempt: ×2.
pub const DEFAULT_RECONNECT_MULTIPLIER: f32 = 2.0;

/// How a client reconnects after an unplanned disconnect: exponential
/// backoff with full jitter (each delay drawn uniformly between zero and
/// the schedule's current step), re-resolving host names at every attempt.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use framing_driver::{Config, Reconnect};
///
/// let config = Config::builder()
///     .reconnect(Some(
///         Reconnect::new()
///             .initial(Duration::from_millis(50))
///             .max(Duration::from_secs(2))
///             .fail_fast(true),
///     ))
///     .build()
///     .unwrap();
/// assert!(config.reconnect().unwrap().is_fail_fast());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    initial: Duration,
    max: Duration,
    multiplier: f32,
    fail_fast: bool,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial: DEFAULT_RECONNECT_INITIAL,
            max: DEFAULT_RECONNECT_MAX,
            multiplier: DEFAULT_RECONNECT_MULTIPLIER,
            fail_fast: false,
        }
    }
}

impl Reconnect {
    /// The defaults: 100 ms doubling up to 5 s; calls wait for the next
    /// connection until their deadline.
    pub fn new() -> Self {
        Self::default()
    }
    /// The first delay's step (default 100 ms).
    pub fn initial(mut self, d: Duration) -> Self {
        self.initial = d;
        self
    }
    /// The largest step (default 5 s).
    pub fn max(mut self, d: Duration) -> Self {
        self.max = d;
        self
    }
    /// Growth per failed attempt (default 2).
    pub fn multiplier(mut self, m: f32) -> Self {
        self.multiplier = m;
        self
    }
    /// While there is no connection, fail calls at once with
    /// `Disconnected` instead of letting them wait for the next one
    /// (default off).
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.fail_fast = on;
        self
    }
    /// The first delay's step.
    pub fn initial_delay(&self) -> Duration {
        self.initial
    }
    /// The largest step.
    pub fn max_delay(&self) -> Duration {
        self.max
    }
    /// Growth per failed attempt.
    pub fn growth(&self) -> f32 {
        self.multiplier
    }
    /// Whether calls fail at once while there is no connection.
    pub fn is_fail_fast(&self) -> bool {
        self.fail_fast
    }
}

/// Settings of a client or server connection. Build with
/// [`Config::builder`]; a `Config` is always valid.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use framing_driver::Config;
///
/// let config = Config::builder()
///     .connect_timeout(Duration::from_secs(1))
///     .core(
///         framing_core::Config::builder()
///             .call_timeout(Some(Duration::from_millis(500)))
///             .build()
///             .unwrap(),
///     )
///     .build()
///     .unwrap();
/// assert!(config.nodelay());
/// assert_eq!(config.connect_timeout(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    core: framing_core::Config,
    connect_timeout: Duration,
    nodelay: bool,
    keepalive: Option<Duration>,
    user_timeout: Option<Duration>,
    max_in_flight: usize,
    event_capacity: usize,
    reconnect: Option<Reconnect>,
    server: ServerLimits,
}

/// The server's own settings, inside [`Config`].
#[derive(Debug, Clone)]
struct ServerLimits {
    max_connections: Option<usize>,
    idle_close: Option<Duration>,
    request_timeout: Option<Duration>,
    failure_response: Option<Bytes>,
    shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: None,
            idle_close: None,
            request_timeout: None,
            failure_response: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: framing_core::Config::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            nodelay: true,
            keepalive: Some(DEFAULT_KEEPALIVE),
            user_timeout: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            reconnect: None,
            server: ServerLimits::default(),
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

    /// Framing, watermarks, limits and timeouts (see [`framing_core::Config`]).
    pub fn core(&self) -> &framing_core::Config {
        &self.core
    }
    /// How long `connect` waits (default 5 s).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// TCP_NODELAY (default on).
    pub fn nodelay(&self) -> bool {
        self.nodelay
    }
    /// TCP keepalive: delay before the first probe, `None` when disabled
    /// (default 1 s).
    pub fn keepalive(&self) -> Option<Duration> {
        self.keepalive
    }
    /// TCP_USER_TIMEOUT (Linux): how long written bytes may stay
    /// unacknowledged before the kernel ends the connection, `None` for the
    /// kernel's default (about 15 minutes of retransmissions; default).
    pub fn user_timeout(&self) -> Option<Duration> {
        self.user_timeout
    }
    /// Server: requests handled at once per connection (default 65,536).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
    /// Events a subscriber may fall behind before it misses some (default
    /// 256).
    pub fn event_capacity(&self) -> usize {
        self.event_capacity
    }
    /// Client: how it reconnects after an unplanned disconnect, `None`
    /// when it does not (the default).
    pub fn reconnect(&self) -> Option<Reconnect> {
        self.reconnect
    }
    /// Server: connections served at once, `None` for no limit (the
    /// default). Past it the server stops accepting: new connections wait
    /// in the listen backlog until one closes.
    pub fn max_connections(&self) -> Option<usize> {
        self.server.max_connections
    }
    /// Server: close a connection silent (nothing read or written) for
    /// this long, `None` to keep it (the default).
    pub fn idle_close(&self) -> Option<Duration> {
        self.server.idle_close
    }
    /// Server: the longest a handler may take for one request, `None` for
    /// no limit (the default). An overrun is a handler failure.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.server.request_timeout
    }
    /// Server: the answer to a request whose handler failed (error, panic,
    /// overrun), `None` to leave it unanswered (the default; the client's
    /// deadline ends its call). Frames without an id field must be
    /// answered in order, so there a failed request gets this payload, or
    /// an empty one.
    pub fn failure_response(&self) -> Option<&Bytes> {
        self.server.failure_response.as_ref()
    }
    /// Server: how long a graceful shutdown by signal lets requests in
    /// flight finish (default 30 s).
    pub fn shutdown_grace(&self) -> Duration {
        self.server.shutdown_grace
    }
}

/// Checked builder for [`Config`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until built"]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// The core's settings (default: [`framing_core::Config::default`]).
    pub fn core(mut self, core: framing_core::Config) -> Self {
        self.config.core = core;
        self
    }
    /// How long `connect` waits for the handshake (default 5 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.config.connect_timeout = t;
        self
    }
    /// TCP_NODELAY (default on).
    pub fn nodelay(mut self, on: bool) -> Self {
        self.config.nodelay = on;
        self
    }
    /// TCP keepalive: delay before the first probe, `None` to disable
    /// (default 1 s).
    pub fn keepalive(mut self, after: Option<Duration>) -> Self {
        self.config.keepalive = after;
        self
    }
    /// TCP_USER_TIMEOUT, on Linux (default `None`, the kernel's): a peer
    /// that vanished without closing (power lost, cable cut) ends the
    /// connection once written bytes stay unacknowledged this long, so a
    /// reconnecting client moves on instead of failing calls at their
    /// deadlines for the ~15 minutes the kernel would retransmit. Keepalive
    /// covers a connection with nothing in flight.
    pub fn user_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.user_timeout = t;
        self
    }
    /// Server: requests handled at once per connection (default 65,536).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n;
        self
    }
    /// Events a subscriber may fall behind before it misses some (default
    /// 256).
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.config.event_capacity = n;
        self
    }
    /// Client: reconnect after an unplanned disconnect, with this backoff
    /// (default `None`: the client ends with its connection).
    pub fn reconnect(mut self, reconnect: Option<Reconnect>) -> Self {
        self.config.reconnect = reconnect;
        self
    }
    /// Server: connections served at once (default: no limit).
    pub fn max_connections(mut self, n: Option<usize>) -> Self {
        self.config.server.max_connections = n;
        self
    }
    /// Server: close connections silent for this long (default: never).
    pub fn idle_close(mut self, after: Option<Duration>) -> Self {
        self.config.server.idle_close = after;
        self
    }
    /// Server: the longest a handler may take per request (default: no
    /// limit).
    pub fn request_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.server.request_timeout = t;
        self
    }
    /// Server: the answer to a request whose handler failed (default:
    /// none, the request is left unanswered).
    pub fn failure_response(mut self, payload: Option<Bytes>) -> Self {
        self.config.server.failure_response = payload;
        self
    }
    /// Server: the grace a shutdown by signal gives requests in flight
    /// (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.server.shutdown_grace = grace;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::ZeroDuration`] for a zero connect timeout or keepalive;
    /// [`ConfigError::Zero`] for zero requests in flight or event capacity;
    /// [`ConfigError::Reconnect`] for a zero initial delay, a largest delay
    /// below it, or a multiplier below 1.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        if c.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration("connect timeout"));
        }
        if c.keepalive == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration("keepalive"));
        }
        if c.user_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration("user timeout"));
        }
        if c.max_in_flight == 0 {
            return Err(ConfigError::Zero("max_in_flight"));
        }
        if c.event_capacity == 0 {
            return Err(ConfigError::Zero("event_capacity"));
        }
        if c.server.max_connections == Some(0) {
            return Err(ConfigError::Zero("max_connections"));
        }
        for (what, d) in [
            ("idle close", c.server.idle_close),
            ("request timeout", c.server.request_timeout),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(ConfigError::ZeroDuration(what));
            }
        }
        if let Some(r) = c.reconnect {
            if r.initial.is_zero() {
                return Err(ConfigError::ZeroDuration("reconnect initial delay"));
            }
            if r.max < r.initial || !(r.multiplier >= 1.0 && r.multiplier.is_finite()) {
                return Err(ConfigError::Reconnect);
            }
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
        assert_eq!(c.connect_timeout(), Duration::from_secs(5));
        assert_eq!(c.keepalive(), Some(Duration::from_secs(1)));
        assert!(c.nodelay());
    }

    #[test]
    fn zero_settings_are_refused_when_built() {
        let zero = Duration::ZERO;
        let cases = [
            (
                Config::builder().connect_timeout(zero).build(),
                ConfigError::ZeroDuration("connect timeout"),
            ),
            (
                Config::builder().keepalive(Some(zero)).build(),
                ConfigError::ZeroDuration("keepalive"),
            ),
            (
                Config::builder().max_in_flight(0).build(),
                ConfigError::Zero("max_in_flight"),
            ),
            (
                Config::builder().event_capacity(0).build(),
                ConfigError::Zero("event_capacity"),
            ),
            (
                Config::builder()
                    .reconnect(Some(Reconnect::new().initial(zero)))
                    .build(),
                ConfigError::ZeroDuration("reconnect initial delay"),
            ),
            (
                Config::builder()
                    .reconnect(Some(Reconnect::new().max(Duration::from_millis(1))))
                    .build(),
                ConfigError::Reconnect,
            ),
            (
                Config::builder()
                    .reconnect(Some(Reconnect::new().multiplier(0.5)))
                    .build(),
                ConfigError::Reconnect,
            ),
        ];
        for (built, want) in cases {
            assert_eq!(built.unwrap_err(), want);
        }
    }
}
