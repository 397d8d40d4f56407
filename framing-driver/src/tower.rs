//! `tower::Service` for the client (feature `tower`), so that tower's
//! timeouts, retries, rate limits and load balancers compose with it.

use std::task::{Context, Poll};

use bytes::Bytes;
use framing_core::CallError;

use crate::{CallFuture, Client, Runtime};

impl<R: Runtime> tower::Service<Bytes> for Client<R> {
    type Response = Bytes;
    type Error = CallError;
    type Future = CallFuture;

    /// Always ready: back-pressure is the connection's `BufferFull`
    /// refusal and the `Pause`/`Resume` events.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Bytes) -> CallFuture {
        Client::call(self, request)
    }
}
