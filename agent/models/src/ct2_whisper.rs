//! CTranslate2 Whisper → whisper.cpp ggml conversion.
//!
//! The speech model arrives from the package registry in CTranslate2 form; whisper.cpp
//! reads the ggml layout. The conversion is lossless for an fp16 model: fused
//! projections are split, tensors renamed, and the mel filters and byte-level
//! vocabulary that whisper.cpp expects in the file header are added.

mod byte_vocab;
mod ct2_file;
mod mel;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use ct2_file::{Ct2File, OutType, StreamError};

const GGML_MAGIC: u32 = 0x6767_6d6c;
/// `ftype` 1: matrices stored as f16.
const GGML_FTYPE_F16: i32 = 1;
const WHISPER_SPEC: &str = "WhisperSpec";
/// Multilingual vocabularies have one more ordinary token before the specials.
const MULTILINGUAL_N_VOCAB: u64 = 51865;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("missing model file {path}")]
    MissingFile { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is truncated: it ends while reading {what} at byte {offset}")]
    Truncated {
        path: PathBuf,
        what: String,
        offset: u64,
    },
    #[error("{path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: CTranslate2 binary version {version} is not supported (expected 4 to 6)")]
    UnsupportedVersion { path: PathBuf, version: u32 },
    #[error("the model is a `{found}`, not a CTranslate2 `WhisperSpec`")]
    WrongSpec { found: String },
    #[error("the model has no tensor `{name}`")]
    MissingTensor { name: String },
    #[error("tensor `{name}` is stored as {dtype}; only f32, f16 and bf16 models can be converted")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<u64>,
        found: Vec<u64>,
    },
    #[error("tensor `{name}`: {reason}")]
    Unsupported { name: String, reason: String },
    #[error("{path}: {reason}")]
    Vocabulary { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertSummary {
    pub tensors: usize,
    pub bytes: u64,
}

/// Converts the CTranslate2 Whisper model in `ct2_dir` (`model.bin`,
/// `vocabulary.txt`) into a whisper.cpp ggml file at `output`. The output is
/// byte-for-byte deterministic; on error no file is left at `output`.
pub fn convert(ct2_dir: &Path, output: &Path) -> Result<ConvertSummary, ConvertError> {
    let model_path = ct2_dir.join("model.bin");
    let vocab_path = ct2_dir.join("vocabulary.txt");
    for path in [&model_path, &vocab_path] {
        if !path.is_file() {
            return Err(ConvertError::MissingFile { path: path.clone() });
        }
    }

    let model = Ct2File::open(&model_path)?;
    if model.spec != WHISPER_SPEC {
        return Err(ConvertError::WrongSpec {
            found: model.spec.clone(),
        });
    }
    let hparams = Hparams::read(&model)?;
    let plan = TensorPlan::build(&model, &hparams)?;
    let vocab = read_vocabulary(&vocab_path, hparams.n_vocab)?;

    let result = write_ggml(&model, &hparams, &plan, &vocab, output);
    if result.is_err() {
        let _ = fs::remove_file(output);
    }
    result
}

/// whisper.cpp's hyper-parameters, in file order.
#[derive(Debug, Clone, Copy)]
struct Hparams {
    n_vocab: u64,
    n_audio_ctx: u64,
    n_audio_state: u64,
    n_audio_head: u64,
    n_audio_layer: u64,
    n_text_ctx: u64,
    n_text_state: u64,
    n_text_head: u64,
    n_text_layer: u64,
    n_mels: u64,
}

impl Hparams {
    fn read(model: &Ct2File) -> Result<Self, ConvertError> {
        let shape2 = |name: &str| -> Result<(u64, u64), ConvertError> {
            let entry = model.get(name)?;
            match entry.shape[..] {
                [a, b] => Ok((a, b)),
                _ => Err(ConvertError::Unsupported {
                    name: name.into(),
                    reason: format!("expected a matrix, found shape {:?}", entry.shape),
                }),
            }
        };
        let (n_vocab, n_text_state) = shape2("decoder/embeddings/weight")?;
        let (n_audio_ctx, n_audio_state) = shape2("encoder/position_encodings/encodings")?;
        let (n_text_ctx, _) = shape2("decoder/position_encodings/encodings")?;
        let conv1 = model.get("encoder/conv1/weight")?;
        let n_mels = *conv1
            .shape
            .get(1)
            .ok_or_else(|| ConvertError::Unsupported {
                name: "encoder/conv1/weight".into(),
                reason: format!("expected 3 dimensions, found {:?}", conv1.shape),
            })?;
        Ok(Self {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head: read_head_count(model, "encoder/num_heads")?,
            n_audio_layer: count_layers(model, "encoder")?,
            n_text_ctx,
            n_text_state,
            n_text_head: read_head_count(model, "decoder/num_heads")?,
            n_text_layer: count_layers(model, "decoder")?,
            n_mels,
        })
    }

    fn as_i32s(&self) -> Result<[i32; 11], ConvertError> {
        let fields = [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
        ];
        let mut out = [GGML_FTYPE_F16; 11];
        for (slot, value) in out.iter_mut().zip(fields) {
            *slot = i32::try_from(value).map_err(|_| ConvertError::Unsupported {
                name: "hyper-parameters".into(),
                reason: format!("{value} does not fit the ggml header"),
            })?;
        }
        Ok(out)
    }
}

fn read_head_count(model: &Ct2File, name: &str) -> Result<u64, ConvertError> {
    let entry = model.get(name)?;
    let heads = if entry.elements() == 1 {
        model.read_values(name, 0, 1)?[0]
    } else {
        0.0
    };
    if heads < 1.0 || heads.fract() != 0.0 || heads > 1024.0 {
        return Err(ConvertError::Unsupported {
            name: name.into(),
            reason: format!("not a plausible head count ({heads})"),
        });
    }
    Ok(heads as u64)
}

/// Counts `<stack>/layer_N` prefixes and checks they run 0..N without gaps.
fn count_layers(model: &Ct2File, stack: &str) -> Result<u64, ConvertError> {
    let prefix = format!("{stack}/layer_");
    let mut layers: Vec<u64> = model
        .names()
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect();
    layers.sort_unstable();
    layers.dedup();
    let count = layers.len() as u64;
    if count == 0 || layers.last() != Some(&(count - 1)) {
        return Err(ConvertError::MissingTensor {
            name: format!("{prefix}{}", layers.len()),
        });
    }
    Ok(count)
}

/// One ggml tensor: a contiguous run of rows of a CT2 tensor.
#[derive(Debug)]
struct PlannedTensor {
    name: String,
    source: String,
    first_row: u64,
    /// Output shape, outermost dimension first.
    shape: Vec<u64>,
    out_type: OutType,
}

impl PlannedTensor {
    fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

struct TensorPlan<'a> {
    model: &'a Ct2File,
    tensors: Vec<PlannedTensor>,
}

impl<'a> TensorPlan<'a> {
    fn build(model: &'a Ct2File, hp: &Hparams) -> Result<Vec<PlannedTensor>, ConvertError> {
        let mut plan = TensorPlan {
            model,
            tensors: Vec::new(),
        };
        let (a, t) = (hp.n_audio_state, hp.n_text_state);

        plan.whole(
            "encoder.positional_embedding",
            "encoder/position_encodings/encodings",
            &[hp.n_audio_ctx, a],
            OutType::F32,
        )?;
        plan.conv("encoder.conv1", "encoder/conv1", &[a, hp.n_mels, 3])?;
        plan.conv("encoder.conv2", "encoder/conv2", &[a, a, 3])?;
        for i in 0..hp.n_audio_layer {
            let (src, dst) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
            plan.layer_norm(
                &format!("{dst}.attn_ln"),
                &format!("{src}/self_attention/layer_norm"),
                a,
            )?;
            plan.fused(
                &format!("{dst}.attn"),
                &["query", "key", "value"],
                &format!("{src}/self_attention/linear_0"),
                a,
                a,
            )?;
            plan.linear(
                &format!("{dst}.attn.out"),
                &format!("{src}/self_attention/linear_1"),
                a,
                a,
            )?;
            plan.feed_forward(&dst, &src, a)?;
        }
        plan.layer_norm("encoder.ln_post", "encoder/layer_norm", a)?;

        plan.whole(
            "decoder.positional_embedding",
            "decoder/position_encodings/encodings",
            &[hp.n_text_ctx, t],
            OutType::F32,
        )?;
        plan.whole(
            "decoder.token_embedding.weight",
            "decoder/embeddings/weight",
            &[hp.n_vocab, t],
            OutType::F16,
        )?;
        for i in 0..hp.n_text_layer {
            let (src, dst) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
            plan.layer_norm(
                &format!("{dst}.attn_ln"),
                &format!("{src}/self_attention/layer_norm"),
                t,
            )?;
            plan.fused(
                &format!("{dst}.attn"),
                &["query", "key", "value"],
                &format!("{src}/self_attention/linear_0"),
                t,
                t,
            )?;
            plan.linear(
                &format!("{dst}.attn.out"),
                &format!("{src}/self_attention/linear_1"),
                t,
                t,
            )?;
            plan.layer_norm(
                &format!("{dst}.cross_attn_ln"),
                &format!("{src}/attention/layer_norm"),
                t,
            )?;
            plan.linear(
                &format!("{dst}.cross_attn.query"),
                &format!("{src}/attention/linear_0"),
                t,
                t,
            )?;
            plan.fused(
                &format!("{dst}.cross_attn"),
                &["key", "value"],
                &format!("{src}/attention/linear_1"),
                t,
                a,
            )?;
            plan.linear(
                &format!("{dst}.cross_attn.out"),
                &format!("{src}/attention/linear_2"),
                t,
                t,
            )?;
            plan.feed_forward(&dst, &src, t)?;
        }
        plan.layer_norm("decoder.ln", "decoder/layer_norm", t)?;
        Ok(plan.tensors)
    }

    fn expect_shape(&self, source: &str, expected: &[u64]) -> Result<(), ConvertError> {
        let found = &self.model.get(source)?.shape;
        if found[..] != *expected {
            return Err(ConvertError::ShapeMismatch {
                name: source.into(),
                expected: expected.to_vec(),
                found: found.clone(),
            });
        }
        Ok(())
    }

    fn push(
        &mut self,
        name: String,
        source: String,
        first_row: u64,
        shape: Vec<u64>,
        out_type: OutType,
    ) {
        self.tensors.push(PlannedTensor {
            name,
            source,
            first_row,
            shape,
            out_type,
        });
    }

    fn whole(
        &mut self,
        name: &str,
        source: &str,
        shape: &[u64],
        out_type: OutType,
    ) -> Result<(), ConvertError> {
        self.expect_shape(source, shape)?;
        self.push(name.into(), source.into(), 0, shape.to_vec(), out_type);
        Ok(())
    }

    /// Conv weights stay 3-D f16; whisper.cpp wants each bias as an `[n, 1]` f32 column.
    fn conv(&mut self, dst: &str, src: &str, weight_shape: &[u64]) -> Result<(), ConvertError> {
        self.whole(
            &format!("{dst}.weight"),
            &format!("{src}/weight"),
            weight_shape,
            OutType::F16,
        )?;
        let bias = format!("{src}/bias");
        self.expect_shape(&bias, &weight_shape[..1])?;
        self.push(
            format!("{dst}.bias"),
            bias,
            0,
            vec![weight_shape[0], 1],
            OutType::F32,
        );
        Ok(())
    }

    fn layer_norm(&mut self, dst: &str, src: &str, width: u64) -> Result<(), ConvertError> {
        self.whole(
            &format!("{dst}.weight"),
            &format!("{src}/gamma"),
            &[width],
            OutType::F32,
        )?;
        self.whole(
            &format!("{dst}.bias"),
            &format!("{src}/beta"),
            &[width],
            OutType::F32,
        )
    }

    fn linear(&mut self, dst: &str, src: &str, rows: u64, cols: u64) -> Result<(), ConvertError> {
        self.whole(
            &format!("{dst}.weight"),
            &format!("{src}/weight"),
            &[rows, cols],
            OutType::F16,
        )?;
        self.whole(
            &format!("{dst}.bias"),
            &format!("{src}/bias"),
            &[rows],
            OutType::F32,
        )
    }

    fn feed_forward(&mut self, dst: &str, src: &str, width: u64) -> Result<(), ConvertError> {
        self.layer_norm(
            &format!("{dst}.mlp_ln"),
            &format!("{src}/ffn/layer_norm"),
            width,
        )?;
        self.linear(
            &format!("{dst}.mlp.0"),
            &format!("{src}/ffn/linear_0"),
            4 * width,
            width,
        )?;
        self.linear(
            &format!("{dst}.mlp.2"),
            &format!("{src}/ffn/linear_1"),
            width,
            4 * width,
        )
    }

    /// Splits a fused projection (rows stacked part after part) into one linear
    /// per part. whisper.cpp's key projections have no bias, so CT2's key bias
    /// must be zero for the split to be lossless.
    fn fused(
        &mut self,
        dst: &str,
        parts: &[&str],
        src: &str,
        rows: u64,
        cols: u64,
    ) -> Result<(), ConvertError> {
        let n = parts.len() as u64;
        let (weight, bias) = (format!("{src}/weight"), format!("{src}/bias"));
        self.expect_shape(&weight, &[n * rows, cols])?;
        self.expect_shape(&bias, &[n * rows])?;
        for (i, part) in (0u64..).zip(parts) {
            let first_row = i * rows;
            self.push(
                format!("{dst}.{part}.weight"),
                weight.clone(),
                first_row,
                vec![rows, cols],
                OutType::F16,
            );
            if *part == "key" {
                let values = self.model.read_values(&bias, first_row, rows)?;
                if values.iter().any(|&v| v != 0.0) {
                    return Err(ConvertError::Unsupported {
                        name: bias,
                        reason: "the key projection has a bias, which whisper.cpp cannot hold"
                            .into(),
                    });
                }
            } else {
                self.push(
                    format!("{dst}.{part}.bias"),
                    bias.clone(),
                    first_row,
                    vec![rows],
                    OutType::F32,
                );
            }
        }
        Ok(())
    }
}

/// The raw bytes of the ordinary (non-special) tokens, in id order.
fn read_vocabulary(path: &Path, n_vocab: u64) -> Result<Vec<Vec<u8>>, ConvertError> {
    let text = fs::read(path).map_err(|source| ConvertError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(text).map_err(|err| ConvertError::Vocabulary {
        path: path.to_path_buf(),
        reason: format!("not UTF-8 at byte {}", err.utf8_error().valid_up_to()),
    })?;
    let n_ordinary = if n_vocab >= MULTILINGUAL_N_VOCAB {
        50257
    } else {
        50256
    };
    let lines: Vec<&str> = text.split('\n').take(n_ordinary).collect();
    if lines.len() < n_ordinary {
        return Err(ConvertError::Vocabulary {
            path: path.to_path_buf(),
            reason: format!("{} tokens, expected at least {n_ordinary}", lines.len()),
        });
    }
    let decoder = byte_vocab::decoder();
    lines
        .iter()
        .enumerate()
        .map(|(id, token)| {
            byte_vocab::token_bytes(token, &decoder).map_err(|c| ConvertError::Vocabulary {
                path: path.to_path_buf(),
                reason: format!(
                    "token {id} ({token:?}) has {c:?}, outside the byte-level alphabet"
                ),
            })
        })
        .collect()
}

fn write_ggml(
    model: &Ct2File,
    hparams: &Hparams,
    plan: &[PlannedTensor],
    vocab: &[Vec<u8>],
    output: &Path,
) -> Result<ConvertSummary, ConvertError> {
    let write_err = |source| ConvertError::Write {
        path: output.to_path_buf(),
        source,
    };
    let file = File::create(output).map_err(write_err)?;
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        written: 0,
    };
    write_header(&mut out, hparams, vocab).map_err(write_err)?;

    for tensor in plan {
        write_tensor_header(&mut out, tensor).map_err(write_err)?;
        let row_elements: u64 = model.get(&tensor.source)?.shape[1..].iter().product();
        let first = tensor.first_row * row_elements;
        model
            .stream(
                &tensor.source,
                first,
                tensor.elements(),
                tensor.out_type,
                &mut out,
            )
            .map_err(|err| match err {
                StreamError::Read(err) => err,
                StreamError::Write(source) => write_err(source),
            })?;
    }

    let file = out
        .inner
        .into_inner()
        .map_err(|err| write_err(err.into_error()))?;
    file.sync_all().map_err(write_err)?;
    Ok(ConvertSummary {
        tensors: plan.len(),
        bytes: out.written,
    })
}

fn write_header(out: &mut impl Write, hparams: &Hparams, vocab: &[Vec<u8>]) -> io::Result<()> {
    let hp = hparams.as_i32s().map_err(io::Error::other)?;
    out.write_all(&GGML_MAGIC.to_le_bytes())?;
    for value in hp {
        out.write_all(&value.to_le_bytes())?;
    }

    let n_mels = hparams.n_mels as usize;
    write_i32(out, n_mels)?;
    write_i32(out, mel::FFT_BINS)?;
    for weight in mel::filters(n_mels) {
        out.write_all(&weight.to_le_bytes())?;
    }

    write_i32(out, vocab.len())?;
    for token in vocab {
        write_i32(out, token.len())?;
        out.write_all(token)?;
    }
    Ok(())
}

fn write_tensor_header(out: &mut impl Write, tensor: &PlannedTensor) -> io::Result<()> {
    let name = tensor.name.as_bytes();
    write_i32(out, tensor.shape.len())?;
    write_i32(out, name.len())?;
    write_i32(
        out,
        match tensor.out_type {
            OutType::F32 => 0,
            OutType::F16 => 1,
        },
    )?;
    // ggml lists dimensions innermost first.
    for &dim in tensor.shape.iter().rev() {
        write_i32(out, dim as usize)?;
    }
    out.write_all(name)
}

fn write_i32(out: &mut impl Write, value: usize) -> io::Result<()> {
    let value = i32::try_from(value).map_err(|_| io::Error::other("value exceeds i32"))?;
    out.write_all(&value.to_le_bytes())
}

struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
