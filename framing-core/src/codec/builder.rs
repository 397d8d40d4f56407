//! The checked builder for the standard header.

use super::header::field_max;
use super::{Codec, Endian, LengthCounts, StandardHeader, DEFAULT_MAX_FRAME_LENGTH};
use crate::ConfigError;

/// Builds a [`Codec`] with the standard length + id header. Every setter
/// is checked in [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use framing_core::{Codec, ConfigError};
///
/// let err = Codec::builder().length_field_len(9).build().unwrap_err();
/// assert_eq!(err, ConfigError::LengthFieldLen(9));
/// ```
#[derive(Debug, Clone)]
pub struct CodecBuilder {
    len_bytes: usize,
    len_endian: Endian,
    len_signed: bool,
    counts: LengthCounts,
    id_bytes: usize,
    id_endian: Endian,
    max_frame_length: u64,
}

impl Default for CodecBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl CodecBuilder {
    /// The Node library's defaults: 4-byte big-endian signed length counting
    /// id and payload (`readInt32BE` in `framing-buffer`), 4-byte big-endian
    /// id, 8 MiB maximum frame length.
    pub fn new() -> Self {
        CodecBuilder {
            len_bytes: 4,
            len_endian: Endian::Big,
            len_signed: true,
            counts: LengthCounts::IdAndPayload,
            id_bytes: 4,
            id_endian: Endian::Big,
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
        }
    }

    /// Size of the length field, 1 to 8 bytes (default 4).
    pub fn length_field_len(mut self, n: usize) -> Self {
        self.len_bytes = n;
        self
    }

    /// Byte order of the length field (default big-endian).
    pub fn length_endian(mut self, e: Endian) -> Self {
        self.len_endian = e;
        self
    }

    /// Whether the length field is read as a signed integer, so that a
    /// negative value is a protocol error (default `true`, as Node's
    /// `readInt32BE`). Signed fields hold half the range.
    pub fn length_signed(mut self, signed: bool) -> Self {
        self.len_signed = signed;
        self
    }

    /// What the length field counts (default id and payload).
    pub fn length_counts(mut self, c: LengthCounts) -> Self {
        self.counts = c;
        self
    }

    /// Size of the rpc id field, 0 to 8 bytes (default 4). With 0, frames
    /// carry no id and responses complete calls in FIFO order.
    pub fn id_field_len(mut self, n: usize) -> Self {
        self.id_bytes = n;
        self
    }

    /// Byte order of the id field (default big-endian).
    pub fn id_endian(mut self, e: Endian) -> Self {
        self.id_endian = e;
        self
    }

    /// The largest value the length field may carry (default 8 MiB),
    /// clipped to what the field can hold.
    pub fn max_frame_length(mut self, max: u64) -> Self {
        self.max_frame_length = max;
        self
    }

    /// Checks the settings and builds the codec.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that is out of range.
    pub fn build(self) -> Result<Codec, ConfigError> {
        if !(1..=8).contains(&self.len_bytes) {
            return Err(ConfigError::LengthFieldLen(self.len_bytes));
        }
        if self.id_bytes > 8 {
            return Err(ConfigError::IdFieldLen(self.id_bytes));
        }
        let field_limit = if self.len_signed {
            field_max(self.len_bytes) >> 1
        } else {
            field_max(self.len_bytes)
        };
        // The length must also fit in memory: clip to usize and isize.
        let max_length = self
            .max_frame_length
            .min(field_limit)
            .min(isize::MAX as u64);
        let header = StandardHeader {
            len_bytes: self.len_bytes,
            len_endian: self.len_endian,
            len_signed: self.len_signed,
            counts: self.counts,
            id_bytes: self.id_bytes,
            id_endian: self.id_endian,
            max_length,
        };
        if max_length < header.overhead() {
            return Err(ConfigError::MaxFrameLengthTooSmall {
                max: max_length,
                min: header.overhead(),
            });
        }
        Ok(Codec::from_standard(header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_length_fields_outside_one_to_eight_bytes() {
        assert_eq!(
            Codec::builder().length_field_len(0).build().unwrap_err(),
            ConfigError::LengthFieldLen(0)
        );
        assert_eq!(
            Codec::builder().length_field_len(9).build().unwrap_err(),
            ConfigError::LengthFieldLen(9)
        );
    }

    #[test]
    fn rejects_id_fields_over_eight_bytes() {
        assert_eq!(
            Codec::builder().id_field_len(9).build().unwrap_err(),
            ConfigError::IdFieldLen(9)
        );
    }

    #[test]
    fn rejects_a_max_frame_length_below_the_header_it_counts() {
        let err = Codec::builder()
            .length_counts(crate::LengthCounts::WholeFrame)
            .max_frame_length(5)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::MaxFrameLengthTooSmall { max: 5, min: 8 });
    }

    #[test]
    fn clips_the_maximum_to_what_the_field_holds() {
        let c = Codec::builder()
            .length_field_len(1)
            .length_signed(false)
            .id_field_len(0)
            .length_counts(crate::LengthCounts::Payload)
            .build()
            .unwrap();
        assert_eq!(c.max_payload_len(), 255);
    }

    #[test]
    fn defaults_are_the_node_librarys() {
        let c = Codec::default();
        let h = c.standard().unwrap();
        assert_eq!(h.header_len(), 8);
        assert_eq!(c.max_id(), Some(u32::MAX as u64));
        assert_eq!(c.max_payload_len() as u64, DEFAULT_MAX_FRAME_LENGTH - 4);
    }
}
