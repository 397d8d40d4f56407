#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/corpus/{decode,state_machine}/.

The bytes follow the readers of `framing_core::testkit::fuzz`
(`codec_from`, `config_from`, `decode_any`, `run_ops`): each seed is a
small, meaningful scenario the fuzzer then mutates. Run from anywhere:

    python3 fuzz/gen_corpus.py

Files are named after what they exercise; running it again rewrites them.
Files named `found-*` were picked from longer fuzz runs (the few inputs
adding the most coverage beyond these seeds, and any crash once fixed);
this script leaves them alone. `framing-core/tests/fuzz_corpus.rs` replays
every file under plain `cargo test`.
"""

import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

PAYLOAD, ID_AND_PAYLOAD, WHOLE = 0, 1, 2


class Codec:
    def __init__(self, name, len_bytes, len_le, signed, counts, id_bytes, id_le, max_choice):
        self.name = name
        self.len_bytes, self.len_le, self.signed = len_bytes, len_le, signed
        self.counts, self.id_bytes, self.id_le = counts, id_bytes, id_le
        self.max_choice = max_choice

    def header(self):
        """The three bytes `codec_from` reads."""
        a = (self.len_bytes - 1) | (8 if self.len_le else 0) | (16 if self.signed else 0)
        a |= self.counts << 5
        b = next(b for b in range(256) if b % 9 == self.id_bytes and bool(b & 16) == self.id_le)
        return bytes([a, b, self.max_choice])

    def overhead(self):
        return {PAYLOAD: 0, ID_AND_PAYLOAD: self.id_bytes,
                WHOLE: self.len_bytes + self.id_bytes}[self.counts]

    def field(self, v, n, le):
        v &= (1 << (8 * n)) - 1
        return v.to_bytes(n, "little" if le else "big")

    def raw_length(self, raw):
        return self.field(raw, self.len_bytes, self.len_le)

    def frame(self, rpc_id, payload):
        return (self.raw_length(len(payload) + self.overhead())
                + self.field(rpc_id, self.id_bytes, self.id_le) + payload)


CODECS = [
    # The Node library's format: 4-byte BE signed length counting id and payload, 4-byte id.
    Codec("node", 4, False, True, ID_AND_PAYLOAD, 4, False, 3),
    # 1-byte unsigned length of the payload, no id (FIFO), max 63.
    Codec("u8_fifo", 1, False, False, PAYLOAD, 0, False, 63 << 2),
    # 2-byte LE length counting the whole frame, 2-byte LE id, max 16 + 64*10.
    Codec("le16_whole", 2, True, False, WHOLE, 2, True, (10 << 2) | 2),
    # 8-byte BE signed length, 8-byte id, max 2^12.
    Codec("be64_id64", 8, False, True, ID_AND_PAYLOAD, 8, False, (12 << 2) | 1),
    # 3-byte LE unsigned payload length, 1-byte id.
    Codec("le24_id8", 3, True, False, PAYLOAD, 1, False, 3),
    # 5-byte BE signed whole-frame length, 3-byte LE id, tiny max 40.
    Codec("be40_tiny", 5, False, True, WHOLE, 3, True, 40 << 2),
]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def decode_seeds():
    for c in CODECS:
        frames = b"".join(c.frame(i * 7 + 1, bytes([i]) * (i * 3)) for i in range(5))
        # split (u16): bits 12.. read chunk, bit 8 lend, low byte max chunk (0: one read).
        for split, what in [(0x0000, "one_read"), (0x0001, "byte_by_byte"),
                            (0x1107, "lent_7"), (0x3040, "chunks_64")]:
            write("decode", f"{c.name}_frames_{what}", c.header() + struct.pack(">H", split) + frames)
        top = 1 << (8 * c.len_bytes)
        bad = {
            "too_short": c.raw_length(max(c.overhead() - 1, 0)) if c.overhead() else None,
            "too_large": c.raw_length(top // 2 - 1),
            "negative": c.raw_length(top - 2) if c.signed else None,
        }
        for what, raw in bad.items():
            if raw is not None:
                write("decode", f"{c.name}_{what}",
                      c.header() + b"\x00\x03" + c.frame(1, b"ok") + raw + b"\x00" * 12)
        write("decode", f"{c.name}_truncated",
              c.header() + b"\x01\x05" + c.frame(2, b"x" * 30)[:-3])


# run_ops opcodes (byte % 20)
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
    """Auto id; timeout byte: 0 default, 1 none, 4*k+2 k*4 ms."""
    return bytes([CALL, payload, 0, timeout])


def call_id(pick, payload=10, timeout=1):
    return bytes([CALL_ID, payload, pick, timeout])


def respond(pick=0, payload=12):
    """pick & 3: 0 oldest request, 1 any (removed), 2 any (kept: duplicate), 3 wrong id."""
    return bytes([RESPOND, pick, payload])


def to_server(n=0, lend=0):
    return bytes([TO_SERVER, n, lend])


def to_client(n=0, lend=0):
    return bytes([TO_CLIENT, n, lend])


def jump(ms):
    return bytes([JUMP]) + struct.pack(">H", ms << 1)


def state_machine_seeds():
    round_trip = call() * 3 + to_server() + respond() * 3 + to_client()
    scenarios = {
        "round_trip": round_trip,
        "partial_deliveries": call(200) * 2 + to_server(5) + to_server(3, 1) + to_server()
        + respond(1) + respond(1) + to_client(9, 1) + to_client(),
        "deadline_then_late_response": call(8, 4 * 5 + 2) + to_server() + jump(30)
        + respond() + to_client(),
        "jump_to_next_timeout": call(8, 4 * 2 + 2) + bytes([NEXT_TIMEOUT]) + bytes([NEXT_TIMEOUT]),
        "cancel_then_response": call() + call() + to_server() + bytes([CANCEL, 0])
        + respond() + respond() + to_client(),
        "fail_pending_then_response": call() * 2 + to_server() + bytes([FAIL_PENDING])
        + respond() * 2 + to_client() + round_trip,
        "graceful_shutdown": call() * 2 + bytes([SHUTDOWN, 50, 1]) + call() + to_server()
        + respond() * 2 + to_client(),
        "shutdown_deadline": call() + bytes([SHUTDOWN, 2, 1]) + jump(100),
        "server_shutdown": call() * 2 + to_server() + bytes([SHUTDOWN, 20, 0]) + respond()
        + to_client() + jump(500),
        "duplicate_caller_id": call_id(10) + call_id(0) + call_id(10) + to_server() + respond(2)
        + respond(2) + to_client(),
        "wrong_and_duplicate_responses": round_trip + call() + to_server() + respond(3)
        + respond(2) + to_client(),
        "close_then_call": call() + bytes([CLOSE, 1]) + call() + to_server(),
        "eof_mid_frame": call() + to_server(5) + bytes([MISC, 0]) + bytes([MISC, 1]),
        "io_error_and_misuse": call() + bytes([MISC, 3]) + bytes([MISC, 4]) + call(),
        "garbage_from_peer": call() + bytes([INJECT, 1, 12]) + b"\xff" * 12 + to_server(),
        "garbage_to_server": bytes([INJECT, 0, 9]) + b"\x80\x00\x00\x01\x00\x00\x00\x01x",
        "idle_timeout": call() + jump(3000) + jump(3000) + round_trip,
        "many_calls_no_free_id": call(1) * 40 + to_server() + respond() * 40 + to_client(),
    }
    for c in CODECS[:3]:
        for name, ops in scenarios.items():
            cfg = config(idle=40 if name == "idle_timeout" else None,
                         call=5 if "deadline" in name else None,
                         strict=name.startswith("wrong"))
            write("state_machine", f"{c.name}_{name}", c.header() + cfg + ops)
    # Watermarks: tiny limits, big payloads, slow partial writes.
    for c in CODECS[:2]:
        cfg = config(max_buf=300, warn=200, low=50)
        ops = (call(0x82) + call(0x82) + call(0x82) + call(0x82)
               + to_server(100) + to_server(100) + call(20) + to_server() + call(20))
        write("state_machine", f"{c.name}_pause_resume_buffer_full", c.header() + cfg + ops)


def main():
    for target in ("decode", "state_machine"):
        d = os.path.join(HERE, "corpus", target)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if not f.startswith("found-"):
                    os.remove(os.path.join(d, f))
    decode_seeds()
    state_machine_seeds()


if __name__ == "__main__":
    main()
