//! `tower::Service` for the client (feature `tower`), so that tower's
//! timeouts, retries, rate limits and load balancers compose with it.

use std::task::{Context, Poll};

use bytes::Bytes;
use framing_core::{CallError, CallOptions};

use crate::{CallFuture, Client, Runtime};

impl<R: Runtime> tower::Service<Bytes> for Client<R> {
    type Response = Bytes;
    type Error = CallError;
    type Future = CallFuture;

    /// Honest readiness: `Pending` while the connection is over its
    /// `warn_buffer_bytes` watermark (woken at `Resume`) or, for a
    /// reconnecting client, while it has no connection (woken at
    /// `Connected`); an error once the client has ended for good. See
    /// [`Client::poll_ready`].
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Client::poll_ready(self, cx)
    }

    /// A call that waits for room rather than failing with `BufferFull`
    /// (bounded by its deadline): `poll_ready` already held callers back
    /// at the warning watermark.
    fn call(&mut self, request: Bytes) -> CallFuture {
        Client::call_with(self, request, CallOptions::new().wait_for_room())
    }
}

/// The load p2c balancing compares: calls awaiting a response (including
/// those waiting for room), as the driver last published it.
impl<R: Runtime> tower::load::Load for Client<R> {
    type Metric = usize;

    fn load(&self) -> usize {
        self.pending_calls()
    }
}
