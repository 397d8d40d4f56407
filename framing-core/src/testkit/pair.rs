//! A client and a server core joined by two in-memory links, with a
//! virtual clock.
//!
//! ```text
//!            to_server link: chunker, delay, capacity
//!   client  ──────────────────────────────────────────▶  server
//!   (calls) ◀──────────────────────────────────────────  (handler)
//!            to_client link: chunker, delay, capacity
//! ```
//!
//! Time is a [`Duration`] since the start of the simulation; it only moves
//! when the test moves it ([`Pair::advance`], [`Pair::step`],
//! [`Pair::run`]). By default the pair also fires both cores' timers on
//! its way; a pair made with [`Pair::manual_timers`] never does, so that a
//! test can call `handle_timeout` only at the instants `poll_timeout`
//! names and catch a timer that is lost, late or early. Bytes a core writes are cut by the link's [`Chunker`]
//! and delivered `delay` later, one `handle_read` per chunk, in order. A
//! side that stops reading ([`Connection::wants_read`] is false, or the
//! test called [`Pair::set_server_reading`]) leaves the bytes in the link;
//! once `capacity` bytes are in flight the writer's bytes stay queued in
//! its core, which is how watermarks are exercised. When a core closes
//! and has nothing left to write, its peer sees end of stream after the
//! last byte.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::Bytes;

use crate::{
    CallError, CallOptions, Config, Connection, Event, Rejected, RespondError, RpcId, Stats,
};

use super::link::Link;
pub use super::link::{Chunker, LinkConfig};

/// The server's answer to one request: `Some(payload)` responds at once,
/// `None` holds the request for the test to answer later (see
/// [`Pair::take_held_requests`] and [`Pair::respond`]).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use framing_core::Config;
/// use framing_core::testkit::pair::{Handler, Pair};
///
/// // Answers "ping" at once and holds everything else.
/// let handler: Handler =
///     Box::new(|_id, req: Bytes| (&req[..] == b"ping").then(|| Bytes::from_static(b"pong")));
/// let mut pair: Pair = Pair::new(Config::default()).with_handler(handler);
/// pair.call(Bytes::from_static(b"ping"), ()).unwrap();
/// pair.call(Bytes::from_static(b"other"), ()).unwrap();
/// pair.drive();
/// assert_eq!(pair.take_completions().len(), 1);
/// assert_eq!(pair.take_held_requests().len(), 1);
/// ```
pub type Handler = Box<dyn FnMut(RpcId, Bytes) -> Option<Bytes>>;

/// One call's completion, taken from the client's events.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use framing_core::Config;
/// use framing_core::testkit::pair::{Completion, Pair};
///
/// let mut pair: Pair<&str> = Pair::new(Config::default());
/// let id = pair.call(Bytes::from_static(b"hi"), "greeting").unwrap();
/// pair.drive();
/// let echo = Bytes::from_static(b"hi");
/// assert_eq!(pair.take_completions(), [Completion { id, ctx: "greeting", result: Ok(echo) }]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion<C> {
    /// The call's id.
    pub id: RpcId,
    /// The context given with the call.
    pub ctx: C,
    /// The response, or why there is none.
    pub result: Result<Bytes, CallError>,
}

/// A client core and a server core joined in memory, with a virtual clock.
///
/// The cores are public fields: drive them directly when a test needs a
/// command the pair does not wrap, then call [`drive`](Self::drive) to move
/// the bytes.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use bytes::Bytes;
/// use framing_core::Config;
/// use framing_core::testkit::pair::{Chunker, LinkConfig, Pair};
///
/// // Bytes cut into 3-byte reads, 10 ms each way; the server echoes.
/// let link = LinkConfig::chunked(Chunker::fixed(3)).with_delay(Duration::from_millis(10));
/// let mut pair: Pair<&str> = Pair::new(Config::default())
///     .with_links(link.clone(), link);
/// pair.call(Bytes::from_static(b"hi"), "first").unwrap();
/// pair.run();
/// let done = pair.take_completions();
/// assert_eq!(done[0].ctx, "first");
/// assert_eq!(&done[0].result.as_ref().unwrap()[..], b"hi");
/// assert!(pair.now() >= Duration::from_millis(20));
/// ```
pub struct Pair<C = ()> {
    /// The client core.
    pub client: Connection<Duration, C>,
    /// The server core.
    pub server: Connection<Duration>,
    now: Duration,
    to_server: Link,
    to_client: Link,
    handler: Handler,
    held: Vec<(RpcId, Bytes)>,
    /// Client events with the virtual time at which they were polled.
    client_events: VecDeque<(Duration, Event<C>)>,
    server_events: VecDeque<Event<()>>,
    respond_errors: Vec<(RpcId, RespondError)>,
    /// Whether moving the clock fires the cores' timers.
    auto_timers: bool,
}

impl<C: fmt::Debug> fmt::Debug for Pair<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("now", &self.now)
            .field("client", &self.client)
            .field("server", &self.server)
            .field("to_server", &self.to_server)
            .field("to_client", &self.to_client)
            .field("held", &self.held)
            .field("auto_timers", &self.auto_timers)
            .finish_non_exhaustive()
    }
}

/// How many time steps [`Pair::run`] takes before deciding the simulation
/// never settles.
const RUN_STEP_LIMIT: usize = 1_000_000;

impl<C> Pair<C> {
    /// A client and an echoing server, both with `config`, at time zero,
    /// joined by links that deliver every write whole and at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::{Config, State};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// assert_eq!(pair.now(), Duration::ZERO);
    /// assert_eq!((pair.client.state(), pair.server.state()), (State::Open, State::Open));
    /// ```
    pub fn new(config: Config) -> Self {
        Pair::with_configs(config.clone(), config)
    }

    /// A client and an echoing server with their own settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let strict = Config::builder().strict_unknown_ids(true).build().unwrap();
    /// let pair: Pair = Pair::with_configs(strict, Config::default());
    /// assert!(pair.client.config().strict_unknown_ids());
    /// assert!(!pair.server.config().strict_unknown_ids());
    /// ```
    pub fn with_configs(client: Config, server: Config) -> Self {
        let now = Duration::ZERO;
        Pair {
            client: Connection::client(client, now),
            server: Connection::server(server, now),
            now,
            to_server: Link::new(LinkConfig::default()),
            to_client: Link::new(LinkConfig::default()),
            handler: Box::new(|_, payload| Some(payload)),
            held: Vec::new(),
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
            respond_errors: Vec::new(),
            auto_timers: true,
        }
    }

    /// Sets both links: client to server, then server to client.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::{LinkConfig, Pair};
    ///
    /// // 50 ms to the server, nothing back.
    /// let slow = LinkConfig::default().with_delay(Duration::from_millis(50));
    /// let mut pair: Pair = Pair::new(Config::default()).with_links(slow, LinkConfig::default());
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.flush();
    /// assert_eq!(pair.now(), Duration::from_millis(50));
    /// assert_eq!(pair.take_completions().len(), 1);
    /// ```
    pub fn with_links(mut self, to_server: LinkConfig, to_client: LinkConfig) -> Self {
        self.to_server.config = to_server;
        self.to_client.config = to_client;
        self
    }

    /// Replaces the server's handler (the default echoes).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default())
    ///     .with_handler(|_id, req| Some(Bytes::from(req.to_ascii_uppercase())));
    /// pair.call(Bytes::from_static(b"shout"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(&pair.take_completions()[0].result.as_ref().unwrap()[..], b"SHOUT");
    /// ```
    pub fn with_handler(
        mut self,
        handler: impl FnMut(RpcId, Bytes) -> Option<Bytes> + 'static,
    ) -> Self {
        self.handler = Box::new(handler);
        self
    }

    /// A server that answers nothing by itself: every request is held for
    /// the test ([`take_held_requests`](Self::take_held_requests),
    /// [`respond`](Self::respond)).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default()).holding_requests();
    /// pair.call(Bytes::from_static(b"q"), ()).unwrap();
    /// pair.drive();
    /// assert!(pair.take_completions().is_empty(), "nobody answered");
    /// assert_eq!(pair.take_held_requests().len(), 1);
    /// ```
    pub fn holding_requests(self) -> Self {
        self.with_handler(|_, _| None)
    }

    /// The virtual time.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.advance(Duration::from_millis(5));
    /// assert_eq!(pair.now(), Duration::from_millis(5));
    /// ```
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The client's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!((pair.client_stats().calls, pair.client_stats().responses), (1, 1));
    /// ```
    pub fn client_stats(&self) -> Stats {
        self.client.stats()
    }

    /// Bytes written by one side and not yet read by the other:
    /// `(to_server, to_client)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.set_server_reading(false);
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(pair.in_flight(), (9, 0), "an 8-byte header and one byte wait for the server");
    /// ```
    pub fn in_flight(&self) -> (usize, usize) {
        (
            self.to_server.in_flight_bytes,
            self.to_client.in_flight_bytes,
        )
    }

    /// Makes the server's application stop (`false`) or resume reading;
    /// bytes for it wait in the link.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.set_server_reading(false);
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(pair.server.stats().requests, 0);
    /// pair.set_server_reading(true);
    /// pair.drive();
    /// assert_eq!(pair.take_completions().len(), 1);
    /// ```
    pub fn set_server_reading(&mut self, reading: bool) {
        self.to_server.reading = reading;
    }

    /// Makes the client stop (`false`) or resume reading.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.set_client_reading(false);
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(pair.in_flight(), (0, 9), "the echo waits for the client");
    /// pair.set_client_reading(true);
    /// pair.drive();
    /// assert_eq!(pair.take_completions().len(), 1);
    /// ```
    pub fn set_client_reading(&mut self, reading: bool) {
        self.to_client.reading = reading;
    }

    // ------------------------------------------------------------ commands

    /// A call at the current time with the default options. Nothing moves
    /// until [`drive`](Self::drive), [`advance`](Self::advance) or
    /// [`run`](Self::run).
    ///
    /// # Errors
    /// As [`Connection::call`].
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::{Config, RpcId};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair<u8> = Pair::new(Config::default());
    /// assert_eq!(pair.call(Bytes::from_static(b"a"), 1).unwrap(), RpcId(0));
    /// assert_eq!(pair.call(Bytes::from_static(b"b"), 2).unwrap(), RpcId(1));
    /// assert_eq!(pair.client.pending_calls(), 2);
    /// ```
    pub fn call(&mut self, payload: Bytes, ctx: C) -> Result<RpcId, Rejected<C>> {
        self.client.call(self.now, payload, ctx)
    }

    /// A call at the current time with options.
    ///
    /// # Errors
    /// As [`Connection::call_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::{CallError, CallOptions, Config, RpcId};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// let opts = CallOptions::new().id(RpcId(42));
    /// assert_eq!(pair.call_with(Bytes::new(), opts, ()).unwrap(), RpcId(42));
    /// let again = pair.call_with(Bytes::new(), opts, ()).unwrap_err();
    /// assert_eq!(again.error, CallError::DuplicateRpcId(RpcId(42)));
    /// ```
    pub fn call_with(
        &mut self,
        payload: Bytes,
        opts: CallOptions,
        ctx: C,
    ) -> Result<RpcId, Rejected<C>> {
        self.client.call_with(self.now, payload, opts, ctx)
    }

    /// The server answers a held request.
    ///
    /// # Errors
    /// As [`Connection::respond`].
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default()).holding_requests();
    /// pair.call(Bytes::from_static(b"q"), ()).unwrap();
    /// pair.drive();
    /// let (id, _) = pair.take_held_requests()[0].clone();
    /// pair.respond(id, Bytes::from_static(b"a")).unwrap();
    /// pair.drive();
    /// assert_eq!(&pair.take_completions()[0].result.as_ref().unwrap()[..], b"a");
    /// ```
    pub fn respond(&mut self, id: RpcId, payload: Bytes) -> Result<(), RespondError> {
        self.server.respond(id, payload)
    }

    /// Puts raw bytes on the wire to the client, after those already in
    /// flight and before anything the server writes later: a misbehaving
    /// server. The test keeps them on a frame boundary if it wants to.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{Codec, Config, Event, RpcId};
    /// use framing_core::testkit::{encode_frame, pair::Pair};
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.send_raw_to_client(&encode_frame(&Codec::default(), 7, b"nobody asked"));
    /// pair.drive();
    /// assert!(matches!(
    ///     pair.take_client_events()[..],
    ///     [Event::UnknownResponse { id: RpcId(7), late: false }]
    /// ));
    /// ```
    pub fn send_raw_to_client(&mut self, bytes: &[u8]) {
        self.to_client.push(self.now, bytes);
    }

    /// Puts raw bytes on the wire to the server: a misbehaving client.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{Codec, Config, Event, RpcId};
    /// use framing_core::testkit::{encode_frame, pair::Pair};
    ///
    /// // A request the client never made: the echoing server answers it anyway.
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.send_raw_to_server(&encode_frame(&Codec::default(), 3, b"forged"));
    /// pair.drive();
    /// assert_eq!(pair.server.stats().requests, 1);
    /// assert!(matches!(
    ///     pair.take_client_events()[..],
    ///     [Event::UnknownResponse { id: RpcId(3), late: false }]
    /// ));
    /// ```
    pub fn send_raw_to_server(&mut self, bytes: &[u8]) {
        self.to_server.push(self.now, bytes);
    }

    // ------------------------------------------------------------ outputs

    /// Takes every client event collected so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::{Config, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(1))).build().unwrap();
    /// let mut pair: Pair = Pair::new(config);
    /// pair.advance(Duration::from_secs(1));
    /// assert!(matches!(pair.take_client_events()[..], [Event::IdleTimeout]));
    /// assert!(pair.take_client_events().is_empty(), "taken");
    /// ```
    pub fn take_client_events(&mut self) -> Vec<Event<C>> {
        self.client_events.drain(..).map(|(_, ev)| ev).collect()
    }

    /// Takes every client event collected so far, each with the virtual
    /// time at which the pair polled it: the instant of the input, command
    /// or timeout that raised it. This is how a test checks that a
    /// deadline fired at its instant and not a tick later.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::{CallError, CallOptions, Config, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    /// let opts = CallOptions::new().timeout(Duration::from_millis(30));
    /// pair.call_with(Bytes::from_static(b"x"), opts, 7).unwrap();
    /// pair.advance(Duration::from_secs(1));
    /// let timed = pair.take_timed_client_events();
    /// assert!(matches!(
    ///     &timed[0],
    ///     (at, Event::Completed { ctx: 7, result: Err(CallError::DeadlineExceeded), .. })
    ///         if *at == Duration::from_millis(30)
    /// ));
    /// ```
    pub fn take_timed_client_events(&mut self) -> Vec<(Duration, Event<C>)> {
        self.client_events.drain(..).collect()
    }

    /// Takes every server event collected so far, except requests (those
    /// go to the handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{Config, DisconnectReason, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.client.close();
    /// pair.drive();
    /// assert!(matches!(
    ///     pair.take_server_events()[..],
    ///     [Event::Disconnected(DisconnectReason::PeerClosed)]
    /// ));
    /// ```
    pub fn take_server_events(&mut self) -> Vec<Event<()>> {
        self.server_events.drain(..).collect()
    }

    /// Takes the client's completions, leaving its other events.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::{Config, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_millis(5))).build().unwrap();
    /// let mut pair: Pair<u8> = Pair::new(config);
    /// pair.call(Bytes::from_static(b"x"), 1).unwrap();
    /// pair.advance(Duration::from_millis(5));
    /// assert_eq!(pair.take_completions()[0].ctx, 1);
    /// // The other events stay.
    /// assert!(matches!(pair.take_client_events()[..], [Event::IdleTimeout]));
    /// ```
    pub fn take_completions(&mut self) -> Vec<Completion<C>> {
        let mut done = Vec::new();
        let mut rest = VecDeque::new();
        for (at, ev) in self.client_events.drain(..) {
            match ev {
                Event::Completed { id, ctx, result } => done.push(Completion { id, ctx, result }),
                other => rest.push_back((at, other)),
            }
        }
        self.client_events = rest;
        done
    }

    /// Takes the requests the handler held, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::{Config, RpcId};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default()).holding_requests();
    /// pair.call(Bytes::from_static(b"first"), ()).unwrap();
    /// pair.call(Bytes::from_static(b"second"), ()).unwrap();
    /// pair.drive();
    /// let held = pair.take_held_requests();
    /// assert_eq!(held, [(RpcId(0), Bytes::from_static(b"first")), (RpcId(1), Bytes::from_static(b"second"))]);
    /// ```
    pub fn take_held_requests(&mut self) -> Vec<(RpcId, Bytes)> {
        core::mem::take(&mut self.held)
    }

    /// Takes the errors the server's `respond` returned for the handler's
    /// answers.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::{Codec, Config, RespondError};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// // Frames of at most 16 bytes of length: the handler's answer does not fit.
    /// let codec = Codec::builder().max_frame_length(16).build().unwrap();
    /// let config = Config::builder().codec(codec).build().unwrap();
    /// let mut pair: Pair = Pair::new(config).with_handler(|_, _| Some(Bytes::from(vec![0; 100])));
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// let errors = pair.take_respond_errors();
    /// assert!(matches!(errors[..], [(_, RespondError::FrameTooLarge { .. })]));
    /// ```
    pub fn take_respond_errors(&mut self) -> Vec<(RpcId, RespondError)> {
        core::mem::take(&mut self.respond_errors)
    }

    // ------------------------------------------------------------ time

    /// Moves everything that can move without time passing: writes into
    /// the links, due deliveries, requests to the handler and its answers,
    /// events into the pair's queues. Returns whether anything happened.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// assert_eq!(pair.server.stats().requests, 0, "nothing moves by itself");
    /// assert!(pair.drive());
    /// assert_eq!(pair.take_completions().len(), 1);
    /// assert!(!pair.drive(), "nothing left to move");
    /// ```
    pub fn drive(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            moved |= self.to_server.transmit(self.now, &mut self.client);
            moved |= self.to_client.transmit(self.now, &mut self.server);
            moved |= self.to_server.deliver(self.now, &mut self.server);
            moved |= self.to_client.deliver(self.now, &mut self.client);
            while let Some(ev) = self.server.poll_event() {
                moved = true;
                match ev {
                    Event::Request { id, payload } => {
                        if let Some(answer) = (self.handler)(id, payload.clone()) {
                            if let Err(e) = self.server.respond(id, answer) {
                                self.respond_errors.push((id, e));
                            }
                        } else {
                            self.held.push((id, payload));
                        }
                    }
                    other => self.server_events.push_back(other),
                }
            }
            while let Some(ev) = self.client.poll_event() {
                moved = true;
                self.client_events.push_back((self.now, ev));
            }
            if !moved {
                return any;
            }
            any = true;
        }
    }

    /// The next instant after now at which a core wants a timeout or a
    /// link delivers something, or `None` if nothing is scheduled. With
    /// [`manual_timers`](Self::manual_timers), only deliveries count.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(2))).build().unwrap();
    /// let mut pair: Pair = Pair::new(config);
    /// assert_eq!(pair.next_wakeup(), Some(Duration::from_secs(2)), "the idle timeouts");
    /// ```
    pub fn next_wakeup(&mut self) -> Option<Duration> {
        let timers = if self.auto_timers {
            [self.client.poll_timeout(), self.server.poll_timeout()]
        } else {
            [None, None]
        };
        timers
            .into_iter()
            .chain([self.next_delivery()])
            .flatten()
            .filter(|&t| t > self.now)
            .min()
    }

    /// The next instant at which a link hands bytes (or the end of the
    /// stream) to a side that reads, whatever the cores' timers; it may be
    /// now. `None` when nothing is on its way.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::{LinkConfig, Pair};
    ///
    /// let link = LinkConfig::default().with_delay(Duration::from_millis(5));
    /// let mut pair: Pair = Pair::new(Config::default()).with_links(link.clone(), link);
    /// pair.call(Bytes::from_static(b"x"), ()).unwrap();
    /// pair.drive();
    /// assert_eq!(pair.next_delivery(), Some(Duration::from_millis(5)));
    /// ```
    pub fn next_delivery(&self) -> Option<Duration> {
        [
            self.to_server.next_delivery(&self.server),
            self.to_client.next_delivery(&self.client),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn set_time(&mut self, t: Duration) {
        self.now = t;
        if self.auto_timers {
            self.client.handle_timeout(t);
            self.server.handle_timeout(t);
        }
        self.drive();
    }

    /// A pair whose clock moves without firing any timer: [`advance`](Self::advance),
    /// [`step`](Self::step), [`run`](Self::run) and [`flush`](Self::flush)
    /// only deliver bytes, and never call `handle_timeout`. The test fires
    /// timers itself with [`fire_client_timeout`](Self::fire_client_timeout)
    /// and [`fire_server_timeout`](Self::fire_server_timeout), at the
    /// instants the cores' `poll_timeout` name. A timer that `poll_timeout`
    /// forgets then never fires, one it names late fires late, and one it
    /// names early is a wake-up that does nothing: all three show, where
    /// the default pair, which calls `handle_timeout` at every stop on the
    /// way, would hide them.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::{CallError, CallOptions, Config};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests().manual_timers();
    /// let opts = CallOptions::new().timeout(Duration::from_millis(30));
    /// pair.call_with(Bytes::from_static(b"x"), opts, 1).unwrap();
    /// pair.drive();
    ///
    /// // The test sleeps until the instant the core names...
    /// let due = pair.client.poll_timeout().unwrap();
    /// assert_eq!(due, Duration::from_millis(30));
    /// pair.advance_to(due); // moves bytes, fires nothing
    /// assert!(pair.take_completions().is_empty());
    /// // ...and wakes it there.
    /// assert!(pair.fire_client_timeout(), "the wake-up did something");
    /// assert_eq!(pair.take_completions()[0].result, Err(CallError::DeadlineExceeded));
    /// ```
    pub fn manual_timers(mut self) -> Self {
        self.auto_timers = false;
        self
    }

    /// Calls the client's `handle_timeout` at the current time and drives.
    /// Returns whether it did anything: raised an event or changed the
    /// client's [`State`](crate::State). A timeout at an instant the
    /// client's `poll_timeout` named that does nothing is a wasted wake-up.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default()).manual_timers();
    /// assert!(!pair.fire_client_timeout(), "nothing is due at time zero");
    /// pair.advance(Duration::from_secs(5)); // the default idle timeout
    /// assert!(pair.fire_client_timeout(), "IdleTimeout");
    /// ```
    pub fn fire_client_timeout(&mut self) -> bool {
        let (events, state) = (self.client_events.len(), self.client.state());
        self.client.handle_timeout(self.now);
        self.drive();
        self.client_events.len() != events || self.client.state() != state
    }

    /// Calls the server's `handle_timeout` at the current time and drives;
    /// returns whether it did anything (raised an event or changed the
    /// server's [`State`](crate::State)).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::{Config, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default()).manual_timers();
    /// pair.advance(Duration::from_secs(5));
    /// assert!(pair.fire_server_timeout());
    /// assert!(matches!(pair.take_server_events()[..], [Event::IdleTimeout]));
    /// ```
    pub fn fire_server_timeout(&mut self) -> bool {
        let (events, state) = (self.server_events.len(), self.server.state());
        self.server.handle_timeout(self.now);
        self.drive();
        self.server_events.len() != events || self.server.state() != state
    }

    /// Moves the clock to `t` (never backwards), stopping at every instant
    /// on the way where something is due, and drives the pair there. The
    /// cores' timers fire at each stop, unless the pair has
    /// [`manual_timers`](Self::manual_timers).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::{Config, Event};
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.advance_to(Duration::from_secs(7));
    /// assert_eq!(pair.now(), Duration::from_secs(7));
    /// // The client's idle timeout fired on the way, at 5 s.
    /// let timed = pair.take_timed_client_events();
    /// assert!(matches!(timed[..], [(at, Event::IdleTimeout)] if at == Duration::from_secs(5)));
    /// ```
    pub fn advance_to(&mut self, t: Duration) {
        // First what is already due now (a command such as `shutdown(now)`
        // may have set a timer at the current instant).
        self.set_time(self.now);
        while let Some(w) = self.next_wakeup() {
            if w > t {
                break;
            }
            self.set_time(w);
        }
        if t > self.now {
            self.set_time(t);
        }
    }

    /// Moves the clock forward by `d`; see [`advance_to`](Self::advance_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair = Pair::new(Config::default());
    /// pair.advance(Duration::from_millis(3));
    /// pair.advance(Duration::from_millis(4));
    /// assert_eq!(pair.now(), Duration::from_millis(7));
    /// ```
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now.saturating_add(d));
    }

    /// Fires what is due now and drives, then jumps to the next wakeup and
    /// drives there. Returns `false` when nothing is scheduled.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let config = Config::builder().idle_timeout(Some(Duration::from_secs(1))).build().unwrap();
    /// let mut pair: Pair = Pair::new(config);
    /// assert!(pair.step(), "both idle timeouts are due at 1 s");
    /// assert_eq!(pair.now(), Duration::from_secs(1));
    /// assert!(!pair.step(), "nothing else is scheduled");
    /// ```
    pub fn step(&mut self) -> bool {
        self.set_time(self.now);
        match self.next_wakeup() {
            Some(t) => {
                self.set_time(t);
                true
            }
            None => false,
        }
    }

    /// Steps until nothing is scheduled: every byte delivered, every
    /// deadline and idle timeout fired (with
    /// [`manual_timers`](Self::manual_timers): every byte delivered).
    ///
    /// # Panics
    /// If the simulation does not settle within a million steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::Pair;
    ///
    /// let mut pair: Pair<u8> = Pair::new(Config::default());
    /// pair.call(Bytes::from_static(b"echo"), 1).unwrap();
    /// pair.run();
    /// assert_eq!(pair.take_completions().len(), 1);
    /// ```
    pub fn run(&mut self) {
        for _ in 0..RUN_STEP_LIMIT {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle within {RUN_STEP_LIMIT} steps");
    }

    /// Steps until nothing is in flight on either link and neither core has
    /// bytes to write, without firing timers beyond the last delivery.
    ///
    /// # Panics
    /// If the links do not drain within a million steps (a side that stopped
    /// reading keeps its link full).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Bytes;
    /// use framing_core::Config;
    /// use framing_core::testkit::pair::{LinkConfig, Pair};
    ///
    /// let link = LinkConfig::default().with_delay(Duration::from_millis(10));
    /// let mut pair: Pair<u8> = Pair::new(Config::default()).with_links(link.clone(), link);
    /// pair.call(Bytes::from_static(b"echo"), 1).unwrap();
    /// pair.flush();
    /// assert_eq!(pair.now(), Duration::from_millis(20), "there and back");
    /// assert_eq!(pair.in_flight(), (0, 0));
    /// ```
    pub fn flush(&mut self) {
        for _ in 0..RUN_STEP_LIMIT {
            self.drive();
            match self.next_delivery() {
                Some(t) => self.advance_to(t.max(self.now)),
                None => return,
            }
        }
        panic!("the links did not drain within {RUN_STEP_LIMIT} steps");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delayed_bytes_arrive_at_their_delivery_time() {
        let link = LinkConfig::default().with_delay(Duration::from_millis(5));
        let mut pair: Pair<u8> = Pair::new(Config::default()).with_links(link.clone(), link);
        pair.call(Bytes::from_static(b"x"), 1).unwrap();
        pair.drive();
        assert_eq!(pair.server.stats().requests, 0);
        pair.advance(Duration::from_millis(4));
        assert_eq!(pair.server.stats().requests, 0);
        pair.advance(Duration::from_millis(1));
        assert_eq!(pair.server.stats().requests, 1);
        pair.advance(Duration::from_millis(5));
        let done = pair.take_completions();
        assert_eq!(done.len(), 1);
        assert_eq!(pair.now(), Duration::from_millis(10));
    }

    #[test]
    fn closing_the_client_ends_the_servers_stream() {
        let mut pair: Pair = Pair::new(Config::default());
        pair.client.close();
        pair.drive();
        let events = pair.take_server_events();
        assert!(
            matches!(
                events.as_slice(),
                [Event::Disconnected(crate::DisconnectReason::PeerClosed)]
            ),
            "{events:?}"
        );
    }
}
