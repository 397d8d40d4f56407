//! The client: a cheap, cloneable handle to one connection, usable from
//! many tasks at once.
//!
//! - `mod.rs`: the handle, [`Client`];
//! - `call.rs`: one call's future, which cancels the call when dropped;
//! - `published.rs`: what the driver publishes for the handles to read;
//! - `driver.rs`: the task that owns the connection;
//! - `dial.rs`, `redial.rs`, `backoff.rs`: connecting, and reconnecting;
//! - `parked.rs`: calls waiting for room in the write queue.

mod backoff;
mod call;
mod dial;
mod driver;
mod parked;
mod published;
mod redial;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use framing_core::{
    CallOptions, Connection, DisconnectReason, Rejected, RpcId, Stats, WhileDisconnected,
};
use tokio::sync::{mpsc, oneshot};

use crate::event::Events;
use crate::runtime::{Io, Runtime, WrapStream};
use crate::{Config, ConnectError, IntoTarget, Reconnect};
pub use call::CallFuture;
use call::{CallCtx, CallSlot};
use dial::Dial;
use driver::{ClientDriver, Command};
pub(crate) use published::Published;
use redial::Redial;

/// A framed RPC client over one connection.
///
/// Cheap to clone: clones share the connection. Calls from any number of
/// tasks are batched onto the socket by one driver task. Every call
/// completes exactly once: with the response, or with a
/// [`CallError`](crate::CallError).
/// The connection closes when [`close`](Self::close) or
/// [`shutdown`](Self::shutdown) is called, when it fails, or when the
/// last handle and call are dropped.
#[must_use = "the connection closes when the last handle and call are dropped"]
pub struct Client<R: Runtime> {
    commands: mpsc::UnboundedSender<Command>,
    published: Arc<Published>,
    _runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            commands: self.commands.clone(),
            published: self.published.clone(),
            _runtime: PhantomData,
        }
    }
}

impl<R: Runtime> std::fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.published.peer())
            .finish()
    }
}

impl<R: Runtime> Client<R> {
    /// Connects with the default [`Config`] to `target`: an address, or a
    /// host name (`"db.local:7000"`, `("db.local", 7000)`) resolved on the
    /// runtime, every address it resolves to tried in turn.
    ///
    /// # Errors
    /// [`ConnectError::HostUnavailable`] when the connection is refused or
    /// the host unreachable, [`ConnectError::TimedOut`] after 5 s,
    /// [`ConnectError::Resolve`] when the name does not resolve,
    /// [`ConnectError::InvalidTarget`] for a malformed target.
    pub async fn connect(target: impl IntoTarget) -> Result<Self, ConnectError> {
        Self::connect_with(target, Config::default()).await
    }

    /// Connects with the given settings: connect timeout, TCP_NODELAY and
    /// keepalive are applied to the socket. With
    /// [`Config::reconnect`], the client reconnects after an unplanned
    /// disconnect instead of ending with its connection (the first
    /// connection must succeed here; see
    /// [`connect_lazy`](Self::connect_lazy) for one made in the
    /// background).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(
        target: impl IntoTarget,
        config: Config,
    ) -> Result<Self, ConnectError> {
        let target = target.into_target()?;
        let rt = R::current();
        let (stream, addr) = dial::dial(rt.clone(), target.clone(), config.clone()).await?;
        let reconnect = config
            .reconnect()
            .map(|r| (r, dial::tcp(rt.clone(), target, config.clone())));
        Ok(Self::start(rt, Some(stream), Some(addr), config, reconnect))
    }

    /// A reconnecting client that connects in the background: it returns
    /// at once, dials `target` (with [`Config::reconnect`]'s backoff, or
    /// the default [`Reconnect`] when the config has none), and reconnects
    /// after every unplanned disconnect. Calls made before the first
    /// connection wait for it until their deadline, or fail at once with
    /// `Disconnected(NotConnected)` in fail-fast mode. Events say
    /// `Connected { addr }` and `Reconnecting { .. }`.
    ///
    /// # Errors
    /// [`ConnectError::InvalidTarget`] for a malformed target; connection
    /// errors arrive as `Reconnecting` events instead.
    pub fn connect_lazy(target: impl IntoTarget, config: Config) -> Result<Self, ConnectError> {
        let target = target.into_target()?;
        let rt = R::current();
        let reconnect = config.reconnect().unwrap_or_default();
        let dial = dial::tcp(rt.clone(), target, config.clone());
        Ok(Self::start(rt, None, None, config, Some((reconnect, dial))))
    }

    /// A client over any stream of the runtime (Unix socket, TLS, ...).
    /// Socket options are left as they are, and it does not reconnect.
    pub fn from_stream<S>(stream: S, config: Config) -> Self
    where
        R: WrapStream<S>,
    {
        Self::start(R::current(), Some(R::wrap(stream)), None, config, None)
    }

    /// Starts the driver over `io` (`None`: not connected yet), reconnecting
    /// with `reconnect` when given.
    fn start<S: Io>(
        rt: R,
        io: Option<S>,
        peer: Option<SocketAddr>,
        config: Config,
        reconnect: Option<(Reconnect, Dial<S>)>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let published = Arc::new(Published::new(
            peer,
            config.core().clone(),
            config.event_capacity(),
        ));
        let now = R::now();
        let mut core = Connection::client(config.core().clone(), now);
        let redial = reconnect.map(|(r, dial)| {
            core.set_reconnect(Some(if r.is_fail_fast() {
                WhileDisconnected::FailFast
            } else {
                WhileDisconnected::Hold
            }));
            Redial::new(rt.clone(), dial, &r)
        });
        let mut redial = redial;
        if io.is_none() {
            core.handle_io_error(now, DisconnectReason::NotConnected);
            if let Some(r) = &mut redial {
                r.dial_now();
            }
        }
        let driver = ClientDriver::new(rt.clone(), core, io, redial, rx, published.clone());
        rt.spawn(driver);
        Client {
            commands: tx,
            published,
            _runtime: PhantomData,
        }
    }

    /// The peer's address: of the current (or last) connection; `None`
    /// for [`from_stream`](Self::from_stream) and before a lazy client's
    /// first connection.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.published.peer()
    }

    /// Sends `payload` as a request with an id picked by the client and
    /// resolves to the response payload.
    ///
    /// The request is queued at once, before the future is first polled;
    /// dropping the future cancels the call (its id is freed and a late
    /// response is dropped and counted).
    ///
    /// # Errors
    /// A [`CallError`](crate::CallError): refused at once (`BufferFull`, `ShuttingDown`,
    /// `Closed`, ...) or completed without a response (`DeadlineExceeded`,
    /// `Closed`, `Disconnected`, `FailedByUser`, `Protocol`).
    pub fn call(&self, payload: impl Into<Bytes>) -> CallFuture {
        self.call_with(payload, CallOptions::new())
    }

    /// As [`call`](Self::call), with the caller's id; an id already
    /// pending fails at once with `DuplicateRpcId`. (The same as
    /// `call_with(payload, CallOptions::new().id(id))`; kept because the
    /// Node library and SPEC §3 name the operation.)
    pub fn call_with_id(&self, id: RpcId, payload: impl Into<Bytes>) -> CallFuture {
        self.call_with(payload, CallOptions::new().id(id))
    }

    /// As [`call`](Self::call), with options (id, per-call deadline).
    pub fn call_with(&self, payload: impl Into<Bytes>, opts: CallOptions) -> CallFuture {
        match self.try_call_with(payload, opts) {
            Ok(call) => call,
            Err(rejected) => CallFuture::failed(
                self.commands.clone(),
                self.published.clone(),
                rejected.error,
            ),
        }
    }

    /// As [`call`](Self::call), but a call refused at once hands its
    /// payload back: while more than `max_buffer_bytes` are unwritten
    /// (`BufferFull`), or once the connection is gone.
    ///
    /// The queue size is the one the driver published after its last turn;
    /// calls racing from other tasks can still fill the queue before this
    /// one reaches it, and the returned future then resolves to
    /// `BufferFull` too.
    ///
    /// # Errors
    /// [`Rejected`], with the error and the payload.
    pub fn try_call(&self, payload: impl Into<Bytes>) -> Result<CallFuture, Rejected> {
        self.try_call_with(payload, CallOptions::new())
    }

    /// As [`try_call`](Self::try_call), with options. A call that
    /// [`waits_for_room`](CallOptions::waits_for_room) is not refused with
    /// `BufferFull` here: the driver holds it until there is room.
    ///
    /// # Errors
    /// [`Rejected`], with the error and the payload.
    pub fn try_call_with(
        &self,
        payload: impl Into<Bytes>,
        opts: CallOptions,
    ) -> Result<CallFuture, Rejected> {
        let payload = payload.into();
        if let Err(error) = self.published.check_call(opts.waits_for_room()) {
            return Err(Rejected {
                error,
                payload,
                ctx: (),
            });
        }
        let (reply, rx) = oneshot::channel();
        let slot = CallSlot::new();
        let cmd = Command::Call {
            payload,
            opts,
            ctx: CallCtx {
                reply,
                slot: slot.clone(),
            },
        };
        match self.commands.send(cmd) {
            Ok(()) => Ok(CallFuture::sent(
                self.commands.clone(),
                self.published.clone(),
                rx,
                slot,
            )),
            Err(mpsc::error::SendError(cmd)) => {
                let Command::Call { payload, .. } = cmd else {
                    unreachable!("the command sent was a call")
                };
                Err(Rejected {
                    error: self.published.closed_reason(),
                    payload,
                    ctx: (),
                })
            }
        }
    }

    /// Closes at once: every pending call completes with `Closed`, no
    /// `Disconnected` event follows, later calls fail with `Closed`.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    /// Completes every pending call with `FailedByUser`; the connection
    /// stays usable.
    pub fn fail_pending(&self) {
        let _ = self.commands.send(Command::FailPending);
    }

    /// Graceful shutdown: refuses new calls (`ShuttingDown`), lets calls in
    /// flight finish for up to `grace`, then closes; resolves when the
    /// connection is closed.
    pub async fn shutdown(&self, grace: Duration) {
        let (done, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { grace, done })
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// The connection's counters as the driver last published them (after
    /// its last turn, and before it woke any caller with a result).
    pub fn stats(&self) -> Stats {
        self.published.stats()
    }

    /// Whether a `Pause` is in force: more than `warn_buffer_bytes` were
    /// unwritten and they have not yet fallen back to the low watermark.
    pub fn is_paused(&self) -> bool {
        self.published.is_paused()
    }

    /// Calls awaiting a response.
    pub fn pending_calls(&self) -> usize {
        self.published.pending_calls()
    }

    /// Subscribes to the connection's events from now on: `Pause`,
    /// `Resume`, `IdleTimeout`, `Disconnected`, `UnknownResponse`,
    /// `ProtocolError`. The stream ends when the connection is gone.
    pub fn events(&self) -> Events {
        self.published.events.subscribe(self.published.peer())
    }

    /// Whether the connection has ended (closed, failed or disconnected;
    /// a reconnecting client only ends by `close`, `shutdown` or dropping
    /// every handle).
    pub fn is_closed(&self) -> bool {
        self.published.is_closed() || self.commands.is_closed()
    }

    /// Ready for a call: `Ready(Ok)` while connected and not paused
    /// (unwritten bytes under `warn_buffer_bytes`, or back to the low
    /// watermark since), `Pending` otherwise (the task is woken when that
    /// changes), `Ready(Err)` with the reason once the client has ended.
    /// What the `tower::Service` impl's `poll_ready` answers.
    pub fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), framing_core::CallError>> {
        self.published.poll_ready(cx)
    }
}
