//! Input bytes shared by the criterion benches, so framing-core and the
//! `LengthDelimitedCodec` baseline decode exactly the same bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// `count` frames in the default wire format (4-byte BE length counting id
/// and payload, 4-byte BE id), ids `0..count`, each with `payload` bytes
/// of filler.
pub fn frames(count: usize, payload: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(count * (8 + payload));
    let body: Vec<u8> = (0..payload).map(|i| (i % 251) as u8).collect();
    for id in 0..count {
        out.put_u32(4 + payload as u32);
        out.put_u32(id as u32);
        out.put_slice(&body);
    }
    out.freeze()
}

/// A payload of `len` filler bytes.
pub fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A framing-core config whose write-queue limits hold a whole bench round
/// (thousands of 4 KiB frames queued at once), otherwise the default.
///
/// # Panics
/// Never: the values are valid.
pub fn roomy_config() -> framing_core::Config {
    framing_core::Config::builder()
        .warn_buffer_bytes(256 * 1024 * 1024)
        .max_buffer_bytes(512 * 1024 * 1024)
        .build()
        .expect("valid config")
}
