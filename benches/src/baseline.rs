//! The baseline: what a Rust engineer would write by hand with tokio-util.
//!
//! A client on [`LengthDelimitedCodec`] with a `HashMap<u32, oneshot::Sender>`
//! of pending calls behind a `Mutex`, one writer task fed by an mpsc
//! channel (batching with `feed` and one `flush` per burst) and one reader
//! task matching responses; and an echo server on
//! `Framed<TcpStream, LengthDelimitedCodec>`. The wire format is the
//! framing default:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n: LengthDelimitedCodec's frame body is id + payload
//! ```
//!
//! It is the fair comparison point for the benchmarks and
//! `framing-loadgen --baseline`: idiomatic and reasonably efficient, not a
//! straw man.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use framing_benches::baseline::{BaselineClient, EchoServer};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = EchoServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
//! let client = BaselineClient::connect(server.local_addr()).await.unwrap();
//! let answer = client.call(Bytes::from_static(b"ping")).await.unwrap();
//! assert_eq!(&answer[..], b"ping");
//! # });
//! ```

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LengthDelimitedCodec};

/// Maximum frame length, as the framing default (8 MiB).
pub const MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// The codec for the default wire format: a 4-byte big-endian length that
/// counts the body (rpc id + payload), not itself.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .length_adjustment(0)
        .max_frame_length(MAX_FRAME_LENGTH)
        .new_codec()
}

/// Why a baseline call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineError {
    /// No response before the deadline.
    DeadlineExceeded,
    /// The connection ended before the response arrived.
    Disconnected,
}

impl std::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineError::DeadlineExceeded => f.write_str("deadline exceeded"),
            BaselineError::Disconnected => f.write_str("disconnected"),
        }
    }
}

impl std::error::Error for BaselineError {}

type PendingMap = Mutex<HashMap<u32, oneshot::Sender<Bytes>>>;

struct Shared {
    pending: Arc<PendingMap>,
    next_id: AtomicU32,
    tx: mpsc::UnboundedSender<Bytes>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// A client on `LengthDelimitedCodec` + `HashMap<u32, oneshot::Sender>`.
///
/// Cheap to clone; usable from many tasks at once. Must be created inside
/// a tokio runtime.
#[derive(Clone)]
pub struct BaselineClient {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BaselineClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaselineClient").finish_non_exhaustive()
    }
}

impl BaselineClient {
    /// Connects (TCP_NODELAY on) and starts the reader and writer tasks.
    ///
    /// # Errors
    /// The connect error.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let pending: Arc<PendingMap> = Arc::new(Mutex::new(HashMap::new()));
        let reader_pending = Arc::clone(&pending);
        let reader = tokio::spawn(async move {
            let mut frames = FramedRead::new(rd, codec());
            while let Some(Ok(mut frame)) = frames.next().await {
                if frame.len() < 4 {
                    break;
                }
                let id = frame.get_u32();
                let waiter = reader_pending.lock().expect("poisoned").remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(frame.freeze());
                }
            }
            // End of stream or error: fail every pending call.
            reader_pending.lock().expect("poisoned").clear();
        });
        let writer = tokio::spawn(async move {
            let mut sink = FramedWrite::new(wr, codec());
            while let Some(frame) = rx.recv().await {
                if sink.feed(frame).await.is_err() {
                    return;
                }
                // Batch whatever else is already queued into one flush.
                while let Ok(frame) = rx.try_recv() {
                    if sink.feed(frame).await.is_err() {
                        return;
                    }
                }
                if SinkExt::<Bytes>::flush(&mut sink).await.is_err() {
                    return;
                }
            }
        });
        let shared = Arc::new(Shared {
            pending,
            next_id: AtomicU32::new(0),
            tx,
            reader,
            writer,
        });
        Ok(BaselineClient { shared })
    }

    /// Sends `payload` and waits for the response, without a deadline.
    ///
    /// # Errors
    /// [`BaselineError::Disconnected`] if the connection ends first.
    pub async fn call(&self, payload: Bytes) -> Result<Bytes, BaselineError> {
        let (id, rx) = self.send(&payload)?;
        let guard = CancelOnDrop {
            pending: &self.shared.pending,
            id,
        };
        let out = rx.await.map_err(|_| BaselineError::Disconnected);
        std::mem::forget(guard);
        out
    }

    /// Sends `payload` and waits at most `timeout` for the response.
    ///
    /// # Errors
    /// [`BaselineError::DeadlineExceeded`] or [`BaselineError::Disconnected`].
    pub async fn call_timeout(
        &self,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, BaselineError> {
        let (id, rx) = self.send(&payload)?;
        let guard = CancelOnDrop {
            pending: &self.shared.pending,
            id,
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(b)) => {
                std::mem::forget(guard);
                Ok(b)
            }
            Ok(Err(_)) => {
                std::mem::forget(guard);
                Err(BaselineError::Disconnected)
            }
            // The guard removes the entry.
            Err(_) => Err(BaselineError::DeadlineExceeded),
        }
    }

    fn send(&self, payload: &[u8]) -> Result<(u32, oneshot::Receiver<Bytes>), BaselineError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().expect("poisoned").insert(id, tx);
        let mut frame = BytesMut::with_capacity(4 + payload.len());
        frame.put_u32(id);
        frame.put_slice(payload);
        if self.shared.tx.send(frame.freeze()).is_err() {
            self.shared.pending.lock().expect("poisoned").remove(&id);
            return Err(BaselineError::Disconnected);
        }
        Ok((id, rx))
    }

    /// Calls awaiting a response.
    pub fn pending_calls(&self) -> usize {
        self.shared.pending.lock().expect("poisoned").len()
    }
}

/// Removes a call's entry if its future is dropped before completion.
struct CancelOnDrop<'a> {
    pending: &'a PendingMap,
    id: u32,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.pending.lock() {
            map.remove(&self.id);
        }
    }
}

/// The baseline echo server: `Framed<TcpStream, LengthDelimitedCodec>`
/// per connection, answering every frame with itself (same id, same
/// payload), flushing once per burst of frames already read.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EchoServer {
    /// Binds `addr` (use port 0) and starts accepting. Must be called
    /// inside a tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::serve(listener))
    }

    /// Serves connections from `listener`.
    ///
    /// # Panics
    /// If the listener has no local address.
    pub fn serve(listener: TcpListener) -> Self {
        let addr = listener.local_addr().expect("listener address");
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                conns.spawn(echo_connection(stream));
                while conns.try_join_next().is_some() {}
            }
        });
        EchoServer { addr, task }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every
        // connection.
        self.task.abort();
    }
}

async fn echo_connection(stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut framed = Framed::new(stream, codec());
    while let Some(Ok(frame)) = framed.next().await {
        if framed.feed(frame.freeze()).await.is_err() {
            return;
        }
        // Answer every frame already decoded or readable now, then flush
        // once.
        loop {
            match futures_util::FutureExt::now_or_never(framed.next()) {
                Some(Some(Ok(frame))) => {
                    if framed.feed(frame.freeze()).await.is_err() {
                        return;
                    }
                }
                Some(_) => {
                    let _ = SinkExt::<Bytes>::flush(&mut framed).await;
                    return;
                }
                None => break,
            }
        }
        if SinkExt::<Bytes>::flush(&mut framed).await.is_err() {
            return;
        }
    }
}
