//! A reconnecting client's attempts: wait the backoff delay, dial, and
//! either hand over the new stream or schedule the next attempt.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::backoff::Backoff;
use super::dial::Dial;
use crate::event::{EventKind, ReconnectCause};
use crate::runtime::{BoxFuture, Runtime};
use crate::{ConnectError, Reconnect};

/// What an attempt came to.
pub(crate) enum Outcome<S> {
    /// A new connection.
    Connected(S, SocketAddr),
    /// The attempt failed; the next is scheduled (the event says when).
    Retrying(EventKind),
}

enum Step<R: Runtime, S> {
    /// Connected: nothing to do until the next loss.
    Idle,
    /// Waiting out the delay before the next attempt.
    Waiting(R::Timer),
    /// Dialing.
    Dialing(BoxFuture<'static, Result<(S, SocketAddr), ConnectError>>),
}

pub(crate) struct Redial<R: Runtime, S> {
    rt: R,
    dial: Dial<S>,
    backoff: Backoff,
    step: Step<R, S>,
    /// Attempts since the last connection.
    attempt: u32,
}

impl<R: Runtime, S> Redial<R, S> {
    pub(crate) fn new(rt: R, dial: Dial<S>, reconnect: &Reconnect) -> Self {
        Redial {
            rt,
            dial,
            backoff: Backoff::new(reconnect),
            step: Step::Idle,
            attempt: 0,
        }
    }

    /// Starts dialing at once (a lazy client's first connection).
    pub(crate) fn dial_now(&mut self) {
        self.attempt = 1;
        self.step = Step::Dialing((self.dial)());
    }

    /// The connection was lost: the first attempt waits a backoff delay.
    pub(crate) fn lost(&mut self, cause: ReconnectCause) -> EventKind {
        self.attempt = 0;
        self.schedule(cause)
    }

    fn schedule(&mut self, cause: ReconnectCause) -> EventKind {
        self.attempt += 1;
        let delay = self.backoff.next_delay();
        self.step = Step::Waiting(self.rt.timer(R::now() + delay));
        EventKind::Reconnecting {
            attempt: self.attempt,
            delay,
            last_error: cause,
        }
    }

    /// Moves the attempts on: `Ready` when one connected or failed.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Outcome<S>> {
        loop {
            match &mut self.step {
                Step::Idle => return Poll::Pending,
                Step::Waiting(timer) => {
                    std::task::ready!(Pin::new(timer).poll(cx));
                    self.step = Step::Dialing((self.dial)());
                }
                Step::Dialing(fut) => {
                    let result = std::task::ready!(fut.as_mut().poll(cx));
                    return Poll::Ready(match result {
                        Ok((stream, addr)) => {
                            self.step = Step::Idle;
                            self.backoff.reset();
                            self.attempt = 0;
                            Outcome::Connected(stream, addr)
                        }
                        Err(e) => {
                            Outcome::Retrying(self.schedule(ReconnectCause::Failed(Arc::new(e))))
                        }
                    });
                }
            }
        }
    }
}
