//! Moves bytes between a stream and a core: reads straight into the core's
//! buffer, writes every queued frame with one vectored write.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use framing_core::Connection;

use crate::runtime::Io;

/// Slices per vectored write. Small frames are coalesced by the core, so
/// this bounds big frames per syscall, not small ones.
const MAX_IOVECS: usize = 64;

/// Reads per wake-up before yielding to the other sources.
pub(crate) const READS_PER_TURN: usize = 8;

#[derive(Debug)]
pub(crate) struct Pump<S> {
    io: S,
    read_done: bool,
    needs_flush: bool,
}

impl<S: Io> Pump<S> {
    pub(crate) fn new(io: S) -> Self {
        Pump {
            io,
            read_done: false,
            needs_flush: false,
        }
    }

    /// One read into the core, if it wants one. `true` if anything happened
    /// (bytes, end of stream or an error).
    pub(crate) fn poll_read<C>(
        &mut self,
        cx: &mut Context<'_>,
        core: &mut Connection<Instant, C>,
    ) -> bool {
        if self.read_done || !core.wants_read() {
            return false;
        }
        let room = core.recv_buffer();
        match Pin::new(&mut self.io).poll_read(cx, room) {
            Poll::Ready(Ok(0)) => {
                self.read_done = true;
                core.handle_eof(Instant::now());
                true
            }
            Poll::Ready(Ok(n)) => {
                core.handle_received(Instant::now(), n);
                true
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => true,
            Poll::Ready(Err(e)) => {
                self.read_done = true;
                core.handle_io_error(Instant::now(), (&e).into());
                true
            }
            Poll::Pending => false,
        }
    }

    /// Writes what the core has queued until done or the socket is full.
    /// `true` if anything happened.
    pub(crate) fn poll_write<C>(
        &mut self,
        cx: &mut Context<'_>,
        core: &mut Connection<Instant, C>,
    ) -> bool {
        let mut progress = false;
        while core.has_transmit() {
            let result = {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let n = core.transmit_io_slices(&mut slices);
                Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n])
            };
            match result {
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "stream accepted no bytes");
                    core.handle_io_error(Instant::now(), (&e).into());
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    core.advance_transmit(Instant::now(), n);
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    core.handle_io_error(Instant::now(), (&e).into());
                    return true;
                }
                Poll::Pending => return progress,
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => {
                    core.handle_io_error(Instant::now(), (&e).into());
                    return true;
                }
                Poll::Pending => {}
            }
        }
        progress
    }

    /// Closes the stream (sends FIN). Errors are irrelevant at this point.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.io).poll_close(cx).map(|_| ())
    }
}
