//! Adapter settings: the core's [`framing_core::Config`] plus the socket.

use std::time::Duration;

use framing_core::ConfigError;

/// Default connect timeout: 5 s, as the Node library.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default delay before the first TCP keepalive probe: 1 s, as the Node
/// library's `setKeepAlive(true, 1000)`.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(1);
/// Default cap on requests a server connection handles at once; past it
/// the server stops reading until some are answered.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 65_536;

/// Settings of a client or server connection.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use framing_driver::Config;
///
/// let mut config = Config::default();
/// config.connect_timeout = Duration::from_secs(1);
/// config.core = framing_core::Config::builder()
///     .call_timeout(Some(Duration::from_millis(500)))
///     .build()
///     .unwrap();
/// assert!(config.nodelay);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Framing, watermarks, limits and timeouts (see [`framing_core::Config`]).
    pub core: framing_core::Config,
    /// How long `connect` waits (default 5 s).
    pub connect_timeout: Duration,
    /// TCP_NODELAY (default on).
    pub nodelay: bool,
    /// TCP keepalive: delay before the first probe, `None` to disable
    /// (default 1 s).
    pub keepalive: Option<Duration>,
    /// Server: requests handled at once per connection (default 65,536).
    pub max_in_flight: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            core: framing_core::Config::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            nodelay: true,
            keepalive: Some(DEFAULT_KEEPALIVE),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl Config {
    /// The defaults with this core configuration.
    pub fn with_core(core: framing_core::Config) -> Self {
        Config {
            core,
            ..Config::default()
        }
    }

    /// Checks the adapter-level settings.
    ///
    /// # Errors
    /// [`ConfigError::ZeroDuration`] for a zero connect timeout.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration("connect timeout"));
        }
        Ok(())
    }
}
