//! The requests a connection sends and the check of their echo, in the
//! framing default wire format:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n, big-endian
//! ```

/// `requests` frames with ids 0, 1, ... and payloads of `payload` bytes,
/// back to back. The payload of the first request is `0123456789...`.
pub(crate) fn requests(requests: usize, payload: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(requests * (8 + payload));
    for id in 0..requests {
        let len = u32::try_from(4 + payload).expect("payload below 4 GiB");
        wire.extend_from_slice(&len.to_be_bytes());
        wire.extend_from_slice(&(id as u32).to_be_bytes());
        wire.extend((0..payload).map(|i| b'0' + ((i + id) % 10) as u8));
    }
    wire
}

/// Checks that `got` holds the frames of `sent`, in any order (a server may
/// answer in completion order).
pub(crate) fn check_echo(sent: &[u8], got: &[u8]) -> Result<(), String> {
    let (mut a, mut b) = (frames(sent)?, frames(got)?);
    a.sort_unstable();
    b.sort_unstable();
    if a == b {
        Ok(())
    } else {
        Err(format!(
            "the echo differs from the requests ({} frames sent, {} received)",
            a.len(),
            b.len()
        ))
    }
}

/// The frames of `wire`, as whole byte slices.
fn frames(mut wire: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let len = wire
            .get(..4)
            .map(|l| u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize)
            .ok_or("a frame cut in its length field")?;
        let frame = wire.get(..4 + len).ok_or("a frame cut in its body")?;
        out.push(frame);
        wire = &wire[4 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_of_10_bytes_is_issue_12s() {
        assert_eq!(
            requests(1, 10),
            [&[0, 0, 0, 14, 0, 0, 0, 0][..], b"0123456789"].concat()
        );
    }

    #[test]
    fn an_echo_in_another_order_passes_and_a_wrong_one_fails() {
        let sent = requests(3, 5);
        let frame = 8 + 5;
        let mut got = sent[frame..].to_vec();
        got.extend_from_slice(&sent[..frame]);
        assert_eq!(check_echo(&sent, &got), Ok(()));
        got[frame - 1] ^= 1;
        assert!(check_echo(&sent, &got).is_err());
        assert!(check_echo(&sent, &got[..got.len() - 1]).is_err());
    }
}
