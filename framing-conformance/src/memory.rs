//! An in-memory duplex stream whose ends keep one waker each, shared by
//! reading and writing: whichever side of an end last returned `Pending`
//! owns the slot, and the other side's registration is lost. Some real
//! streams behave so (a TLS stream reads while writing and writes while
//! reading), so a driver must not assume it knows which side a wake-up was
//! for. Small buffers make both sides return `Pending` often.
//!
//! It speaks both the futures-io and the tokio I/O traits, so every
//! runtime's `from_stream` and `serve_stream` take it.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The state both ends share.
#[derive(Debug)]
struct Pipes {
    /// `towards[i]`: bytes written by the other end, for end `i` to read.
    towards: [VecDeque<u8>; 2],
    /// `closed[i]`: end `i` has closed (or been dropped).
    closed: [bool; 2],
    /// `waker[i]`: end `i`'s one waker slot, for both its sides.
    waker: [Option<Waker>; 2],
    /// Bytes each direction holds before writes return `Pending`.
    capacity: usize,
}

/// One end of a [`one_slot_pair`].
#[derive(Debug)]
pub struct OneSlotStream {
    pipes: Arc<Mutex<Pipes>>,
    end: usize,
}

/// A connected pair of [`OneSlotStream`]s holding at most `capacity`
/// unread bytes per direction.
pub fn one_slot_pair(capacity: usize) -> (OneSlotStream, OneSlotStream) {
    let pipes = Arc::new(Mutex::new(Pipes {
        towards: [VecDeque::new(), VecDeque::new()],
        closed: [false; 2],
        waker: [None, None],
        capacity: capacity.max(1),
    }));
    (
        OneSlotStream {
            pipes: pipes.clone(),
            end: 0,
        },
        OneSlotStream { pipes, end: 1 },
    )
}

impl OneSlotStream {
    fn lock(&self) -> MutexGuard<'_, Pipes> {
        self.pipes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn other(&self) -> usize {
        1 - self.end
    }

    fn read(&self, cx: &Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut p = self.lock();
        let queue = &mut p.towards[self.end];
        if queue.is_empty() {
            if p.closed[self.other()] {
                return Poll::Ready(Ok(0));
            }
            p.waker[self.end] = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.len().min(queue.len());
        for (dst, src) in out.iter_mut().zip(queue.drain(..n)) {
            *dst = src;
        }
        // The other end may be waiting for room.
        let wake = p.waker[self.other()].take();
        drop(p);
        if let Some(w) = wake {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn write(&self, cx: &Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut p = self.lock();
        if p.closed[self.end] || p.closed[self.other()] {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let other = self.other();
        let room = p.capacity.saturating_sub(p.towards[other].len());
        if room == 0 {
            p.waker[self.end] = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = data.len().min(room);
        p.towards[other].extend(&data[..n]);
        let wake = p.waker[other].take();
        drop(p);
        if let Some(w) = wake {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn close(&self) {
        let mut p = self.lock();
        p.closed[self.end] = true;
        let wake = p.waker[self.other()].take();
        drop(p);
        if let Some(w) = wake {
            w.wake();
        }
    }
}

impl Drop for OneSlotStream {
    fn drop(&mut self) {
        self.close();
    }
}

impl futures_io::AsyncRead for OneSlotStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.read(cx, buf)
    }
}

impl futures_io::AsyncWrite for OneSlotStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncRead for OneSlotStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = match self.read(cx, buf.initialize_unfilled()) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for OneSlotStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_end_keeps_only_the_waker_of_its_last_pending_side() {
        let (a, b) = one_slot_pair(4);
        let (for_read, for_write) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let read_waker = Waker::from(for_read.clone());
        let write_waker = Waker::from(for_write.clone());
        // `a` waits to read, then fills `b`'s direction and waits to write.
        assert!(a
            .read(&Context::from_waker(&read_waker), &mut [0; 8])
            .is_pending());
        let wcx = Context::from_waker(&write_waker);
        assert!(matches!(a.write(&wcx, b"abcdef"), Poll::Ready(Ok(4))));
        assert!(a.write(&wcx, b"ef").is_pending());
        // `b` writes to `a`: the read side is ready, but only the write
        // side's waker is left to wake.
        let noop = Waker::from(Arc::new(Count::default()));
        assert!(matches!(
            b.write(&Context::from_waker(&noop), b"xy"),
            Poll::Ready(Ok(2))
        ));
        assert_eq!(for_read.0.load(Ordering::SeqCst), 0);
        assert_eq!(for_write.0.load(Ordering::SeqCst), 1);
        let mut got = [0; 8];
        assert!(matches!(
            b.read(&Context::from_waker(&noop), &mut got),
            Poll::Ready(Ok(4))
        ));
        assert_eq!(&got[..4], b"abcd");
        drop(b);
        let mut got = [0; 8];
        assert!(matches!(
            a.read(&Context::from_waker(&noop), &mut got),
            Poll::Ready(Ok(2))
        ));
        assert!(matches!(
            a.read(&Context::from_waker(&noop), &mut got),
            Poll::Ready(Ok(0))
        ));
    }
}
