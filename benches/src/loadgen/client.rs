//! The one call the load generator makes, for the baseline client, the
//! framing client and the framing pool.

use std::future::Future;

use bytes::Bytes;
use framing_driver::{CallOptions, Client, Pool, Runtime};

use super::{Limits, LoadError};
use crate::baseline::BaselineClient;

/// A client the load generator can drive: one call with the cell's
/// deadline (and, for framing clients, its choice to wait for room).
pub trait LoadClient: Clone + Send + Sync + 'static {
    /// Sends `payload` and resolves to the answer.
    fn call(
        &self,
        payload: Bytes,
        limits: &Limits,
    ) -> impl Future<Output = Result<Bytes, LoadError>> + Send;
}

/// The framing call options a cell's limits ask for.
fn options(limits: &Limits) -> CallOptions {
    let opts = CallOptions::new().timeout(limits.deadline);
    if limits.wait_for_room {
        opts.wait_for_room()
    } else {
        opts
    }
}

impl LoadClient for BaselineClient {
    /// The baseline never refuses a call (its queue is unbounded), so
    /// `wait_for_room` does not apply.
    async fn call(&self, payload: Bytes, limits: &Limits) -> Result<Bytes, LoadError> {
        self.call_timeout(payload, limits.deadline)
            .await
            .map_err(LoadError::Baseline)
    }
}

impl<R: Runtime> LoadClient for Client<R> {
    async fn call(&self, payload: Bytes, limits: &Limits) -> Result<Bytes, LoadError> {
        self.call_with(payload, options(limits))
            .await
            .map_err(LoadError::Framing)
    }
}

impl<R: Runtime> LoadClient for Pool<R> {
    /// The pool's calls always wait for room.
    async fn call(&self, payload: Bytes, limits: &Limits) -> Result<Bytes, LoadError> {
        self.call_with(payload, options(limits))
            .await
            .map_err(LoadError::Framing)
    }
}
