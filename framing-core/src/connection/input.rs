//! Bytes in: reads, decoding frames into responses or requests, end of stream and I/O errors.

use bytes::Bytes;

use super::lifecycle::Failure;
use super::{Connection, Role};
use crate::pending::Lookup;
use crate::{DisconnectReason, Event, ProtocolError, RpcId, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Bytes received from the peer (copied into the read buffer).
    pub fn handle_read(&mut self, now: T, data: &[u8]) {
        if self.is_closed() || data.is_empty() {
            return;
        }
        self.decoder.extend(data);
        self.received(now, data.len());
    }

    /// Room to read into, avoiding a copy; report the count read with
    /// [`handle_received`](Self::handle_received). The room is at least
    /// half the configured read chunk.
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        self.decoder.recv_buffer()
    }

    /// `n` bytes were read into [`recv_buffer`](Self::recv_buffer).
    pub fn handle_received(&mut self, now: T, n: usize) {
        if self.is_closed() || n == 0 {
            return;
        }
        self.decoder.commit(n);
        self.received(now, n);
    }

    fn received(&mut self, now: T, n: usize) {
        self.stats.bytes_in += n as u64;
        self.touch(now);
        loop {
            match self.decoder.next_frame(&self.config.codec) {
                Ok(Some((id, payload))) => {
                    self.stats.frames_in += 1;
                    match self.role {
                        Role::Client => self.on_response(id, payload),
                        Role::Server => self.on_request(id, payload),
                    }
                    // A shutdown ends with the last answer, whatever follows
                    // it in the same read: the outcome must not depend on
                    // how the stream was cut.
                    self.check_shutdown_done();
                    if self.is_closed() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail(Failure::Protocol(e));
                    return;
                }
            }
        }
        self.check_shutdown_done();
    }

    fn on_response(&mut self, id: RpcId, payload: Bytes) {
        match self.pending.take_response(id.0, &self.recent) {
            Lookup::Found(key, ctx) => {
                self.stats.responses += 1;
                self.events.push_back(Event::Completed {
                    id: RpcId(key),
                    ctx,
                    result: Ok(payload),
                });
            }
            Lookup::Late(key) => {
                self.stats.unknown_responses += 1;
                self.stats.late_responses += 1;
                self.events.push_back(Event::UnknownResponse {
                    id: RpcId(key),
                    late: true,
                });
            }
            Lookup::Unknown(key) => {
                if self.config.strict_unknown_ids {
                    self.fail(Failure::Protocol(ProtocolError::UnknownResponseId {
                        id: RpcId(key),
                    }));
                } else {
                    self.stats.unknown_responses += 1;
                    self.events.push_back(Event::UnknownResponse {
                        id: RpcId(key),
                        late: false,
                    });
                }
            }
        }
    }

    fn on_request(&mut self, id: RpcId, payload: Bytes) {
        self.stats.requests += 1;
        self.outstanding_requests += 1;
        let id = if self.has_ids {
            id
        } else {
            self.replies.push_back(None);
            RpcId(self.replies_base + self.replies.len() as u64 - 1)
        };
        self.events.push_back(Event::Request { id, payload });
    }

    /// The peer closed its end. Pending calls complete with
    /// `Disconnected`, and [`Event::Disconnected`] says whether it closed
    /// mid-frame.
    pub fn handle_eof(&mut self, now: T) {
        let reason = match self.decoder.buffered() {
            0 => DisconnectReason::PeerClosed,
            buffered => DisconnectReason::PeerClosedMidFrame { buffered },
        };
        self.handle_io_error(now, reason);
    }

    /// Reading or writing failed: the connection ends as by
    /// [`handle_eof`](Self::handle_eof), with this reason.
    pub fn handle_io_error(&mut self, _now: T, reason: DisconnectReason) {
        if !self.is_closed() {
            self.fail(Failure::Disconnected(reason));
        }
    }
}
