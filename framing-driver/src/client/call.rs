//! One call as the caller holds it: the future of its result, which
//! cancels the call when dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use framing_core::{CallError, RpcId};
use tokio::sync::{mpsc, oneshot};

use super::driver::Command;
use super::published::Published;

/// Where a call's id lives, shared by its future and its context in the
/// core. Only the driver reads or writes the id: it stores the id when the
/// core accepts the call and [`CallSlot::DONE`] when the call completes,
/// so when a dropped future's `Cancel` reaches it, the slot says whether
/// the call is still pending and under which id.
#[derive(Debug)]
pub(crate) struct CallSlot(AtomicU64);

impl CallSlot {
    /// Not accepted yet, refused, or completed.
    const DONE: u64 = u64::MAX;

    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CallSlot(AtomicU64::new(Self::DONE)))
    }

    /// The call is pending in the core under `id`.
    pub(crate) fn accepted(&self, id: RpcId) {
        self.0.store(id.0, Ordering::Relaxed);
    }

    /// The call is no longer pending.
    pub(crate) fn done(&self) {
        self.0.store(Self::DONE, Ordering::Relaxed);
    }

    /// The id of the call if it is still pending.
    pub(crate) fn pending_id(&self) -> Option<RpcId> {
        match self.0.load(Ordering::Relaxed) {
            Self::DONE => None,
            id => Some(RpcId(id)),
        }
    }
}

/// A call's context inside the core: where its result goes, and its slot.
#[derive(Debug)]
pub(crate) struct CallCtx {
    pub(crate) reply: oneshot::Sender<Result<Bytes, CallError>>,
    pub(crate) slot: Arc<CallSlot>,
}

impl CallCtx {
    /// Hands the call its result.
    pub(crate) fn complete(self, result: Result<Bytes, CallError>) {
        self.slot.done();
        // The caller may have given up; nothing to do then.
        let _ = self.reply.send(result);
    }
}

#[derive(Debug)]
enum CallState {
    Sent {
        rx: oneshot::Receiver<Result<Bytes, CallError>>,
        slot: Arc<CallSlot>,
    },
    Failed(Option<CallError>),
    Done,
}

/// The future of one call; see [`Client::call`](crate::Client::call).
/// Dropping it cancels the call: its id is freed, and a response that
/// arrives later is dropped and counted as late.
#[must_use = "a call is cancelled when its future is dropped"]
pub struct CallFuture {
    commands: mpsc::UnboundedSender<Command>,
    published: Arc<Published>,
    state: CallState,
}

impl std::fmt::Debug for CallFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture").finish_non_exhaustive()
    }
}

impl CallFuture {
    pub(crate) fn sent(
        commands: mpsc::UnboundedSender<Command>,
        published: Arc<Published>,
        rx: oneshot::Receiver<Result<Bytes, CallError>>,
        slot: Arc<CallSlot>,
    ) -> Self {
        CallFuture {
            commands,
            published,
            state: CallState::Sent { rx, slot },
        }
    }

    pub(crate) fn failed(
        commands: mpsc::UnboundedSender<Command>,
        published: Arc<Published>,
        error: CallError,
    ) -> Self {
        CallFuture {
            commands,
            published,
            state: CallState::Failed(Some(error)),
        }
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
                Poll::Ready(Err(_)) => Err(this.published.closed_reason()),
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
            // Completed but not polled, or refused: nothing to cancel.
            if let Err(oneshot::error::TryRecvError::Empty) = rx.try_recv() {
                let _ = self.commands.send(Command::Cancel(slot.clone()));
            }
        }
    }
}
