//! The fault-injecting test server of SPEC section 8, on plain tokio and
//! raw bytes (none of the framing adapters), speaking the default wire
//! format:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n
//! ```
//!
//! Each [`Mode`] says how it answers a request. A request whose length is
//! below 4 or above 8 MiB ends the connection.
//!
//! # Examples
//!
//! ```
//! use framing_benches::testserver::{Mode, TestServer};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = TestServer::start(Mode::Echo).await.unwrap();
//! let mut sock = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
//! sock.write_all(&[0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i']).await.unwrap();
//! let mut answer = [0u8; 10];
//! sock.read_exact(&mut answer).await.unwrap();
//! assert_eq!(answer, [0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i']);
//! # });
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Largest request accepted (the framing default maximum frame, 8 MiB).
pub const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// The id offset used by [`Mode::UnknownId`]: far from any id a client
/// numbering its calls from 0 has pending.
pub const UNKNOWN_ID_OFFSET: u32 = 0x8000_0000;

/// How the test server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Answers every request with its own payload and id.
    Echo,
    /// Answers 50 to 199 random bytes with the request's id, like the npm
    /// `test-socket-server`.
    Random,
    /// Never answers; keeps reading and holds the connection open.
    Stall,
    /// Sends the first half of the first response frame, then stalls.
    StallPartial,
    /// Sends the first half of the first response frame, then closes.
    CloseMidFrame,
    /// Answers the first request with a frame whose length field is
    /// 0xFFFF_FFFF (negative when read as signed, above any maximum).
    BadLength,
    /// Answers each request first with an id nobody asked for (the
    /// request's id + [`UNKNOWN_ID_OFFSET`]), then with the echo.
    UnknownId,
}

/// A running test server; aborted when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves in `mode`. Must be called inside a
    /// tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start(mode: Mode) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = run(listener, mode).await;
        });
        Ok(TestServer { addr, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections from `listener` and serves each in `mode`, until
/// accepting fails. Connections end when their task (or this future) is
/// dropped.
///
/// # Errors
/// The accept error that ended the loop.
pub async fn run(listener: TcpListener, mode: Mode) -> io::Result<()> {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = listener.accept().await?;
        conns.spawn(async move {
            let _ = serve_connection(stream, mode).await;
        });
        while conns.try_join_next().is_some() {}
    }
}

static SEED: AtomicU64 = AtomicU64::new(0);

/// A small xorshift generator: the random payloads need no more.
struct XorShift(u64);

impl XorShift {
    fn new() -> Self {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        XorShift((time ^ n) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn frame(out: &mut BytesMut, id: u32, payload: &[u8]) {
    out.reserve(8 + payload.len());
    out.put_u32(4 + payload.len() as u32);
    out.put_u32(id);
    out.put_slice(payload);
}

/// The server's request decoder: a buffer that grows only with bytes that
/// arrived, never with a length a peer declared.
///
/// Before each read it keeps at least [`CHUNK`](Self::CHUNK) bytes of
/// spare room and reads at most that much, so its capacity stays within a
/// small multiple of the bytes it holds plus `CHUNK`, whatever length a
/// request's header announces.
///
/// # Examples
///
/// ```
/// use framing_benches::testserver::RequestBuffer;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut buf = RequestBuffer::new();
/// let mut peer: &[u8] = &[0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i'];
/// while buf.read_from(&mut peer).await.unwrap() > 0 {}
/// let (id, payload) = buf.next_request().unwrap().unwrap();
/// assert_eq!((id, &payload[..]), (7, &b"hi"[..]));
/// assert!(buf.next_request().unwrap().is_none());
/// # });
/// ```
#[derive(Debug)]
pub struct RequestBuffer {
    buf: BytesMut,
}

impl Default for RequestBuffer {
    fn default() -> Self {
        RequestBuffer::new()
    }
}

impl RequestBuffer {
    /// Most bytes one [`read_from`](Self::read_from) takes in, and the
    /// spare room kept before reading: 16 KiB.
    pub const CHUNK: usize = 16 * 1024;

    /// An empty buffer with room for one [`CHUNK`](Self::CHUNK).
    pub fn new() -> Self {
        RequestBuffer {
            buf: BytesMut::with_capacity(Self::CHUNK),
        }
    }

    /// Reads at most [`CHUNK`](Self::CHUNK) bytes from `reader`; returns
    /// how many arrived (0: end of stream). Cancel safe: a cancelled read
    /// loses no bytes.
    ///
    /// # Errors
    /// The read error.
    pub async fn read_from<R>(&mut self, reader: &mut R) -> io::Result<usize>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        if self.buf.capacity() - self.buf.len() < Self::CHUNK {
            self.buf.reserve(Self::CHUNK);
        }
        reader
            .read_buf(&mut BufMut::limit(&mut self.buf, Self::CHUNK))
            .await
    }

    /// Takes the next whole request off the front: its rpc id and
    /// payload. `Ok(None)` until all its bytes arrived.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] when the request's length field is
    /// below 4 or above [`MAX_REQUEST`]; the bytes stay in the buffer.
    pub fn next_request(&mut self) -> io::Result<Option<(u32, Bytes)>> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if !(4..=MAX_REQUEST).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("request length {len} outside 4..={MAX_REQUEST}"),
            ));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let mut body = self.buf.split_to(4 + len);
        body.advance(4);
        let id = body.get_u32();
        Ok(Some((id, body.freeze())))
    }

    /// Bytes held: arrived and not yet taken as requests.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes the buffer can hold without growing (what it costs in
    /// memory).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops every byte held.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// Serves one connection in `mode` until the peer closes or an i/o error.
///
/// # Errors
/// The i/o error that ended the connection; [`io::ErrorKind::InvalidData`]
/// for a request length below 4 or above [`MAX_REQUEST`].
pub async fn serve_connection(mut stream: TcpStream, mode: Mode) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut rng = XorShift::new();
    let mut inbuf = RequestBuffer::new();
    let mut out = BytesMut::with_capacity(64 * 1024);
    // After a one-shot misbehaviour, only read and discard.
    let mut stalled = false;
    loop {
        if inbuf.read_from(&mut stream).await? == 0 {
            return Ok(());
        }
        if stalled {
            inbuf.clear();
            continue;
        }
        while let Some((id, body)) = inbuf.next_request()? {
            match mode {
                Mode::Echo => frame(&mut out, id, &body),
                Mode::Random => {
                    let n = 50 + (rng.next() % 150) as usize;
                    let payload: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    frame(&mut out, id, &payload);
                }
                Mode::Stall => {}
                Mode::StallPartial | Mode::CloseMidFrame => {
                    let mut whole = BytesMut::new();
                    frame(&mut whole, id, &body);
                    out.put_slice(&whole[..whole.len() / 2]);
                    stream.write_all(&out).await?;
                    stream.flush().await?;
                    if mode == Mode::CloseMidFrame {
                        stream.shutdown().await?;
                        return Ok(());
                    }
                    out.clear();
                    inbuf.clear();
                    stalled = true;
                    break;
                }
                Mode::BadLength => {
                    out.put_u32(0xFFFF_FFFF);
                    out.put_u32(id);
                    out.put_slice(&body);
                    stream.write_all(&out).await?;
                    stream.flush().await?;
                    out.clear();
                    inbuf.clear();
                    stalled = true;
                    break;
                }
                Mode::UnknownId => {
                    frame(&mut out, id.wrapping_add(UNKNOWN_ID_OFFSET), &body);
                    frame(&mut out, id, &body);
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}
