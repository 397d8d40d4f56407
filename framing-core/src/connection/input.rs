//! Bytes in: reads, decoding frames into responses or requests, end of
//! stream and I/O errors.

use super::{Connection, Role, State};
use crate::{CallError, DisconnectReason, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Bytes received from the peer (copied into the read buffer).
    pub fn handle_read(&mut self, now: T, data: &[u8]) {
        if !self.connected() || data.is_empty() {
            return;
        }
        self.decoder.extend(data);
        self.received(now, data.len());
    }

    /// Room to read into, avoiding a copy; report the count read with
    /// [`handle_received`](Self::handle_received). Its size follows the
    /// reads: small for a quiet connection, up to `read_chunk` for a busy
    /// one (see [`wants_recv_buffer`](Self::wants_recv_buffer)).
    #[must_use = "read into the room, then report the count with handle_received"]
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        self.decoder.recv_buffer()
    }

    /// Whether the next read should go into [`recv_buffer`](Self::recv_buffer)
    /// (a busy connection: large reads, payloads sliced from the buffer
    /// without a copy), or into a buffer of the driver's, shared by its
    /// connections, then [`handle_read`](Self::handle_read) (a quiet one:
    /// it copies the few bytes that came and keeps no read buffer between
    /// reads, so an idle connection holds none).
    pub fn wants_recv_buffer(&self) -> bool {
        !self.decoder.is_quiet()
    }

    /// `n` bytes were read into [`recv_buffer`](Self::recv_buffer).
    pub fn handle_received(&mut self, now: T, n: usize) {
        if !self.connected() || n == 0 {
            return;
        }
        self.decoder.commit(n);
        self.received(now, n);
    }

    fn received(&mut self, now: T, n: usize) {
        self.stats.bytes_in += n as u64;
        self.touch(now);
        // A shutdown ends with the last answer, whatever follows it in the
        // same read: the outcome must not depend on how the stream was cut.
        while !self.is_closed() {
            match self.decoder.next_frame(&self.config.codec) {
                Ok(Some((id, payload))) => {
                    self.stats.frames_in += 1;
                    match self.role {
                        Role::Client => self.on_response(id, payload),
                        Role::Server => self.on_request(id, payload),
                    }
                }
                Ok(None) => break,
                Err(e) => self.fail(CallError::Protocol(e)),
            }
        }
        if self.is_closed() {
            // Bytes after the end (a finished shutdown) are never read.
            self.decoder.clear();
        } else {
            self.decoder.release_if_quiet();
        }
    }

    /// The peer closed its end. Pending calls complete with
    /// `Disconnected`, and [`Event::Disconnected`](crate::Event::Disconnected)
    /// says whether it closed mid-frame.
    pub fn handle_eof(&mut self, now: T) {
        let reason = match self.decoder.buffered() {
            0 => DisconnectReason::PeerClosed,
            buffered => DisconnectReason::PeerClosedMidFrame { buffered },
        };
        self.handle_io_error(now, reason);
    }

    /// Reading or writing failed: the connection ends as by
    /// [`handle_eof`](Self::handle_eof), with this reason.
    ///
    /// In reconnect mode ([`set_reconnect`](Self::set_reconnect)) the core
    /// does not close: calls whose requests were written complete with
    /// `Disconnected`, the others wait in [`State::Disconnected`] for
    /// [`handle_connected`](Self::handle_connected).
    /// [`DisconnectReason::NotConnected`] puts a core that was never
    /// connected there without an event.
    pub fn handle_io_error(&mut self, _now: T, reason: DisconnectReason) {
        if !self.is_closed() {
            self.lost(reason);
        }
    }

    /// Whether bytes can be read: open or shutting down, not closed and
    /// not waiting for a new connection.
    fn connected(&self) -> bool {
        !self.is_closed() && !matches!(self.state, State::Disconnected { .. })
    }
}
