//! The client: a cheap, cloneable handle to one connection, usable from
//! many tasks at once.
//!
//! - `mod.rs`: the handle, [`Client`];
//! - `call.rs`: one call's future, which cancels the call when dropped;
//! - `published.rs`: what the driver publishes for the handles to read;
//! - `driver.rs`: the task that owns the connection.

mod call;
mod driver;
mod published;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use framing_core::{CallOptions, Connection, Rejected, RpcId, Stats};
use futures_util::future::{select, Either};
use tokio::sync::{mpsc, oneshot};

use crate::event::Events;
use crate::runtime::{Io, Runtime, WrapStream};
use crate::socket::configure;
use crate::{Config, ConnectError};
pub use call::CallFuture;
use call::{CallCtx, CallSlot};
use driver::{ClientDriver, Command};
pub(crate) use published::Published;

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
            .field("peer", &self.published.peer)
            .finish()
    }
}

impl<R: Runtime> Client<R> {
    /// Connects with the default [`Config`].
    ///
    /// # Errors
    /// [`ConnectError::HostUnavailable`] when the connection is refused or
    /// the host unreachable, [`ConnectError::TimedOut`] after 5 s.
    pub async fn connect(addr: SocketAddr) -> Result<Self, ConnectError> {
        Self::connect_with(addr, Config::default()).await
    }

    /// Connects with the given settings: connect timeout, TCP_NODELAY and
    /// keepalive are applied to the socket.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(addr: SocketAddr, config: Config) -> Result<Self, ConnectError> {
        let rt = R::current();
        let timer = rt.timer(R::now() + config.connect_timeout());
        let stream = match select(rt.connect(addr), timer).await {
            Either::Left((result, _)) => result.map_err(|e| ConnectError::from_io(addr, e))?,
            Either::Right(_) => {
                return Err(ConnectError::TimedOut {
                    addr,
                    after: config.connect_timeout(),
                })
            }
        };
        if let Some(sock) = R::socket(&stream) {
            configure(&sock, &config).map_err(ConnectError::Io)?;
        }
        Ok(Self::start(rt, stream, Some(addr), config))
    }

    /// A client over any stream of the runtime (Unix socket, TLS, ...).
    /// Socket options are left as they are.
    pub fn from_stream<S>(stream: S, config: Config) -> Self
    where
        R: WrapStream<S>,
    {
        Self::start(R::current(), R::wrap(stream), None, config)
    }

    fn start<S: Io>(rt: R, io: S, peer: Option<SocketAddr>, config: Config) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let published = Arc::new(Published::new(
            peer,
            config.core().clone(),
            config.event_capacity(),
        ));
        let core = Connection::client(config.core().clone(), R::now());
        let driver = ClientDriver::new(rt.clone(), core, io, rx, published.clone());
        rt.spawn(driver);
        Client {
            commands: tx,
            published,
            _runtime: PhantomData,
        }
    }

    /// The peer's address (`None` for [`from_stream`](Self::from_stream)).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.published.peer
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

    /// As [`try_call`](Self::try_call), with options.
    ///
    /// # Errors
    /// [`Rejected`], with the error and the payload.
    pub fn try_call_with(
        &self,
        payload: impl Into<Bytes>,
        opts: CallOptions,
    ) -> Result<CallFuture, Rejected> {
        let payload = payload.into();
        if let Err(error) = self.published.check_call() {
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
        self.published.events.subscribe(self.published.peer)
    }

    /// Whether the connection has ended (closed, failed or disconnected).
    pub fn is_closed(&self) -> bool {
        self.published.is_closed() || self.commands.is_closed()
    }
}
