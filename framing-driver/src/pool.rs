//! One client over several hosts (feature `tower`): tower's power-of-two-
//! choices balancer ([`tower::balance::p2c::Balance`]) over a reconnecting
//! client per host, fed by tower's [`Discover`](tower::discover::Discover).
//!
//! Each host is a lazy reconnecting [`Client`]: a host that is down is
//! not ready (its `poll_ready` is `Pending` while it reconnects with
//! backoff), so p2c skips it and takes it back once it is connected again;
//! a host that answers slowly has more calls pending, its `Load`, so it
//! gets fewer new ones. Membership can change at run time.
//!
//! The balancer is shared by every handle behind a mutex held only while
//! it picks an endpoint (no await under it), instead of tower's `Buffer`
//! (a channel hop and a worker task per call). Its wake-ups go to every
//! task waiting for an endpoint.

use std::convert::Infallible;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use framing_core::{CallError, CallOptions};
use futures_core::Stream;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use tower::balance::p2c::Balance;
use tower::discover::Change;
use tower::Service;

use crate::{Client, Config, ConnectError, IntoTarget, Runtime, Target};

/// The balancer's future for a pick: the chosen member's client, at once.
type PickFuture<R, K> = <Balance<Members<R, K>, Picked> as Service<Picked>>::Future;

type Members<R, K> =
    Pin<Box<dyn Stream<Item = Result<Change<K, Member<R>>, Infallible>> + Send + 'static>>;

/// What identifies a member of a [`Pool`] in its membership changes.
pub trait Key: Hash + Eq + Clone + Send + 'static {}

impl<K: Hash + Eq + Clone + Send + 'static> Key for K {}

/// Clients of several hosts, balanced by pending calls (p2c).
///
/// Cheap to clone: clones share the balancer and the connections.
///
/// # Examples
///
/// ```no_run
/// use framing_driver::{Config, Pool, Runtime};
///
/// // With an adapter: `framing_tokio::Pool::new(..)`, same arguments.
/// async fn ping<R: Runtime>() -> Result<(), Box<dyn std::error::Error>> {
///     let pool = Pool::<R>::new(["127.0.0.1:7000", "127.0.0.2:7000"], Config::default())?;
///     let answer = pool.call("ping").await?;
///     assert_eq!(&answer[..], b"ping");
///     Ok(())
/// }
/// ```
pub struct Pool<R: Runtime, K: Key = usize> {
    shared: Arc<Shared<R, K>>,
    config: Config,
    _runtime: PhantomData<fn() -> R>,
}

struct Shared<R: Runtime, K: Key> {
    balance: Mutex<Balance<Members<R, K>, Picked>>,
    wake: Arc<WakeAll>,
}

impl<R: Runtime, K: Key> Clone for Pool<R, K> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
            config: self.config.clone(),
            _runtime: PhantomData,
        }
    }
}

impl<R: Runtime, K: Key> fmt::Debug for Pool<R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl<R: Runtime> Pool<R, usize> {
    /// A pool over a fixed list of hosts, each reached by a lazy
    /// reconnecting client with `config` (its `reconnect` backoff, or the
    /// default).
    ///
    /// # Errors
    /// [`ConnectError::InvalidTarget`] for a malformed target.
    pub fn new<T: IntoTarget>(
        targets: impl IntoIterator<Item = T>,
        config: Config,
    ) -> Result<Self, ConnectError> {
        let mut members = Vec::new();
        for (i, target) in targets.into_iter().enumerate() {
            members.push(Change::Insert(i, target.into_target()?));
        }
        Ok(Self::discover(futures_util::stream::iter(members), config))
    }
}

impl<R: Runtime, K: Key> Pool<R, K> {
    /// A pool whose members come and go: `Change::Insert(key, target)`
    /// adds a host (a lazy reconnecting client), `Change::Remove(key)`
    /// drops it (its calls in flight still complete). The pool keeps
    /// working after the stream ends.
    pub fn discover(
        members: impl Stream<Item = Change<K, Target>> + Send + 'static,
        config: Config,
    ) -> Self {
        let client_config = config.clone();
        let members = members
            .filter_map(move |change| {
                let member = match change {
                    Change::Insert(key, target) => {
                        Client::connect_lazy(target, client_config.clone())
                            .ok()
                            .map(|client| Change::Insert(key, Member(client)))
                    }
                    Change::Remove(key) => Some(Change::Remove(key)),
                };
                std::future::ready(member.map(Ok))
            })
            // Balance polls discovery after it ended.
            .fuse();
        let members: Members<R, K> = Box::pin(members);
        Pool {
            shared: Arc::new(Shared {
                balance: Mutex::new(Balance::from_rng(members, PickRng(fastrand::Rng::new()))),
                wake: Arc::new(WakeAll::default()),
            }),
            config,
            _runtime: PhantomData,
        }
    }

    /// Sends `payload` to one of the hosts (the less loaded of two picked
    /// at random among those ready) and resolves to the response.
    ///
    /// # Errors
    /// As [`Client::call`]; `DeadlineExceeded` also when no host became
    /// ready before the call's deadline.
    pub async fn call(&self, payload: impl Into<Bytes>) -> Result<Bytes, CallError> {
        self.call_with(payload, CallOptions::new()).await
    }

    /// As [`call`](Self::call), with options. The deadline covers the wait
    /// for a ready host too. The call waits for room rather than failing
    /// with `BufferFull` (as through [`tower::Service`]).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_with(
        &self,
        payload: impl Into<Bytes>,
        opts: CallOptions,
    ) -> Result<Bytes, CallError> {
        let payload = payload.into();
        let mut opts = opts.wait_for_room();
        // Mostly a host is ready at once: then the client's own deadline
        // (a timer of its core) is the call's, and no runtime timer is
        // armed per call (one was, for every call, costing a registration
        // and a removal in the runtime's timer wheel).
        let first = std::future::poll_fn(|cx| Poll::Ready(self.poll_pick(cx))).await;
        let picked = match first {
            Poll::Ready(picked) => picked?,
            Poll::Pending => {
                let timeout = opts.effective_timeout(self.config.core().call_timeout());
                let wait = std::future::poll_fn(|cx| self.poll_pick(cx));
                match timeout {
                    None => wait.await?,
                    Some(t) => {
                        let at = R::now() + t;
                        futures_util::pin_mut!(wait);
                        let picked = match select(wait, R::current().timer(at)).await {
                            Either::Left((picked, _)) => picked?,
                            Either::Right(_) => return Err(CallError::DeadlineExceeded),
                        };
                        // The call has what is left of its deadline.
                        let left = at.saturating_duration_since(R::now());
                        opts = opts.timeout(left.max(Duration::from_nanos(1)));
                        picked
                    }
                }
            }
        };
        // Ready at once: the member hands itself back.
        let client = picked.await.map_err(to_call_error)?;
        client.call_with(payload, opts).await
    }

    fn poll_pick(&self, cx: &mut Context<'_>) -> Poll<Result<PickFuture<R, K>, CallError>> {
        let wake = &self.shared.wake;
        let seen = wake.generation();
        let mut balance = self
            .shared
            .balance
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let waker = Waker::from(wake.clone());
        match balance.poll_ready(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(balance.call(Picked))),
            // Balance drops an endpoint whose poll_ready failed (a client
            // that ended for good) and reports no error itself.
            Poll::Ready(Err(e)) => Poll::Ready(Err(to_call_error(e))),
            Poll::Pending => {
                drop(balance);
                wake.register(cx.waker());
                if wake.generation() != seen {
                    // Woken between the poll and the registration.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

/// Wakes every task waiting for a ready endpoint: the one waker the
/// balancer sees, whoever polled it last.
#[derive(Default)]
struct WakeAll {
    waiters: Mutex<Vec<Waker>>,
    generation: AtomicU64,
}

impl WakeAll {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn register(&self, waker: &Waker) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }
}

impl Wake for WakeAll {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for w in waiters {
            w.wake();
        }
    }
}

/// p2c's random picks, forked from fastrand's thread-local generator as the
/// reconnect backoff's jitter is (`Balance::new` seeds from the process's
/// random hasher keys): a simulation that seeds fastrand replays them.
struct PickRng(fastrand::Rng);

impl tower::util::rng::Rng for PickRng {
    fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }
}

fn to_call_error(e: tower::BoxError) -> CallError {
    match e.downcast::<CallError>() {
        Ok(e) => *e,
        Err(_) => CallError::Closed,
    }
}

/// The "request" the balancer routes: nothing but the choice. Its
/// response is the chosen client, so the real call runs outside the lock.
#[derive(Debug)]
struct Picked;

/// A host of the pool, as the balancer sees it: ready when its client is
/// ([`Client::poll_ready`]), loaded by its pending calls.
struct Member<R: Runtime>(Client<R>);

impl<R: Runtime> Service<Picked> for Member<R> {
    type Response = Client<R>;
    type Error = CallError;
    type Future = std::future::Ready<Result<Client<R>, CallError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, _: Picked) -> Self::Future {
        std::future::ready(Ok(self.0.clone()))
    }
}

impl<R: Runtime> tower::load::Load for Member<R> {
    type Metric = usize;

    fn load(&self) -> usize {
        self.0.pending_calls()
    }
}
