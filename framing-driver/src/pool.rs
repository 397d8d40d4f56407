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
//!
//! A handle keeps the host p2c picked for it for its next calls, up to
//! `STICKY_CALLS` (64) in all, as long as every earlier call it sent there
//! was answered, the host is ready, and no member came or went; then it
//! asks the balancer again, and moves to p2c's pick only if that host has
//! clearly fewer calls pending (at most three quarters). A task that
//! clones the pool makes its calls
//! one after another on one connection, as with a plain client, so the
//! connection's driver can batch them with the calls of the other tasks
//! its answers woke. Picking anew for every call spread those calls
//! over every connection, so each `writev` carried a fifth of the frames
//! at five connections: `framing-loadgen --pool` at 50 B / window 200 made
//! 2.9× the `writev` calls of the plain client and reached 0.26× its
//! RPC/s. A handle shared by concurrent calls picks for each call, as
//! before: one of them is always still unanswered.

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
/// Cheap to clone: clones share the balancer and the connections. Each
/// handle sends its calls, one after another, to the host p2c last picked
/// for it, for up to 64 calls while they are answered and the host stays
/// ready, so that a task with its own clone batches like a plain client's
/// caller; a handle shared by concurrent calls picks for every call.
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
    /// The host this handle's calls go to until they must pick again.
    sticky: Mutex<Sticky<R>>,
    _runtime: PhantomData<fn() -> R>,
}

/// Calls a handle sends to the host p2c picked for it before it asks the
/// balancer again (see the module doc). A task's calls follow a change of
/// load within 64 of its calls (at once when its host stops answering,
/// pauses or goes down). `framing-loadgen --pool` at 50 B / window 200,
/// 300,000 calls over 5 connections to one host, medians of 5 runs
/// (CPU seconds, RPC/s): a pick per call 1.26 s, 75 k; sticky for 16
/// calls 0.52 s, 193 k; 32 calls 0.49 s, 202 k; 64 calls 0.46 s, 206 k;
/// the plain client 0.40 s, 233 k. Moving only to a clearly less loaded
/// host at the end of the 64 calls then took the `writev` count back to
/// the plain client's (17.6 k vs 17.7 k; 19.4 k when every re-pick
/// moved) and CPU to 1.09× its (medians of 6).
const STICKY_CALLS: u32 = 64;

struct Shared<R: Runtime, K: Key> {
    balance: Mutex<Balance<Members<R, K>, Picked>>,
    wake: Arc<WakeAll>,
    /// Bumped at every membership change, so no handle keeps a host that
    /// left (or was replaced).
    members: Arc<AtomicU64>,
}

/// What became of a call offered to a handle's host.
enum Stuck<R: Runtime> {
    /// Sent to it, under this epoch.
    Sent(crate::CallFuture, u64),
    /// Not sent: its calls are used up, but it is ready and answering.
    Expired(Client<R>),
    /// Not sent: no host, or one to let go.
    None,
}

/// Whether `fresh`, just picked by p2c, is clearly less loaded than
/// `old`, the host a handle's calls went to: at most three quarters of its
/// pending calls. Otherwise the handle keeps `old`, so that hosts about
/// as loaded do not trade tasks (each move costs the batching of the
/// moved calls), while a host that falls behind loses tasks.
fn less_loaded<R: Runtime>(fresh: &Client<R>, old: &Client<R>) -> bool {
    fresh.pending_calls() * 4 < old.pending_calls() * 3
}

/// A handle's current host, if it may keep it.
struct Sticky<R: Runtime> {
    host: Option<StuckTo<R>>,
    /// Numbers the hosts a handle sticks to, so that a late answer from
    /// an earlier one is not counted for the current one.
    epochs: u64,
}

struct StuckTo<R: Runtime> {
    client: Client<R>,
    epoch: u64,
    /// `Shared::members` when the host was picked.
    members: u64,
    /// Calls it may still take before the next pick.
    calls_left: u32,
    /// Calls sent to it through this handle and not yet answered.
    unanswered: u32,
}

impl<R: Runtime> Default for Sticky<R> {
    fn default() -> Self {
        Sticky {
            host: None,
            epochs: 0,
        }
    }
}

impl<R: Runtime, K: Key> Clone for Pool<R, K> {
    /// Another handle on the same hosts, with its own sticky host (none
    /// yet).
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
            config: self.config.clone(),
            sticky: Mutex::default(),
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
    /// drops it (its calls in flight still complete; a handle that kept
    /// it for its calls lets it go at its next call). The pool keeps
    /// working after the stream ends.
    pub fn discover(
        members: impl Stream<Item = Change<K, Target>> + Send + 'static,
        config: Config,
    ) -> Self {
        let client_config = config.clone();
        let generation = Arc::new(AtomicU64::new(0));
        let changed = generation.clone();
        let members = members
            .filter_map(move |change| {
                changed.fetch_add(1, Ordering::AcqRel);
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
                members: generation,
            }),
            config,
            sticky: Mutex::default(),
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
        let mut payload = Some(payload.into());
        let mut opts = opts.wait_for_room();
        let members = self.shared.members.load(Ordering::Acquire);
        let stuck = std::future::poll_fn(|cx| {
            Poll::Ready(self.call_stuck(cx, members, &mut payload, opts))
        })
        .await;
        let mut incumbent = match stuck {
            Stuck::Sent(call, epoch) => {
                let result = call.await;
                self.answered(epoch, result.is_ok());
                return result;
            }
            Stuck::Expired(client) => Some(client),
            Stuck::None => None,
        };
        let payload = payload.expect("sent only when stuck");
        // Mostly a host is ready at once: then the client's own deadline
        // (a timer of its core) is the call's, and no runtime timer is
        // armed per call (one was, for every call, costing a registration
        // and a removal in the runtime's timer wheel).
        let first = std::future::poll_fn(|cx| Poll::Ready(self.poll_pick(cx))).await;
        let client = match first {
            Poll::Ready(picked) => {
                // Ready at once: the member hands itself back.
                let fresh = picked?.await.map_err(to_call_error)?;
                match incumbent.take() {
                    Some(old) if !less_loaded(&fresh, &old) => old,
                    _ => fresh,
                }
            }
            // The host this handle had is still ready.
            Poll::Pending if incumbent.is_some() => incumbent.take().expect("some"),
            Poll::Pending => {
                let timeout = opts.effective_timeout(self.config.core().call_timeout());
                let wait = std::future::poll_fn(|cx| self.poll_pick(cx));
                let picked = match timeout {
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
                };
                picked.await.map_err(to_call_error)?
            }
        };
        let call = client.call_with(payload, opts);
        let epoch = self.stick(client, members);
        let result = call.await;
        self.answered(epoch, result.is_ok());
        result
    }

    fn lock_sticky(&self) -> std::sync::MutexGuard<'_, Sticky<R>> {
        self.sticky.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the call to this handle's host if it may keep it: every
    /// earlier call answered, no membership change since `members`, the
    /// host ready, and calls left. With no calls left (but all else
    /// holding) hands the host back to be weighed against a fresh pick;
    /// otherwise lets it go. Leaves `payload` unless it sent the call.
    fn call_stuck(
        &self,
        cx: &mut Context<'_>,
        members: u64,
        payload: &mut Option<Bytes>,
        opts: CallOptions,
    ) -> Stuck<R> {
        let mut sticky = self.lock_sticky();
        let Some(host) = sticky.host.as_mut() else {
            return Stuck::None;
        };
        let usable = host.unanswered == 0
            && host.members == members
            && matches!(host.client.poll_ready(cx), Poll::Ready(Ok(())));
        if !usable || host.calls_left == 0 {
            let host = sticky.host.take().expect("some");
            return if usable {
                Stuck::Expired(host.client)
            } else {
                Stuck::None
            };
        }
        let Some(sent) = payload.take() else {
            return Stuck::None;
        };
        host.calls_left -= 1;
        host.unanswered += 1;
        Stuck::Sent(host.client.call_with(sent, opts), host.epoch)
    }

    /// Makes `client`, just picked and sent a call, this handle's host;
    /// returns its epoch.
    fn stick(&self, client: Client<R>, members: u64) -> u64 {
        let mut sticky = self.lock_sticky();
        sticky.epochs += 1;
        let epoch = sticky.epochs;
        sticky.host = Some(StuckTo {
            client,
            epoch,
            members,
            calls_left: STICKY_CALLS - 1,
            unanswered: 1,
        });
        epoch
    }

    /// A call sent to the host of `epoch` ended: answered, or not (then
    /// the handle picks again next time).
    fn answered(&self, epoch: u64, ok: bool) {
        let mut sticky = self.lock_sticky();
        match &mut sticky.host {
            Some(host) if host.epoch == epoch && ok => {
                host.unanswered = host.unanswered.saturating_sub(1);
            }
            Some(host) if host.epoch == epoch => sticky.host = None,
            _ => {}
        }
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
