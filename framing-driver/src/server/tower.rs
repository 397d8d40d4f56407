//! `tower::Service` handlers (feature `tower`): a service made per
//! connection, so tower's layers (timeout, concurrency limit, load
//! shedding, tracing) apply per connection.

use std::task::{Context, Poll};

use bytes::Bytes;

use super::handler::{BoxError, ConnectionInfo, Handler, MakeHandler, Request};

/// A `tower::Service<Request>` as a [`Handler`]: made per connection by a
/// closure, see [`Server::serve_service`](crate::Server::serve_service).
#[derive(Debug, Clone)]
pub struct ServiceHandler<S>(S);

impl<S> Handler for ServiceHandler<S>
where
    S: tower::Service<Request, Response = Bytes> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Future = futures_util::future::MapErr<S::Future, fn(S::Error) -> BoxError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        use futures_util::TryFutureExt;
        self.0
            .call(request)
            .map_err(Into::into as fn(S::Error) -> BoxError)
    }
}

/// Makes a service for each connection with a closure (which may capture
/// shared state, or start fresh state per connection).
#[derive(Debug, Clone)]
pub struct MakeService<M>(pub(crate) M);

impl<M, S> MakeHandler for MakeService<M>
where
    M: Fn(&ConnectionInfo) -> S + Send + Sync + 'static,
    S: tower::Service<Request, Response = Bytes> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Handler = ServiceHandler<S>;

    fn make_handler(&self, connection: &ConnectionInfo) -> ServiceHandler<S> {
        ServiceHandler((self.0)(connection))
    }
}
