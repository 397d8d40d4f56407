//! The one call the load generator makes, for the baseline and framing clients.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::baseline::BaselineClient;

/// A client the load generator can drive: one call with a deadline.
pub trait LoadClient: Clone + Send + Sync + 'static {
    /// Sends `payload` and resolves to the response length, or a
    /// description of the failure.
    fn call(
        &self,
        payload: Bytes,
        deadline: Duration,
    ) -> impl Future<Output = Result<usize, String>> + Send;
}

impl LoadClient for BaselineClient {
    async fn call(&self, payload: Bytes, deadline: Duration) -> Result<usize, String> {
        self.call_timeout(payload, deadline)
            .await
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    }
}

impl<R: framing_driver::Runtime> LoadClient for framing_driver::Client<R> {
    async fn call(&self, payload: Bytes, deadline: Duration) -> Result<usize, String> {
        let opts = framing_driver::CallOptions::new().timeout(deadline);
        self.call_with(payload, opts)
            .await
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    }
}
