//! XDR (RFC 4506): big-endian, 4-byte aligned primitives over a borrowed byte slice.
//!
//! [`Reader`] checks every length word against a caller-supplied maximum before touching the
//! bytes it covers, and rejects non-zero padding. [`Writer`] appends to a `Vec<u8>`.

use crate::wire::DecodeError;

/// Bytes of padding that follow `len` bytes of opaque data (RFC 4506 §4.10).
pub const fn pad_len(len: usize) -> usize {
    (4 - (len % 4)) % 4
}

/// A cursor over XDR input. Every method either consumes exactly the item it reads or fails.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unconsumed input, without consuming it.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless the input is exhausted.
    pub fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { field, count }),
        }
    }

    /// Takes `n` raw bytes (no padding).
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { field });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// An unsigned 32-bit integer (RFC 4506 §4.2).
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A signed 32-bit integer (RFC 4506 §4.1).
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(self.u32(field)? as i32)
    }

    /// An unsigned hyper integer (RFC 4506 §4.5).
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A boolean (RFC 4506 §4.4): only 0 and 1 are valid.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u32(field)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::InvalidValue {
                field,
                value: u64::from(v),
            }),
        }
    }

    /// Skips and checks the zero padding after `len` bytes of opaque data.
    fn padding(&mut self, len: usize, field: &'static str) -> Result<(), DecodeError> {
        let pad = self.take(pad_len(len), field)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(DecodeError::NonZeroPadding { field });
        }
        Ok(())
    }

    /// Fixed-length opaque data of `N` bytes (RFC 4506 §4.9).
    pub fn opaque_fixed<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        self.padding(N, field)?;
        Ok(a)
    }

    /// Variable-length opaque data of at most `max` bytes (RFC 4506 §4.10). The length word is
    /// checked against `max` and against the input before anything is borrowed.
    pub fn opaque(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::TooLong {
                field,
                len: len as u64,
                max: max as u64,
            });
        }
        let data = self.take(len, field)?;
        self.padding(len, field)?;
        Ok(data)
    }

    /// A string of at most `max` bytes (RFC 4506 §4.11). XDR strings are bytes; names on NFS are
    /// not required to be UTF-8, so no conversion happens here.
    pub fn string(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.opaque(max, field)
    }

    /// The count word of a variable-length array (RFC 4506 §4.13), checked against `max` and
    /// against the bytes left (each element takes at least `min_elem_size` bytes), so a caller
    /// can reserve `count` elements safely.
    pub fn array_len(
        &mut self,
        max: usize,
        min_elem_size: usize,
        field: &'static str,
    ) -> Result<usize, DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::TooLong {
                field,
                len: len as u64,
                max: max as u64,
            });
        }
        if len.saturating_mul(min_elem_size.max(1)) > self.remaining() {
            return Err(DecodeError::Truncated { field });
        }
        Ok(len)
    }

    /// An optional-data discriminant (RFC 4506 §4.19): `*T` is a bool followed by `T` if true.
    pub fn option<T>(
        &mut self,
        field: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.bool(field)? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// An XDR output buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// Wraps an existing buffer, appending after its contents.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Overwrites a previously written u32 at byte offset `at` (for lengths known only later).
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// Raw bytes, no padding.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// An unsigned 32-bit integer.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A signed 32-bit integer.
    pub fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }

    /// An unsigned hyper integer.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) {
        self.u32(u32::from(v));
    }

    fn pad(&mut self, len: usize) {
        self.buf.extend_from_slice(&[0u8; 3][..pad_len(len)]);
    }

    /// Fixed-length opaque data.
    pub fn opaque_fixed(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        self.pad(b.len());
    }

    /// Variable-length opaque data with its length word.
    ///
    /// # Panics
    /// If `b` is longer than `u32::MAX`; callers only encode values whose lengths were bounded
    /// when they were built.
    pub fn opaque(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).expect("XDR opaque longer than u32::MAX is a local bug");
        self.u32(len);
        self.opaque_fixed(b);
    }

    /// A string (same encoding as variable-length opaque).
    pub fn string(&mut self, b: &[u8]) {
        self.opaque(b);
    }

    /// An optional value: a bool, then the value when present.
    pub fn option<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            Some(v) => {
                self.bool(true);
                f(self, v);
            }
            None => self.bool(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a length word larger than the limit fails before any bytes are borrowed.
    #[test]
    fn opaque_length_checked_before_data() {
        let mut w = Writer::new();
        w.u32(10_000);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        assert_eq!(
            r.opaque(255, "name"),
            Err(DecodeError::TooLong {
                field: "name",
                len: 10_000,
                max: 255
            })
        );
    }

    /// Goal: padding must be zero and is consumed; round trip of every primitive.
    #[test]
    fn primitives_round_trip_and_padding() {
        let mut w = Writer::new();
        w.u32(7);
        w.u64(u64::MAX - 1);
        w.bool(true);
        w.opaque(b"abcde");
        w.i32(-5);
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 4 + 8 + 4 + 4 + 8 + 4);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u32("a"), Ok(7));
        assert_eq!(r.u64("b"), Ok(u64::MAX - 1));
        assert_eq!(r.bool("c"), Ok(true));
        assert_eq!(r.opaque(8, "d"), Ok(&b"abcde"[..]));
        assert_eq!(r.i32("e"), Ok(-5));
        assert_eq!(r.finish("msg"), Ok(()));

        let mut bad = bytes.clone();
        bad[16 + 4 + 5] = 1; // first padding byte after "abcde"
        let mut r = Reader::new(&bad);
        r.take(16, "skip").unwrap();
        assert_eq!(
            r.opaque(8, "d"),
            Err(DecodeError::NonZeroPadding { field: "d" })
        );
    }

    /// Goal: an array count that could not possibly fit in the remaining bytes is refused, so a
    /// caller may reserve capacity for `count` elements.
    #[test]
    fn array_len_bounded_by_input() {
        let mut w = Writer::new();
        w.u32(16);
        w.u32(1);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        assert_eq!(
            r.array_len(16, 4, "gids"),
            Err(DecodeError::Truncated { field: "gids" })
        );
    }
}
