//! What answers requests: a [`Handler`] per connection, made by a
//! [`MakeHandler`] for each connection the server accepts, so that each
//! connection can keep state of its own.
//!
//! An async closure from payload to payload is the simplest handler
//! ([`Server::serve`](crate::Server::serve)); with feature `tower`, any
//! `tower::Service<Request>` is one, with tower's layers in front of it
//! ([`Server::serve_service`](crate::Server::serve_service)).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use framing_core::RpcId;

/// An error a handler returns: boxed, as tower's.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request, as a [`Handler`] receives it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The request's payload, a slice of the read buffer.
    pub payload: Bytes,
    /// The rpc id it will be answered with (its sequence number when the
    /// frame format has no id field).
    pub id: RpcId,
    /// The connection it came on.
    pub connection: Arc<ConnectionInfo>,
}

/// Who is asking: one accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Numbers the server's connections from 0, in accept order.
    pub id: u64,
    /// The peer, when the stream has an address.
    pub peer: Option<SocketAddr>,
}

/// Answers the requests of one connection.
///
/// As a `tower::Service`: [`poll_ready`](Self::poll_ready) says whether a
/// request may be handed over now (a concurrency limit says `Pending`;
/// the connection then stops reading until it is ready again), and
/// [`call`](Self::call) returns the future of the answer. An `Err`, a
/// panic, or (with a request timeout) a future that takes too long fails
/// only that request.
pub trait Handler: Send + 'static {
    /// The future of one answer.
    type Future: Future<Output = Result<Bytes, BoxError>> + Send + 'static;

    /// Whether the handler takes a request now.
    ///
    /// # Errors
    /// The handler cannot take requests any more: the request waiting for
    /// it fails.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>;

    /// Starts answering `request`.
    fn call(&mut self, request: Request) -> Self::Future;
}

/// Makes the [`Handler`] of each accepted connection.
pub trait MakeHandler: Send + Sync + 'static {
    /// The handler of one connection.
    type Handler: Handler;

    /// The handler for a new connection.
    fn make_handler(&self, connection: &ConnectionInfo) -> Self::Handler;
}

/// The closure form: every connection shares one async function from
/// request payload to response payload.
#[derive(Debug)]
pub struct FnHandler<H>(pub(crate) Arc<H>);

impl<H> Clone for FnHandler<H> {
    fn clone(&self) -> Self {
        FnHandler(self.0.clone())
    }
}

impl<H, F> Handler for FnHandler<H>
where
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    type Future = FnAnswer<F>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> FnAnswer<F> {
        FnAnswer {
            fut: (self.0)(request.payload),
        }
    }
}

impl<H, F> MakeHandler for FnHandler<H>
where
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    type Handler = Self;

    fn make_handler(&self, _connection: &ConnectionInfo) -> Self {
        self.clone()
    }
}

pin_project_lite::pin_project! {
    /// A closure handler's answer: it cannot fail (a panic is caught by
    /// the server all the same).
    #[derive(Debug)]
    pub struct FnAnswer<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future<Output = Bytes>> Future for FnAnswer<F> {
    type Output = Result<Bytes, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().fut.poll(cx).map(Ok)
    }
}
