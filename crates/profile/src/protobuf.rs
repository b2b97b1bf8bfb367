//! The few protobuf wire-format pieces pprof needs: varints, length-delimited fields, packed
//! repeated integers. Hand-written because the pprof schema is small and stable, and a code
//! generator would be the heaviest dependency of the crate.

/// One decoded field value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed64(u64),
    Fixed32(u32),
}

/// Iterates over the fields of one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The wire format is broken (truncated, or not protobuf at all).
#[derive(Debug)]
pub(crate) struct WireError(pub(crate) &'static str);

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(WireError("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError("truncated field"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(WireError("field number 0"));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Value::Fixed64(u64::from_le_bytes(
                    b.try_into().map_err(|_| WireError("fixed64"))?,
                ))
            }
            2 => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| WireError("length too large"))?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(
                    b.try_into().map_err(|_| WireError("fixed32"))?,
                ))
            }
            _ => return Err(WireError("unknown wire type")),
        };
        Ok(Some((field, value)))
    }
}

/// Append the integers of a repeated field, packed (bytes) or not (one varint).
pub(crate) fn push_ints(out: &mut Vec<u64>, v: Value<'_>) -> Result<(), WireError> {
    match v {
        Value::Varint(x) => out.push(x),
        Value::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                out.push(r.varint()?);
            }
        }
        _ => return Err(WireError("expected an integer")),
    }
    Ok(())
}

/// The integer of a scalar field.
pub(crate) fn int(v: Value<'_>) -> Result<u64, WireError> {
    match v {
        Value::Varint(x) | Value::Fixed64(x) => Ok(x),
        Value::Fixed32(x) => Ok(u64::from(x)),
        Value::Bytes(_) => Err(WireError("expected an integer, got bytes")),
    }
}

/// The bytes of a length-delimited field.
pub(crate) fn bytes(v: Value<'_>) -> Result<&[u8], WireError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(WireError("expected a length-delimited field")),
    }
}

/// Builds one message.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A varint field; zero is the default and is left out, as protobuf does.
    pub(crate) fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.varint(u64::from(field) << 3);
            self.varint(v);
        }
    }

    /// A length-delimited field.
    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) {
        self.varint((u64::from(field) << 3) | 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// A packed repeated integer field.
    pub(crate) fn packed(&mut self, field: u32, values: impl IntoIterator<Item = u64>) {
        let mut inner = Writer::default();
        for v in values {
            inner.varint(v);
        }
        if !inner.buf.is_empty() {
            self.bytes(field, &inner.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut w = Writer::default();
        w.uint(1, 300);
        w.bytes(2, b"abc");
        w.packed(3, [1, 2, u64::MAX]);
        let mut r = Reader::new(&w.buf);
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, int(v).unwrap()), (1, 300));
        let (f, v) = r.next_field().unwrap().unwrap();
        assert_eq!((f, bytes(v).unwrap()), (2, &b"abc"[..]));
        let (f, v) = r.next_field().unwrap().unwrap();
        let mut ints = Vec::new();
        push_ints(&mut ints, v).unwrap();
        assert_eq!((f, ints), (3, vec![1, 2, u64::MAX]));
        assert!(r.next_field().unwrap().is_none());
    }

    #[test]
    fn truncation_is_an_error() {
        let mut w = Writer::default();
        w.bytes(2, b"abcdef");
        let cut = &w.buf[..4];
        let mut r = Reader::new(cut);
        assert!(r.next_field().is_err());
    }
}
