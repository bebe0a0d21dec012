//! Reads the index of a CTranslate2 `model.bin` and streams tensor data out of it.
//!
//! Layout (little endian, binary version 4 and later): `u32` version, spec name,
//! `u32` spec revision, `u32` variable count, then per variable its name, `u8` rank,
//! `u32` dims, `u8` dtype id, `u32` byte count and the data; then `u32` alias count
//! and alias/target name pairs. Names are `u16` lengths counting a trailing NUL.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::ConvertError;

/// Binary versions whose layout this reader knows.
const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u32> = 4..=6;
/// Far above any real model; guards allocations against a corrupt count.
const MAX_VARIABLES: u32 = 1_000_000;
const MAX_RANK: u8 = 8;
/// Elements converted per step when streaming a tensor.
const STREAM_CHUNK_ELEMENTS: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    pub fn size(self) -> u64 {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F16 | Self::Bf16)
    }
}

/// The element type a tensor is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutType {
    F32,
    F16,
}

#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub shape: Vec<u64>,
    pub dtype: Dtype,
    /// Absolute file offset of the first data byte.
    pub offset: u64,
}

impl TensorEntry {
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

pub struct Ct2File {
    path: PathBuf,
    pub spec: String,
    tensors: BTreeMap<String, TensorEntry>,
    aliases: BTreeMap<String, String>,
    file: File,
}

/// A reader that knows its position and file length, so a short read becomes a
/// `Truncated` error naming what was being read and where.
struct IndexReader<'a> {
    inner: BufReader<&'a File>,
    path: &'a Path,
    position: u64,
    len: u64,
}

impl IndexReader<'_> {
    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ConvertError> {
        let mut buf = [0u8; N];
        self.exact(&mut buf, what)?;
        Ok(buf)
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ConvertError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.position += buf.len() as u64;
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Err(self.truncated(what)),
            Err(source) => Err(ConvertError::Io {
                path: self.path.to_path_buf(),
                source,
            }),
        }
    }

    fn truncated(&self, what: &str) -> ConvertError {
        ConvertError::Truncated {
            path: self.path.to_path_buf(),
            what: what.to_string(),
            offset: self.position,
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, ConvertError> {
        Ok(self.bytes::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ConvertError> {
        Ok(u16::from_le_bytes(self.bytes(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ConvertError> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, ConvertError> {
        let len = self.u16(what)? as usize;
        let start = self.position;
        let mut buf = vec![0u8; len];
        self.exact(&mut buf, what)?;
        if buf.pop() != Some(0) {
            return Err(self.corrupt(start, format!("{what} is not NUL-terminated")));
        }
        String::from_utf8(buf).map_err(|_| self.corrupt(start, format!("{what} is not UTF-8")))
    }

    fn skip(&mut self, bytes: u64, what: &str) -> Result<(), ConvertError> {
        if self.len.saturating_sub(self.position) < bytes {
            return Err(self.truncated(what));
        }
        let step = i64::try_from(bytes).map_err(|_| self.truncated(what))?;
        self.inner
            .seek_relative(step)
            .map_err(|source| ConvertError::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.position += bytes;
        Ok(())
    }

    fn corrupt(&self, offset: u64, reason: String) -> ConvertError {
        ConvertError::Corrupt {
            path: self.path.to_path_buf(),
            offset,
            reason,
        }
    }
}

impl Ct2File {
    /// Reads the index (names, shapes, types, offsets, aliases) without loading tensor data.
    pub fn open(path: &Path) -> Result<Self, ConvertError> {
        let io_err = |source| ConvertError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let mut r = IndexReader {
            inner: BufReader::new(&file),
            path,
            position: 0,
            len,
        };

        let version = r.u32("binary version")?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(ConvertError::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            });
        }
        let spec = r.string("spec name")?;
        let _revision = r.u32("spec revision")?;
        let count_at = r.position;
        let count = r.u32("variable count")?;
        if count > MAX_VARIABLES {
            return Err(r.corrupt(count_at, format!("{count} variables is implausible")));
        }

        let mut tensors = BTreeMap::new();
        for _ in 0..count {
            let entry_at = r.position;
            let name = r.string("variable name")?;
            let rank = r.u8("variable rank")?;
            if rank > MAX_RANK {
                return Err(r.corrupt(entry_at, format!("`{name}` has rank {rank}")));
            }
            let mut shape = Vec::with_capacity(rank as usize);
            for _ in 0..rank {
                shape.push(u64::from(r.u32("variable shape")?));
            }
            let type_id = r.u8("variable dtype")?;
            let dtype = Dtype::from_id(type_id).ok_or_else(|| {
                r.corrupt(entry_at, format!("`{name}` has unknown dtype id {type_id}"))
            })?;
            let bytes = u64::from(r.u32("variable byte count")?);
            let expected = shape
                .iter()
                .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
            if expected != Some(bytes) {
                return Err(r.corrupt(
                    entry_at,
                    format!("`{name}` of shape {shape:?} ({dtype:?}) claims {bytes} bytes"),
                ));
            }
            let offset = r.position;
            r.skip(bytes, &format!("data of `{name}`"))?;
            if tensors
                .insert(
                    name.clone(),
                    TensorEntry {
                        shape,
                        dtype,
                        offset,
                    },
                )
                .is_some()
            {
                return Err(r.corrupt(entry_at, format!("`{name}` appears twice")));
            }
        }

        let alias_count = r.u32("alias count")?;
        if alias_count > MAX_VARIABLES {
            return Err(r.corrupt(
                r.position - 4,
                format!("{alias_count} aliases is implausible"),
            ));
        }
        let mut aliases = BTreeMap::new();
        for _ in 0..alias_count {
            let alias = r.string("alias name")?;
            let target = r.string("alias target")?;
            aliases.insert(alias, target);
        }

        drop(r);
        Ok(Self {
            path: path.to_path_buf(),
            spec,
            tensors,
            aliases,
            file,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors
            .keys()
            .chain(self.aliases.keys())
            .map(String::as_str)
    }

    /// Looks a tensor up by name, following aliases.
    pub fn get(&self, name: &str) -> Result<&TensorEntry, ConvertError> {
        let mut current = name;
        // Bounded so an alias cycle in a corrupt file cannot loop forever.
        for _ in 0..=self.aliases.len() {
            if let Some(entry) = self.tensors.get(current) {
                return Ok(entry);
            }
            match self.aliases.get(current) {
                Some(target) => current = target,
                None => break,
            }
        }
        Err(ConvertError::MissingTensor {
            name: name.to_string(),
        })
    }

    /// Reads a (small) range of elements as `f64`, whatever the stored type.
    pub fn read_values(
        &self,
        name: &str,
        first: u64,
        count: u64,
    ) -> Result<Vec<f64>, ConvertError> {
        let entry = self.get(name)?;
        let size = entry.dtype.size();
        let mut raw = vec![0u8; (count * size) as usize];
        self.read_at(entry.offset + first * size, &mut raw)?;
        Ok(raw
            .chunks_exact(size as usize)
            .map(|b| match entry.dtype {
                Dtype::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::I8 => f64::from(b[0] as i8),
                Dtype::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                Dtype::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::F16 => f64::from(half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
                Dtype::Bf16 => f64::from(half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
            })
            .collect())
    }

    /// Streams `count` elements of `name` starting at element `first` into `out`,
    /// converted to `out_type`, in bounded chunks.
    pub fn stream(
        &self,
        name: &str,
        first: u64,
        count: u64,
        out_type: OutType,
        out: &mut impl Write,
    ) -> Result<(), StreamError> {
        let entry = self.get(name)?;
        if !entry.dtype.is_float() {
            return Err(ConvertError::UnsupportedDtype {
                name: name.to_string(),
                dtype: format!("{:?}", entry.dtype),
            }
            .into());
        }
        let size = entry.dtype.size();
        let mut raw = vec![0u8; STREAM_CHUNK_ELEMENTS * size as usize];
        let mut converted = Vec::with_capacity(STREAM_CHUNK_ELEMENTS * 4);
        let mut done = 0u64;
        while done < count {
            let n = (count - done).min(STREAM_CHUNK_ELEMENTS as u64);
            let chunk = &mut raw[..(n * size) as usize];
            self.read_at(entry.offset + (first + done) * size, chunk)?;
            converted.clear();
            convert_chunk(entry.dtype, out_type, chunk, &mut converted);
            out.write_all(&converted).map_err(StreamError::Write)?;
            done += n;
        }
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), ConvertError> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(buf))
            .map_err(|source| {
                if source.kind() == io::ErrorKind::UnexpectedEof {
                    ConvertError::Truncated {
                        path: self.path.clone(),
                        what: "tensor data".into(),
                        offset,
                    }
                } else {
                    ConvertError::Io {
                        path: self.path.clone(),
                        source,
                    }
                }
            })
    }
}

/// Reading and writing fail differently: the caller names the output file.
#[derive(Debug)]
pub enum StreamError {
    Read(ConvertError),
    Write(io::Error),
}

impl From<ConvertError> for StreamError {
    fn from(err: ConvertError) -> Self {
        Self::Read(err)
    }
}

fn convert_chunk(from: Dtype, to: OutType, raw: &[u8], out: &mut Vec<u8>) {
    match (from, to) {
        (Dtype::F32, OutType::F32) | (Dtype::F16, OutType::F16) => out.extend_from_slice(raw),
        (Dtype::F16, OutType::F32) => {
            for b in raw.chunks_exact(2) {
                let v = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        (Dtype::F32, OutType::F16) => {
            for b in raw.chunks_exact(4) {
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
            }
        }
        (Dtype::Bf16, _) => {
            for b in raw.chunks_exact(2) {
                let v = half::bf16::from_le_bytes([b[0], b[1]]).to_f32();
                match to {
                    OutType::F32 => out.extend_from_slice(&v.to_le_bytes()),
                    OutType::F16 => out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes()),
                }
            }
        }
        // Integer tensors are rejected before streaming starts.
        (Dtype::I8 | Dtype::I16 | Dtype::I32, _) => {}
    }
}
