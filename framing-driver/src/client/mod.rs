//! The client: a cheap, cloneable handle to one connection, usable from
//! many tasks at once.

mod driver;

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use framing_core::{CallError, CallOptions, Connection, RpcId, Stats};
use futures_util::future::{select, Either};
use tokio::sync::{mpsc, oneshot};

use crate::event::{Events, Subscribers};
use crate::runtime::{Io, Runtime, WrapStream};
use crate::socket::configure;
use crate::{Config, ConnectError};
use driver::{CallCtx, ClientDriver, Command, UNASSIGNED};

/// State shared by the handles and the driver. The command sender lives
/// in each handle and call future instead: the driver holds this, and the
/// channel must close once the last handle and call are gone.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) events: Subscribers,
    pub(crate) peer: Option<SocketAddr>,
    final_error: Mutex<Option<CallError>>,
    /// Unwritten bytes as of the driver's last turn, so that a call made
    /// while the queue is over the limit is refused at once, in the caller.
    pub(crate) queued: AtomicUsize,
    max_buffer_bytes: usize,
    /// Calls refused with `BufferFull` in the caller, added to the
    /// connection's counters by [`Client::stats`].
    pub(crate) refused_full: AtomicU64,
}

impl Inner {
    pub(crate) fn set_final_error(&self, e: CallError) {
        *self.final_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    /// `BufferFull` if the queue, as of the driver's last turn, is over
    /// the limit.
    fn buffer_full(&self) -> Option<CallError> {
        let queued = self.queued.load(Ordering::Relaxed);
        if queued <= self.max_buffer_bytes {
            return None;
        }
        self.refused_full.fetch_add(1, Ordering::Relaxed);
        Some(CallError::BufferFull {
            queued,
            max: self.max_buffer_bytes,
        })
    }

    fn final_error(&self) -> CallError {
        self.final_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(CallError::Closed)
    }
}

/// A framed RPC client over one connection.
///
/// Cheap to clone: clones share the connection. Calls from any number of
/// tasks are batched onto the socket by one driver task. Every call
/// completes exactly once: with the response, or with a [`CallError`].
pub struct Client<R: Runtime> {
    commands: mpsc::UnboundedSender<Command>,
    inner: Arc<Inner>,
    _runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            commands: self.commands.clone(),
            inner: self.inner.clone(),
            _runtime: PhantomData,
        }
    }
}

impl<R: Runtime> std::fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.inner.peer)
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
    /// As [`connect`](Self::connect), plus [`ConnectError::Config`].
    pub async fn connect_with(addr: SocketAddr, config: Config) -> Result<Self, ConnectError> {
        config.validate().map_err(ConnectError::Config)?;
        let rt = R::current();
        let timer = rt.timer(Instant::now() + config.connect_timeout);
        let stream = match select(rt.connect(addr), timer).await {
            Either::Left((result, _)) => result.map_err(|e| ConnectError::from_io(addr, e))?,
            Either::Right(_) => {
                return Err(ConnectError::TimedOut {
                    addr,
                    after: config.connect_timeout,
                })
            }
        };
        configure(&R::socket(&stream), &config).map_err(ConnectError::Io)?;
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
        let inner = Arc::new(Inner {
            events: Subscribers::default(),
            peer,
            final_error: Mutex::new(None),
            queued: AtomicUsize::new(0),
            max_buffer_bytes: config.core.max_buffer_bytes(),
            refused_full: AtomicU64::new(0),
        });
        let core = Connection::client(config.core, Instant::now());
        let driver = ClientDriver::new(rt.clone(), core, io, rx, inner.clone());
        rt.spawn(driver);
        Client {
            commands: tx,
            inner,
            _runtime: PhantomData,
        }
    }

    /// The peer's address (`None` for [`from_stream`](Self::from_stream)).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer
    }

    /// Sends `payload` as a request with an id picked by the client and
    /// resolves to the response payload.
    ///
    /// The request is queued at once, before the future is first polled;
    /// dropping the future cancels the call (its id is freed and a late
    /// response is dropped and counted).
    ///
    /// # Errors
    /// A [`CallError`]: refused at once (`BufferFull`, `ShuttingDown`,
    /// `Closed`, ...) or completed without a response (`DeadlineExceeded`,
    /// `Closed`, `Disconnected`, `FailedByUser`, `Protocol`).
    pub fn call(&self, payload: impl Into<Bytes>) -> CallFuture {
        self.call_with(payload, CallOptions::new())
    }

    /// As [`call`](Self::call), with the caller's id; an id already
    /// pending fails at once with `DuplicateRpcId`.
    pub fn call_with_id(&self, id: RpcId, payload: impl Into<Bytes>) -> CallFuture {
        self.call_with(payload, CallOptions::new().id(id))
    }

    /// As [`call`](Self::call), with options (id, per-call deadline).
    pub fn call_with(&self, payload: impl Into<Bytes>, opts: CallOptions) -> CallFuture {
        match self.try_call_with(payload.into(), opts) {
            Ok(call) => call,
            Err(refused) => self.failed(refused.error),
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
    /// [`Refused`], with the error and the payload.
    pub fn try_call(&self, payload: impl Into<Bytes>) -> Result<CallFuture, Refused> {
        self.try_call_with(payload.into(), CallOptions::new())
    }

    /// As [`try_call`](Self::try_call), with options.
    ///
    /// # Errors
    /// [`Refused`], with the error and the payload.
    pub fn try_call_with(&self, payload: Bytes, opts: CallOptions) -> Result<CallFuture, Refused> {
        if let Some(error) = self.inner.buffer_full() {
            return Err(Refused { error, payload });
        }
        let (reply, rx) = oneshot::channel();
        let slot = Arc::new(AtomicU64::new(UNASSIGNED));
        let cmd = Command::Call {
            payload,
            opts,
            ctx: CallCtx {
                reply,
                id: slot.clone(),
            },
        };
        match self.commands.send(cmd) {
            Ok(()) => Ok(CallFuture {
                commands: self.commands.clone(),
                inner: self.inner.clone(),
                state: CallState::Sent { rx, slot },
            }),
            Err(mpsc::error::SendError(cmd)) => {
                let Command::Call { payload, .. } = cmd else {
                    unreachable!("the command sent was a call")
                };
                Err(Refused {
                    error: self.inner.final_error(),
                    payload,
                })
            }
        }
    }

    /// A call future that is already failed.
    fn failed(&self, error: CallError) -> CallFuture {
        CallFuture {
            commands: self.commands.clone(),
            inner: self.inner.clone(),
            state: CallState::Failed(Some(error)),
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
        let cmd = Command::Shutdown {
            deadline: Instant::now() + grace,
            done,
        };
        if self.commands.send(cmd).is_ok() {
            let _ = rx.await;
        }
    }

    /// The connection's counters, or `None` once it is closed.
    pub async fn stats(&self) -> Option<Stats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).ok()?;
        rx.await.ok()
    }

    /// Subscribes to the connection's events from now on: `Pause`,
    /// `Resume`, `IdleTimeout`, `Disconnected`, `UnknownResponse`,
    /// `ProtocolError`. The stream ends when the connection is gone.
    pub fn events(&self) -> Events {
        self.inner.events.subscribe()
    }

    /// Whether the connection has ended (closed, failed or disconnected).
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// A call refused at once by [`Client::try_call`], with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Why: `BufferFull`, or how the connection ended.
    pub error: CallError,
    /// The payload, handed back untouched.
    pub payload: Bytes,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call refused: {}", self.error)
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

enum CallState {
    Sent {
        rx: oneshot::Receiver<Result<Bytes, CallError>>,
        slot: Arc<AtomicU64>,
    },
    Failed(Option<CallError>),
    Done,
}

/// The future of one call; see [`Client::call`]. Dropping it cancels the call.
#[must_use = "a call is cancelled when its future is dropped"]
pub struct CallFuture {
    commands: mpsc::UnboundedSender<Command>,
    inner: Arc<Inner>,
    state: CallState,
}

impl std::fmt::Debug for CallFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture").finish_non_exhaustive()
    }
}

impl Future for CallFuture {
    type Output = Result<Bytes, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let out = match &mut this.state {
            CallState::Sent { rx, .. } => match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(result)) => result,
                // The driver ended before answering this call.
                Poll::Ready(Err(_)) => Err(this.inner.final_error()),
            },
            CallState::Failed(e) => Err(e.take().unwrap_or(CallError::Closed)),
            CallState::Done => panic!("CallFuture polled after completion"),
        };
        this.state = CallState::Done;
        Poll::Ready(out)
    }
}

impl Drop for CallFuture {
    fn drop(&mut self) {
        if let CallState::Sent { rx, slot } = &mut self.state {
            rx.close();
            // Pairs with the fence in the driver after it publishes the id.
            fence(Ordering::SeqCst);
            let id = slot.load(Ordering::SeqCst);
            if id != UNASSIGNED {
                let _ = self.commands.send(Command::Cancel {
                    id: RpcId(id),
                    slot: slot.clone(),
                });
            }
        }
    }
}
