//! The key/value section of a GGUF file, as far as a tokenizer needs it:
//! read with every length checked against what is left of the file, and
//! written back as a tokenizer-only GGUF (the same format, no tensors).
//!
//! The layout (little-endian): the magic `GGUF`, a `u32` version (2 and 3
//! are read; 1 used 32-bit counts and llama.cpp no longer reads it), the
//! tensor count and the key/value count as `u64`, then the pairs: a string
//! key (`u64` length and bytes), a `u32` value type, and the value. Strings
//! are a `u64` length and bytes; an array is a `u32` element type, a `u64`
//! count and the elements (arrays of arrays are refused, as llama.cpp
//! refuses them). Reading stops after the last pair: the tensor
//! descriptions and data that follow (most of a model's size) are never
//! read.
//!
//! A kept value is held as the bytes it had in the file, so that writing it
//! back is a byte copy; [`Value`] decodes them on demand.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::TokenizerError;

/// The first four bytes of every GGUF file.
const MAGIC: &[u8; 4] = b"GGUF";

/// The version written, and the highest read.
const VERSION: u32 = 3;

/// More key/value pairs than this is not a model file (real ones have a
/// few dozen).
pub(super) const MAX_KV_PAIRS: u64 = 1 << 16;

/// The longest key accepted, in bytes (real ones are under 64).
const MAX_KEY_BYTES: u64 = 1 << 12;

/// The most elements a kept array may have: four times the largest
/// vocabularies in use (Gemma 3: 262,144 tokens).
pub(super) const MAX_ARRAY_ELEMENTS: u64 = 1 << 20;

/// The most bytes the kept values may take together (Gemma 3's take about
/// 5 MB; a vocabulary with BPE merges, some 10 MB).
pub(super) const MAX_KEPT_BYTES: u64 = super::MAX_TOKENIZER_FILE_BYTES;

/// GGUF value types, by their number in the file.
mod ty {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// The size in bytes of a fixed-size value of type `t`, or `None` for a
/// string, an array or an unknown type.
fn fixed_size(t: u32) -> Option<u64> {
    match t {
        ty::U8 | ty::I8 | ty::BOOL => Some(1),
        ty::U16 | ty::I16 => Some(2),
        ty::U32 | ty::I32 | ty::F32 => Some(4),
        ty::U64 | ty::I64 | ty::F64 => Some(8),
        _ => None,
    }
}

/// The name of value type `t`, for messages.
fn type_name(t: u32) -> String {
    let name = match t {
        ty::U8 => "uint8",
        ty::I8 => "int8",
        ty::U16 => "uint16",
        ty::I16 => "int16",
        ty::U32 => "uint32",
        ty::I32 => "int32",
        ty::F32 => "float32",
        ty::BOOL => "bool",
        ty::STRING => "string",
        ty::ARRAY => "array",
        ty::U64 => "uint64",
        ty::I64 => "int64",
        ty::F64 => "float64",
        other => return format!("unknown type {other}"),
    };
    name.to_string()
}

/// One kept key/value pair.
#[derive(Debug, Clone)]
pub(super) struct Pair {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

/// A value as it was in the file: its type and the bytes that followed it
/// (for an array: element type, count and elements).
#[derive(Debug, Clone)]
pub(super) struct Value {
    ty: u32,
    raw: Vec<u8>,
}

/// The kept pairs of a GGUF file, in file order.
#[derive(Debug, Clone)]
pub(super) struct Metadata {
    /// The file read, for messages.
    pub path: PathBuf,
    /// The pairs kept.
    pub pairs: Vec<Pair>,
}

impl Metadata {
    /// Reads the key/value section of the GGUF file at `path`, keeping the
    /// pairs whose key `keep` accepts.
    ///
    /// # Errors
    ///
    /// [`TokenizerError::Read`] if the file cannot be opened or read,
    /// [`TokenizerError::Gguf`] naming what is wrong with it otherwise.
    pub fn read(path: &Path, keep: impl Fn(&str) -> bool) -> Result<Metadata, TokenizerError> {
        let read_error = |source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let len = file.metadata().map_err(read_error)?.len();
        let mut source = Source {
            reader: BufReader::new(file),
            pos: 0,
            len,
            path,
            kept: 0,
        };
        let pairs = source.metadata(keep)?;
        Ok(Metadata {
            path: path.to_path_buf(),
            pairs,
        })
    }

    /// The value of `key`, if kept.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.pairs.iter().find(|p| p.key == key).map(|p| &p.value)
    }

    /// The kept pairs as a GGUF file of their own: version 3, no tensors.
    pub fn to_bytes(&self) -> Vec<u8> {
        let size: usize = self
            .pairs
            .iter()
            .map(|p| 12 + p.key.len() + p.value.raw.len())
            .sum();
        let mut out = Vec::with_capacity(24 + size);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(self.pairs.len() as u64).to_le_bytes());
        for pair in &self.pairs {
            out.extend_from_slice(&(pair.key.len() as u64).to_le_bytes());
            out.extend_from_slice(pair.key.as_bytes());
            out.extend_from_slice(&pair.value.ty.to_le_bytes());
            out.extend_from_slice(&pair.value.raw);
        }
        out
    }

    /// A [`TokenizerError::Gguf`] about this file.
    pub fn error(&self, reason: impl Into<String>) -> TokenizerError {
        TokenizerError::Gguf {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

/// What a value was expected to be and was not.
#[derive(Debug)]
pub(super) struct WrongType {
    /// What the value is.
    pub found: String,
}

impl Value {
    /// The type of the value, or of its elements, for messages:
    /// `uint32`, `array of string`.
    pub fn describe(&self) -> String {
        match self.array_header() {
            Some((elem, _)) => format!("array of {}", type_name(elem)),
            None => type_name(self.ty),
        }
    }

    fn wrong(&self) -> WrongType {
        WrongType {
            found: self.describe(),
        }
    }

    /// The element type and count of an array.
    fn array_header(&self) -> Option<(u32, usize)> {
        if self.ty != ty::ARRAY {
            return None;
        }
        let elem = u32::from_le_bytes(self.raw.get(..4)?.try_into().ok()?);
        let count = u64::from_le_bytes(self.raw.get(4..12)?.try_into().ok()?);
        Some((elem, usize::try_from(count).ok()?))
    }

    /// A string value's bytes.
    pub fn as_str(&self) -> Result<&[u8], WrongType> {
        if self.ty != ty::STRING {
            return Err(self.wrong());
        }
        self.raw.get(8..).ok_or_else(|| self.wrong())
    }

    /// A bool value (any non-zero byte is true, as llama.cpp reads it).
    pub fn as_bool(&self) -> Result<bool, WrongType> {
        match (self.ty, self.raw.as_slice()) {
            (ty::BOOL, [b]) => Ok(*b != 0),
            _ => Err(self.wrong()),
        }
    }

    /// An unsigned 32-bit value (llama.cpp reads token ids as `uint32`).
    pub fn as_u32(&self) -> Result<u32, WrongType> {
        match (self.ty, self.raw.as_slice()) {
            (ty::U32, &[a, b, c, d]) => Ok(u32::from_le_bytes([a, b, c, d])),
            _ => Err(self.wrong()),
        }
    }

    /// The elements of a string array.
    pub fn as_str_array(&self) -> Result<Vec<&[u8]>, WrongType> {
        let Some((ty::STRING, count)) = self.array_header() else {
            return Err(self.wrong());
        };
        let mut rest = self.raw.get(12..).ok_or_else(|| self.wrong())?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let (len, tail) = rest.split_first_chunk::<8>().ok_or_else(|| self.wrong())?;
            let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| self.wrong())?;
            let (s, tail) = tail.split_at_checked(len).ok_or_else(|| self.wrong())?;
            out.push(s);
            rest = tail;
        }
        Ok(out)
    }

    /// The elements of an array of 4-byte numbers of element type `elem`.
    fn array4(&self, elem: u32) -> Result<Vec<[u8; 4]>, WrongType> {
        match self.array_header() {
            Some((t, _)) if t == elem => {}
            _ => return Err(self.wrong()),
        }
        let body = self.raw.get(12..).ok_or_else(|| self.wrong())?;
        let (chunks, rest) = body.as_chunks::<4>();
        if !rest.is_empty() {
            return Err(self.wrong());
        }
        Ok(chunks.to_vec())
    }

    /// The elements of an `int32` array.
    pub fn as_i32_array(&self) -> Result<Vec<i32>, WrongType> {
        Ok(self
            .array4(ty::I32)?
            .into_iter()
            .map(i32::from_le_bytes)
            .collect())
    }

    /// The elements of a `float32` array.
    pub fn as_f32_array(&self) -> Result<Vec<f32>, WrongType> {
        Ok(self
            .array4(ty::F32)?
            .into_iter()
            .map(f32::from_le_bytes)
            .collect())
    }

    /// Whether this is an array whose elements have type `int32`.
    pub fn is_i32_array(&self) -> bool {
        matches!(self.array_header(), Some((ty::I32, _)))
    }
}

/// A GGUF file being read, with its position and length so that no count
/// or length is believed beyond what is left of the file.
struct Source<'p> {
    reader: BufReader<File>,
    pos: u64,
    len: u64,
    path: &'p Path,
    /// Bytes kept so far, against [`MAX_KEPT_BYTES`].
    kept: u64,
}

impl Source<'_> {
    fn error(&self, reason: impl Into<String>) -> TokenizerError {
        TokenizerError::Gguf {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Fails unless `n` more bytes are left, saying what they were for.
    fn need(&self, n: u64, what: &dyn Fn() -> String) -> Result<(), TokenizerError> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "truncated: {} needs {n} bytes at offset {}, but only {} are left",
                what(),
                self.pos,
                self.remaining()
            )));
        }
        Ok(())
    }

    /// Reads `n` bytes (already checked to be there) into `keep`, or skips
    /// them.
    fn take(&mut self, n: u64, keep: Option<&mut Vec<u8>>) -> Result<(), TokenizerError> {
        self.need(n, &|| "a value".to_string())?;
        let io = |source| TokenizerError::Read {
            path: self.path.to_path_buf(),
            source,
        };
        match keep {
            Some(out) => {
                self.kept += n;
                if self.kept > MAX_KEPT_BYTES {
                    return Err(self.error(format!(
                        "the tokenizer metadata is larger than the {MAX_KEPT_BYTES} bytes allowed"
                    )));
                }
                let start = out.len();
                let n = usize::try_from(n).map_err(|_| self.error("a value too large"))?;
                out.resize(start + n, 0);
                self.reader.read_exact(&mut out[start..]).map_err(io)?;
            }
            None => {
                let n = i64::try_from(n).map_err(|_| self.error("a value too large"))?;
                self.reader.seek_relative(n).map_err(io)?;
            }
        }
        self.pos += n;
        Ok(())
    }

    fn bytes<const N: usize>(
        &mut self,
        what: &dyn Fn() -> String,
        keep: Option<&mut Vec<u8>>,
    ) -> Result<[u8; N], TokenizerError> {
        self.need(N as u64, what)?;
        let mut buf = [0; N];
        self.reader
            .read_exact(&mut buf)
            .map_err(|source| TokenizerError::Read {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.pos += N as u64;
        if let Some(out) = keep {
            self.kept += N as u64;
            out.extend_from_slice(&buf);
        }
        Ok(buf)
    }

    fn u32(
        &mut self,
        what: &dyn Fn() -> String,
        keep: Option<&mut Vec<u8>>,
    ) -> Result<u32, TokenizerError> {
        self.bytes::<4>(what, keep).map(u32::from_le_bytes)
    }

    fn u64(
        &mut self,
        what: &dyn Fn() -> String,
        keep: Option<&mut Vec<u8>>,
    ) -> Result<u64, TokenizerError> {
        self.bytes::<8>(what, keep).map(u64::from_le_bytes)
    }

    /// The header and the key/value section.
    fn metadata(&mut self, keep: impl Fn(&str) -> bool) -> Result<Vec<Pair>, TokenizerError> {
        let magic = self.bytes::<4>(&|| "the magic number".to_string(), None)?;
        if &magic != MAGIC {
            return Err(self.error(format!(
                "not a GGUF file: it starts with {magic:02x?}, not \"GGUF\""
            )));
        }
        let version = self.u32(&|| "the version".to_string(), None)?;
        if !(2..=VERSION).contains(&version) {
            let hint = if version & 0xffff == 0 {
                " (a big-endian file?)"
            } else {
                ""
            };
            return Err(self.error(format!(
                "GGUF version {version}{hint} is not supported; versions 2 and 3 are"
            )));
        }
        let _tensors = self.u64(&|| "the tensor count".to_string(), None)?;
        let count = self.u64(&|| "the key/value count".to_string(), None)?;
        if count > MAX_KV_PAIRS {
            return Err(self.error(format!(
                "it declares {count} key/value pairs; more than {MAX_KV_PAIRS} is not a model file"
            )));
        }
        let mut seen = HashSet::new();
        let mut pairs = Vec::new();
        for i in 0..count {
            let key = self.key(i)?;
            if !seen.insert(key.clone()) {
                return Err(self.error(format!("key {key:?} appears twice")));
            }
            let what = |k: &str| {
                let k = k.to_string();
                move || format!("the value of {k:?}")
            };
            if keep(&key) {
                let mut raw = Vec::new();
                let t = self.u32(&what(&key), None)?;
                self.value(&key, t, Some(&mut raw))?;
                pairs.push(Pair {
                    key,
                    value: Value { ty: t, raw },
                });
            } else {
                let t = self.u32(&what(&key), None)?;
                self.value(&key, t, None)?;
            }
        }
        Ok(pairs)
    }

    /// Key number `i`: a non-empty UTF-8 string.
    fn key(&mut self, i: u64) -> Result<String, TokenizerError> {
        let what = || format!("key {i}");
        let len = self.u64(&what, None)?;
        if len == 0 {
            return Err(self.error(format!("key {i} is empty")));
        }
        if len > MAX_KEY_BYTES {
            return Err(self.error(format!(
                "key {i} is {len} bytes long; more than {MAX_KEY_BYTES} is not a GGUF key"
            )));
        }
        self.need(len, &what)?;
        // At most MAX_KEY_BYTES, checked above.
        let mut bytes = vec![0; len as usize];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|source| TokenizerError::Read {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.pos += len;
        String::from_utf8(bytes).map_err(|e| {
            self.error(format!(
                "key {i} is not UTF-8: {:?}",
                String::from_utf8_lossy(e.as_bytes())
            ))
        })
    }

    /// A value of type `t` for `key`, kept in `keep` or skipped.
    fn value(
        &mut self,
        key: &str,
        t: u32,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), TokenizerError> {
        let what = || format!("the value of {key:?}");
        if let Some(size) = fixed_size(t) {
            return self.take(size, keep);
        }
        match t {
            ty::STRING => self.string(&what, keep),
            ty::ARRAY => {
                let elem = self.u32(&what, keep.as_deref_mut())?;
                let count = self.u64(&what, keep.as_deref_mut())?;
                let min = match (elem, fixed_size(elem)) {
                    (_, Some(size)) => size,
                    (ty::STRING, None) => 8,
                    (ty::ARRAY, None) => {
                        return Err(self.error(format!(
                            "{key:?} is an array of arrays, which GGUF readers refuse"
                        )));
                    }
                    (other, None) => {
                        return Err(
                            self.error(format!("{key:?} is an array of {}", type_name(other)))
                        );
                    }
                };
                if count.saturating_mul(min) > self.remaining() {
                    return Err(self.error(format!(
                        "truncated: {key:?} declares {count} elements of {} but only {} bytes are left",
                        type_name(elem),
                        self.remaining()
                    )));
                }
                if keep.is_some() && count > MAX_ARRAY_ELEMENTS {
                    return Err(self.error(format!(
                        "{key:?} has {count} elements; more than {MAX_ARRAY_ELEMENTS} is not a tokenizer"
                    )));
                }
                if elem == ty::STRING {
                    for _ in 0..count {
                        self.string(&what, keep.as_deref_mut())?;
                    }
                    Ok(())
                } else {
                    self.take(count * min, keep)
                }
            }
            other => Err(self.error(format!("{key:?} has {}", type_name(other)))),
        }
    }

    /// A string: its length, checked, and its bytes (any bytes: token
    /// texts are not required to be UTF-8).
    fn string(
        &mut self,
        what: &dyn Fn() -> String,
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<(), TokenizerError> {
        let len = self.u64(what, keep.as_deref_mut())?;
        if len > self.remaining() {
            return Err(self.error(format!(
                "truncated: a string in {} is {len} bytes long but only {} bytes are left",
                what(),
                self.remaining()
            )));
        }
        self.take(len, keep)
    }
}
