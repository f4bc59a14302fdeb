//! Little-endian cursor types for SMB2 messages. Every SMB2 structure is little-endian and
//! refers to its variable-length buffers by an offset from the start of the SMB2 header, so the
//! [`Reader`] spans the whole message (header included) and [`Reader::slice_at`] resolves an
//! (offset, length) pair against it with every bound checked; the [`Writer`] likewise starts at
//! the header, so `w.len()` is the offset of whatever is written next.

use crate::wire::DecodeError;

/// Reads little-endian fields from one SMB2 message. Never panics: every read checks the
/// remaining length first.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` (the message, from the start of its SMB2 header) at position 0.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A reader over `buf` positioned at `pos` (clamped to the end).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    /// The whole message.
    pub const fn message(&self) -> &'a [u8] {
        self.buf
    }

    /// Current position from the start of the message.
    pub const fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the position.
    pub const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { field })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Skips `n` bytes (reserved fields, padding).
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        self.bytes(n, field).map(|_| ())
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// A 16-byte GUID or file id, as raw bytes.
    pub fn guid(&mut self, field: &'static str) -> Result<[u8; 16], DecodeError> {
        self.array(field)
    }

    /// `len` bytes at `offset` from the start of the message, both as the peer sent them. A
    /// zero length yields an empty slice whatever the offset (clients send offset 0 or a
    /// plausible offset with length 0). Otherwise the range must lie inside the message and
    /// `len` must not exceed `max`.
    pub fn slice_at(
        &self,
        offset: usize,
        len: usize,
        max: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        if len == 0 {
            return Ok(&[]);
        }
        if len > max {
            return Err(DecodeError::TooLong {
                field,
                len: len as u64,
                max: max as u64,
            });
        }
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { field })?;
        Ok(&self.buf[offset..end])
    }
}

/// Appends little-endian fields to one SMB2 message. Position 0 is the start of the SMB2
/// header, so [`Writer::len`] is the offset the next field will have.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub const fn new() -> Self {
        Self { buf: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// Bytes written so far (the offset of the next field).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, for patching (signatures, lengths).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The finished message.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// `n` zero bytes (reserved fields).
    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Zero bytes up to the next multiple of `align` (a power of two) from the message start.
    pub fn align(&mut self, align: usize) {
        let pad = self.buf.len().next_multiple_of(align) - self.buf.len();
        self.zeros(pad);
    }

    /// Overwrites a `u16` written earlier at `pos` (an offset or length known only later).
    /// Positions come from [`Writer::len`] of this writer, so they are in range.
    pub fn patch_u16(&mut self, pos: usize, v: u16) {
        if let Some(dst) = self.buf.get_mut(pos..pos + 2) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Overwrites a `u32` written earlier at `pos`.
    pub fn patch_u32(&mut self, pos: usize, v: u32) {
        if let Some(dst) = self.buf.get_mut(pos..pos + 4) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Encodes `s` as UTF-16LE (SMB2 names and paths), without a terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Decodes UTF-16LE bytes (SMB2 names and paths). An odd length or an unpaired surrogate is
/// invalid input, reported against `field`.
pub fn from_utf16le(b: &[u8], field: &'static str) -> Result<String, DecodeError> {
    if !b.len().is_multiple_of(2) {
        return Err(DecodeError::InvalidValue {
            field,
            value: b.len() as u64,
        });
    }
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| DecodeError::InvalidValue {
            field,
            value: u64::from(e.unpaired_surrogate()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_at_checks_bounds_and_limit() {
        let msg = [0u8; 80];
        let r = Reader::new(&msg);
        assert_eq!(r.slice_at(70, 10, 100, "x").map(<[u8]>::len), Ok(10));
        assert!(r.slice_at(70, 11, 100, "x").is_err());
        assert!(r.slice_at(usize::MAX, 2, 100, "x").is_err());
        assert!(r.slice_at(0, 50, 40, "x").is_err());
        assert_eq!(r.slice_at(1000, 0, 0, "x").map(<[u8]>::len), Ok(0));
    }

    #[test]
    fn utf16_round_trips_and_rejects_odd_lengths() {
        let s = "dir/Ünïcode-😀";
        assert_eq!(from_utf16le(&utf16le(s), "n").as_deref(), Ok(s));
        assert!(from_utf16le(&[0x41], "n").is_err());
        assert!(from_utf16le(&[0x00, 0xd8], "n").is_err());
    }

    #[test]
    fn align_pads_from_the_message_start() {
        let mut w = Writer::new();
        w.u8(1);
        w.align(8);
        assert_eq!(w.len(), 8);
        w.align(8);
        assert_eq!(w.len(), 8);
        w.u16(0);
        w.patch_u16(8, 0xbeef);
        assert_eq!(&w.as_slice()[8..], &[0xef, 0xbe]);
    }
}
