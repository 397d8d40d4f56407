#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/corpus/{decode,state_machine,custom_header}/.

The bytes follow the readers of `framing_core::testkit::fuzz`
(`codec_from`, `config_from`, `decode_report`, `run_ops_report`,
`custom_header_report`): each seed is a small, meaningful scenario the
fuzzer then mutates. Run from anywhere:

    python3 fuzz/gen_corpus.py

Files are named after what they do, and `framing-core/tests/fuzz_corpus.rs`
checks that they do it: it replays every file through its harness, and for
each seed matches the name's suffix against a table of what the run must
have seen (which protocol error, whether `Pause`, `BufferFull`, `NoFreeId`
... happened). A seed whose name matches no entry fails the test: name a
new seed after what it does and add its entry. Running this script again
rewrites the seeds. Files named `found-*` were picked from longer fuzz runs
(inputs adding coverage beyond these seeds, and every crash once fixed);
this script leaves them alone.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

PAYLOAD, ID_AND_PAYLOAD, WHOLE = 0, 1, 2
ISIZE_MAX = (1 << 63) - 1


def field(v, n, le):
    v &= (1 << (8 * n)) - 1
    return v.to_bytes(n, "little" if le else "big")


class Codec:
    """A standard header, as `codec_from` reads it (three bytes)."""

    def __init__(self, name, len_bytes, len_le, signed, counts, id_bytes, id_le, max_choice):
        self.name = name
        self.len_bytes, self.len_le, self.signed = len_bytes, len_le, signed
        self.counts, self.id_bytes, self.id_le = counts, id_bytes, id_le
        self.max_choice = max_choice

    def header(self):
        a = (self.len_bytes - 1) | (8 if self.len_le else 0) | (16 if self.signed else 0)
        a |= self.counts << 5
        b = next(b for b in range(256) if b % 9 == self.id_bytes and bool(b & 16) == self.id_le)
        return bytes([a, b, self.max_choice])

    def overhead(self):
        return {PAYLOAD: 0, ID_AND_PAYLOAD: self.id_bytes,
                WHOLE: self.len_bytes + self.id_bytes}[self.counts]

    def field_limit(self):
        top = (1 << (8 * self.len_bytes)) - 1
        return min(top >> 1 if self.signed else top, ISIZE_MAX)

    def max_length(self):
        m = self.max_choice
        wanted = [m >> 2, 1 << (m >> 2), 16 + 64 * (m >> 2), 1 << 64][m & 3]
        got = min(wanted, self.field_limit())
        return self.field_limit() if got < self.overhead() else got

    def max_payload(self):
        return self.max_length() - self.overhead()

    def frame(self, rpc_id, payload):
        return (field(len(payload) + self.overhead(), self.len_bytes, self.len_le)
                + field(rpc_id, self.id_bytes, self.id_le) + payload)


CODECS = {c.name: c for c in [
    # The Node library's format: 4-byte BE signed length counting id and
    # payload, 4-byte id, 8 MiB maximum (the default).
    Codec("node", 4, False, True, ID_AND_PAYLOAD, 4, False, (23 << 2) | 1),
    # 1-byte unsigned length of the payload, no id (FIFO), max 63.
    Codec("u8_fifo", 1, False, False, PAYLOAD, 0, False, 63 << 2),
    # 2-byte LE length counting the whole frame, 2-byte LE id, max 16 + 64*10.
    Codec("le16_whole", 2, True, False, WHOLE, 2, True, (10 << 2) | 2),
    # 8-byte BE signed length, 8-byte id, max 2^12.
    Codec("be64_id64", 8, False, True, ID_AND_PAYLOAD, 8, False, (12 << 2) | 1),
    # 3-byte LE unsigned payload length, 1-byte id (256 ids), max 16 + 64*20.
    Codec("le24_id8", 3, True, False, PAYLOAD, 1, False, (20 << 2) | 2),
    # 5-byte BE signed whole-frame length, 3-byte LE id, tiny max 40.
    Codec("be40_tiny", 5, False, True, WHOLE, 3, True, 40 << 2),
]}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- decode: codec (3 bytes), split (u16), stream ----
# split: low byte largest read (0: one read), bit 8 lend, bit 9 strict,
# bit 10 build the stream from frames, bits 12.. read chunk.
BUILT = 0x0400
SPLITS = [(0x0000, "one_read"), (0x0001, "byte_by_byte"), (0x1107, "lent_7"), (0x3040, "chunks_64")]


def built_len(cap, pick):
    """The payload length the built mode reads from a length pick."""
    if pick >= 0xf8 and cap <= 1 << 16:
        n = max(cap - (pick & 7), 0)
    elif pick >= 0xc0:
        n = (pick & 0x3f) * 64
    else:
        n = pick & 0x3f
    return min(n, cap)


def built_frame(cap, rpc_id_pick, len_pick):
    """A frame op of the built mode: op 0, id pick, length pick, and the
    payload bytes it reads (at most 32; the rest is a pattern)."""
    return bytes([0, rpc_id_pick, len_pick]) + b"p" * min(built_len(cap, len_pick), 32)


def built_frames(cap):
    """Five frames, the third as large as the codec allows (or 3584 bytes)."""
    return b"".join(built_frame(cap, i * 50, 0xf8 if i == 2 else i * 9) for i in range(5))


def built_bad(kind, pick):
    """Ends a built stream: kind 0 too short, 1 too large, 2 negative (custom: bad magic)."""
    return bytes([5 + kind]) + struct.pack(">H", pick) + bytes([3]) + b"zzz"


def built_cut(cap, cut):
    """Ends a built stream with a frame of up to 20 bytes of payload cut at `cut`."""
    return bytes([15, 1, 20]) + b"c" * min(built_len(cap, 20), 32) + struct.pack(">H", cut)


def decode_seeds():
    for name, c in CODECS.items():
        target = "decode"
        frames = b"".join(c.frame(i * 7 + 1, bytes([i]) * (i * 3)) for i in range(5))
        for split, what in SPLITS:
            write(target, f"{name}_frames_{what}", c.header() + struct.pack(">H", split) + frames)
        if c.max_payload() <= 4096:
            at_max = c.frame(3, b"m" * c.max_payload())
            write(target, f"{name}_frame_at_max", c.header() + b"\x00\x40" + frames + at_max)
        top = (1 << (8 * c.len_bytes)) - 1
        bad = {
            "too_short": c.overhead() - 1 if c.overhead() else None,
            # One above the maximum: the boundary itself.
            "too_large": c.max_length() + 1 if c.max_length() < c.field_limit() else None,
            "negative": top - 1 if c.signed else None,
        }
        for what, raw in bad.items():
            if raw is not None:
                write(target, f"{name}_{what}", c.header() + b"\x00\x03" + c.frame(1, b"ok")
                      + field(raw, c.len_bytes, c.len_le) + b"\x00" * 12)
        write(target, f"{name}_truncated", c.header() + b"\x01\x05" + c.frame(2, b"x" * 30)[:-3])
        # Built from frames: five frames (one at the maximum), then the end.
        ops = built_frames(c.max_payload())
        for kind, what in [(0, "too_short"), (1, "too_large"), (2, "negative")]:
            if bad[what] is not None:
                write(target, f"{name}_built_then_{what}",
                      c.header() + struct.pack(">H", BUILT | 0x0005) + ops + built_bad(kind, 77))
        write(target, f"{name}_built_then_truncated",
              c.header() + struct.pack(">H", BUILT | 0x1103) + ops + built_cut(c.max_payload(), 9))


# ---- state machine: codec, config, ops (byte % 20) ----
CALL, CALL_ID, CANCEL, RESPOND, TO_SERVER, TO_CLIENT, INJECT = 0, 3, 4, 5, 8, 11, 13
JUMP, NEXT_TIMEOUT, CLOSE, FAIL_PENDING, SHUTDOWN, MISC = 14, 15, 16, 17, 18, 19


def config(max_buf=4000, warn=2000, low=0, idle=None, call=None, strict=False, late=4,
           read_chunk=0, coalesce=32):
    flags = (1 if idle is not None else 0) | (2 if call is not None else 0)
    flags |= (4 if strict else 0) | (late << 4)
    out = struct.pack(">HHHB", max_buf - 64, warn - 1, low, flags)
    if idle is not None:
        out += bytes([idle])
    if call is not None:
        out += bytes([call])
    return out + bytes([read_chunk, coalesce])


def call(payload=10, timeout=1):
    """Auto id; payload byte (bit 7: steps of 64); timeout 0 default, 1 none, 4k+2: 4k ms."""
    return bytes([CALL, payload, 0, timeout])


def call_id(pick, payload=10, timeout=1):
    return bytes([CALL_ID, payload, pick, timeout])


def respond(pick=0, payload=12):
    """pick & 3: 0 oldest request, 1 any (removed), 2 any (kept: answered again), 3 id pick >> 2."""
    return bytes([RESPOND, pick, payload])


def to_server(n=0, mode=0):
    """n bytes (0: all); mode bit 0 lend, bit 1 one chunk per advance."""
    return bytes([TO_SERVER, n, mode])


def to_client(n=0, mode=0):
    return bytes([TO_CLIENT, n, mode])


def jump(ms):
    return bytes([JUMP]) + struct.pack(">H", ms << 1)


def shutdown(client, ms_over_8):
    return bytes([SHUTDOWN, ms_over_8, 1 if client else 0])


ROUND_TRIP = call() * 3 + to_server() + respond() * 3 + to_client()

# name -> (ops, config overrides, codecs it applies to: "ids", "fifo" or "all")
SCENARIOS = {
    "round_trip": (ROUND_TRIP, {}, "all"),
    "partial_deliveries": (call(40) * 2 + to_server(5) + to_server(3, 1) + to_server(0, 2)
                           + respond(1) + respond(1) + to_client(9, 3) + to_client(), {}, "all"),
    "deadline_then_late_response": (call(8, 4 * 5 + 2) + to_server() + jump(30) + respond()
                                    + to_client(), {"call": 5}, "all"),
    "jump_to_next_timeout": (call(8, 4 * 2 + 2) + bytes([NEXT_TIMEOUT]) * 2, {}, "all"),
    "cancel_then_response": (call() + call() + to_server() + bytes([CANCEL, 0])
                             + respond() + respond() + to_client(), {}, "all"),
    "fail_pending_then_response": (call() * 2 + to_server() + bytes([FAIL_PENDING])
                                   + respond() * 2 + to_client() + ROUND_TRIP, {}, "all"),
    "graceful_shutdown": (call() * 2 + shutdown(True, 50) + call() + to_server()
                          + respond() * 2 + to_client(), {}, "all"),
    "shutdown_deadline": (call() + shutdown(True, 2) + jump(100), {}, "all"),
    "server_shutdown": (call() * 2 + to_server() + shutdown(False, 20) + respond()
                        + to_client() + jump(500), {}, "all"),
    "shutdown_finishes_with_a_partial_request": (call() + to_server() + call() + to_server(3)
                                                 + shutdown(False, 200) + respond() + to_client(),
                                                 {}, "all"),
    "duplicate_caller_id": (call_id(10) + call_id(0) + call_id(10) + to_server() + respond(2)
                            + respond(2) + to_client(), {}, "ids"),
    "caller_id_not_supported": (call_id(10) + call(), {}, "fifo"),
    "wrong_and_duplicate_responses": (ROUND_TRIP + call() + to_server() + respond(2)
                                      + respond(2) + respond(3) + to_client(), {}, "ids"),
    "answers_to_no_request": (ROUND_TRIP + call() + to_server() + respond(2) + respond(2)
                              + respond(3) + to_client(), {}, "fifo"),
    "strict_unknown_id": (ROUND_TRIP + call() + to_server() + respond(3) + to_client(),
                          {"strict": True}, "ids"),
    "close_then_call": (call() + bytes([CLOSE, 1]) + call() + to_server(), {}, "all"),
    "eof_mid_frame": (call() + to_server(5) + bytes([MISC, 0]) + bytes([MISC, 1]), {}, "all"),
    "io_error_and_misuse": (call() + bytes([MISC, 3]) + bytes([MISC, 4]) + call(), {}, "all"),
    "garbage_from_peer": (call() + bytes([INJECT, 1, 12]) + b"\xff" * 12 + to_server(), {}, "all"),
    "garbage_to_server": (call() + bytes([INJECT, 0, 9]) + b"\xff" * 9 + to_server(), {}, "all"),
    "idle_timeout": (call() + jump(3000) + jump(3000) + ROUND_TRIP, {"idle": 40}, "all"),
    # 256 ids of one byte: the 257th call finds none free.
    "many_calls_no_free_id": (call(1) * 257 + to_server() + respond() * 40 + to_client(), {},
                              "one_byte_ids"),
}


def applies(kind, c):
    return (kind == "all" or (kind == "ids" and c.id_bytes > 0)
            or (kind == "fifo" and c.id_bytes == 0) or (kind == "one_byte_ids" and c.id_bytes == 1))


def state_machine_seeds():
    target = "state_machine"
    for name, c in CODECS.items():
        if name not in ("node", "u8_fifo", "le16_whole", "le24_id8"):
            continue
        for what, (ops, cfg, kind) in SCENARIOS.items():
            if applies(kind, c):
                write(target, f"{name}_{what}", c.header() + config(**cfg) + ops)
        # Watermarks: small limits, payloads that fit every codec, slow writes.
        cfg = config(max_buf=300, warn=200, low=50)
        ops = (call(60) * 6 + to_server(100) + to_server(100, 2) + to_server() + call(20))
        write(target, f"{name}_pause_resume_buffer_full", c.header() + cfg + ops)


# ---- custom header: format bytes, harness byte (0 decode, 1 ops), input ----
class Custom:
    """A `FuzzHeader` (three bytes, a fourth for the magic byte)."""

    def __init__(self, name, len_bytes, len_le, id_first, counts_header, lax, magic, id_bytes,
                 id_le, m):
        self.name = name
        self.len_bytes, self.len_le, self.id_first = len_bytes, len_le, id_first
        self.counts_header, self.lax, self.magic = counts_header, lax, magic
        self.id_bytes, self.id_le, self.m = id_bytes, id_le, m

    def header(self):
        a = (self.len_bytes - 1) | (4 if self.len_le else 0) | (8 if self.id_first else 0)
        a |= (16 if self.counts_header else 0) | (32 if self.lax else 0)
        a |= 64 if self.magic is not None else 0
        b = next(b for b in range(256) if b % 9 == self.id_bytes and bool(b & 16) == self.id_le)
        out = bytes([a, b, self.m])
        return out + (bytes([self.magic]) if self.magic is not None else b"")

    def header_len(self):
        return (self.magic is not None) + self.len_bytes + self.id_bytes

    def overhead(self):
        return self.header_len() if self.counts_header else 0

    def max_payload(self):
        room = (1 << (8 * self.len_bytes)) - 1 - self.overhead()
        return room if self.m == 0 else min(room, self.m * self.m)

    def can_refuse(self):
        """Whether some length is invalid (below the header or above the maximum)."""
        top = (1 << (8 * self.len_bytes)) - 1
        return self.overhead() > 0 or self.magic is not None or self.max_payload() < top

    def frame(self, rpc_id, payload):
        length = field(len(payload) + self.overhead(), self.len_bytes, self.len_le)
        ident = field(rpc_id, self.id_bytes, self.id_le)
        magic = bytes([self.magic]) if self.magic is not None else b""
        return magic + (ident + length if self.id_first else length + ident) + payload


CUSTOMS = {c.name: c for c in [
    # A magic byte, the id before a 2-byte LE length, 4-byte id, max 400.
    Custom("custom_magic_id_first", 2, True, True, False, False, 0xA5, 4, False, 20),
    # One length byte counting the whole frame, no id (FIFO), maximum left to the core.
    Custom("custom_lax_fifo", 1, False, False, True, True, None, 0, False, 10),
    # A 4-byte BE length, an 8-byte LE id, the field's whole range.
    Custom("custom_wide_id", 4, False, False, False, False, None, 8, True, 0),
    # A 3-byte length counting the header, 1-byte id, maximum left to the core.
    Custom("custom_lax_id8", 3, False, True, True, True, None, 1, False, 30),
]}


def custom_seeds():
    t = "custom_header"
    for name, c in CUSTOMS.items():
        frames = b"".join(c.frame(i * 7 + 1, bytes([i]) * (i * 3)) for i in range(5))
        for split, what in SPLITS:
            write(t, f"{name}_frames_{what}", c.header() + b"\x00" + struct.pack(">H", split) + frames)
        if c.max_payload() <= 4096:
            at_max = c.frame(3, b"m" * c.max_payload())
            write(t, f"{name}_frame_at_max", c.header() + b"\x00\x00\x40" + frames + at_max)
        ops = built_frames(c.max_payload())
        kinds = [(0, "too_short", c.overhead() > 0),
                 (1, "too_large", c.max_payload() + c.overhead() < (1 << (8 * c.len_bytes)) - 1),
                 (2, "bad_magic", c.magic is not None)]
        for kind, what, possible in kinds:
            if possible:
                write(t, f"{name}_built_then_{what}", c.header() + b"\x00"
                      + struct.pack(">H", BUILT | 0x0005) + ops + built_bad(kind, 77))
        write(t, f"{name}_built_then_truncated", c.header() + b"\x00"
              + struct.pack(">H", BUILT | 0x1103) + ops + built_cut(c.max_payload(), 9))
        for what in ("round_trip", "partial_deliveries", "cancel_then_response",
                     "garbage_from_peer", "garbage_to_server", "deadline_then_late_response"):
            if what.startswith("garbage") and not c.can_refuse():
                continue  # every length is valid: garbage is merely a huge frame
            ops_, cfg, _ = SCENARIOS[what]
            write(t, f"{name}_{what}", c.header() + b"\x01" + config(**cfg) + ops_)


def main():
    for target in ("decode", "state_machine", "custom_header"):
        d = os.path.join(HERE, "corpus", target)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if not f.startswith("found-"):
                    os.remove(os.path.join(d, f))
    decode_seeds()
    state_machine_seeds()
    custom_seeds()


if __name__ == "__main__":
    main()
