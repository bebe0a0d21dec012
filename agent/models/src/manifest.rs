//! The model manifest: what each model file must be (size, sha256) and where it
//! comes from. The built-in manifest is `assets/models.toml`, compiled into the
//! binary; a manifest named in the configuration adds or replaces entries.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest compiled into every digiOS binary.
pub const BUILTIN_MANIFEST: &str = include_str!("../../../assets/models.toml");

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("manifest {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Llm,
    Stt,
    Tts,
    Runtime,
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::Llm => "llm",
            ModelKind::Stt => "stt",
            ModelKind::Tts => "tts",
            ModelKind::Runtime => "runtime",
        })
    }
}

/// A sha256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex digits; anything else (a placeholder) is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// How a file is made from zip members instead of copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// CTranslate2 Whisper directory → whisper.cpp ggml file.
    Ct2Whisper,
}

/// One file of a model, as it lies in the model store.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub name: String,
    /// `None` while the manifest does not know it yet.
    pub size: Option<u64>,
    /// `None` while the manifest does not know it yet: such a file is never "verified".
    pub sha256: Option<Sha256>,
    /// Zip members concatenated in order; `None` when the artifacts themselves are the file.
    pub members: Option<Vec<String>>,
    pub convert: Option<Conversion>,
}

/// One downloadable thing at one URL.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub url: String,
    pub size: Option<u64>,
    pub sha256: Option<Sha256>,
}

/// A mirror: artifacts downloaded in order, which together yield every file.
#[derive(Debug, Clone)]
pub struct Source {
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub id: String,
    pub kind: ModelKind,
    pub description: String,
    pub license: String,
    pub files: Vec<ModelFile>,
    /// Mirrors, tried in order.
    pub sources: Vec<Source>,
}

impl ModelEntry {
    pub fn file(&self, name: &str) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub entries: Vec<ModelEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    model: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    kind: ModelKind,
    #[serde(default)]
    description: String,
    #[serde(default)]
    license: String,
    files: Vec<RawFile>,
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    sha256: String,
    members: Option<Vec<String>>,
    convert: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    artifacts: Vec<RawArtifact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArtifact {
    url: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    sha256: String,
}

impl Manifest {
    /// The manifest compiled into the binary.
    pub fn builtin() -> Result<Self, ManifestError> {
        Self::parse(BUILTIN_MANIFEST, "built-in assets/models.toml")
    }

    /// The built-in manifest, with the entries of `extra` (if any) added or replacing.
    pub fn load(extra: Option<&Path>) -> Result<Self, ManifestError> {
        let mut manifest = Self::builtin()?;
        if let Some(path) = extra {
            manifest.merge(Self::read(path)?);
        }
        Ok(manifest)
    }

    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| invalid(e.message().into()))?;
        let mut entries: Vec<ModelEntry> = Vec::new();
        for raw_entry in raw.model {
            let entry = convert_entry(raw_entry).map_err(invalid)?;
            if entries.iter().any(|e| e.id == entry.id) {
                return Err(invalid(format!("model `{}` appears twice", entry.id)));
            }
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    /// Adds `other`'s entries; an entry with an existing id replaces it.
    pub fn merge(&mut self, other: Manifest) {
        for entry in other.entries {
            match self.entries.iter_mut().find(|e| e.id == entry.id) {
                Some(existing) => *existing = entry,
                None => self.entries.push(entry),
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

fn convert_entry(raw: RawEntry) -> Result<ModelEntry, String> {
    let id = raw.id.trim().to_string();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "model id `{}` must be letters, digits, `-`, `_` or `.`",
            raw.id
        ));
    }
    if raw.files.is_empty() {
        return Err(format!("model `{id}` has no files"));
    }
    let mut files: Vec<ModelFile> = Vec::new();
    for file in raw.files {
        check_file_name(&file.name).map_err(|m| format!("model `{id}`: {m}"))?;
        if files.iter().any(|f| f.name == file.name) {
            return Err(format!("model `{id}`: file `{}` appears twice", file.name));
        }
        let convert = match file.convert.as_deref() {
            None => None,
            Some("ct2-whisper") => Some(Conversion::Ct2Whisper),
            Some(other) => {
                return Err(format!(
                    "model `{id}`, file `{}`: unknown convert `{other}` (known: ct2-whisper)",
                    file.name
                ));
            }
        };
        if convert.is_some() && file.members.as_ref().is_none_or(|m| m.is_empty()) {
            return Err(format!(
                "model `{id}`, file `{}`: a converted file needs `members`",
                file.name
            ));
        }
        files.push(ModelFile {
            name: file.name,
            size: (file.size > 0).then_some(file.size),
            sha256: Sha256::parse(&file.sha256),
            members: file.members,
            convert,
        });
    }
    let mut sources = Vec::new();
    for source in raw.sources {
        if source.artifacts.is_empty() {
            return Err(format!("model `{id}`: a source has no artifacts"));
        }
        let artifacts = source
            .artifacts
            .into_iter()
            .map(|a| Artifact {
                url: a.url,
                size: (a.size > 0).then_some(a.size),
                sha256: Sha256::parse(&a.sha256),
            })
            .collect();
        sources.push(Source { artifacts });
    }
    Ok(ModelEntry {
        id,
        kind: raw.kind,
        description: raw.description,
        license: raw.license,
        files,
        sources,
    })
}

/// File names become paths in the store: they must stay inside it.
fn check_file_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= 200;
    if plain {
        Ok(())
    } else {
        Err(format!(
            "file name `{name}` must be a plain name (no `/`, not starting with `.`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_with_every_kind() {
        let manifest = Manifest::builtin().unwrap();
        let smol = manifest.get("smollm2-135m-instruct").unwrap();
        assert_eq!(smol.kind, ModelKind::Llm);
        assert_eq!(smol.files[0].size, Some(98_362_432));
        assert!(smol.files[0].sha256.is_some());
        assert!(!smol.sources.is_empty());
        for kind in [ModelKind::Stt, ModelKind::Tts, ModelKind::Runtime] {
            assert!(manifest.entries.iter().any(|e| e.kind == kind), "{kind}");
        }
    }

    #[test]
    fn placeholder_checksum_is_unknown() {
        let text = r#"
            [[model]]
            id = "m"
            kind = "stt"
            [[model.files]]
            name = "f.bin"
            size = 0
            sha256 = "TO-BE-MEASURED"
        "#;
        let manifest = Manifest::parse(text, "t").unwrap();
        let file = &manifest.entries[0].files[0];
        assert_eq!(file.size, None);
        assert_eq!(file.sha256, None);
    }

    #[test]
    fn path_escaping_file_name_is_rejected() {
        let text = r#"
            [[model]]
            id = "m"
            kind = "llm"
            [[model.files]]
            name = "../etc/passwd"
        "#;
        let err = Manifest::parse(text, "t").unwrap_err().to_string();
        assert!(err.contains("plain name"), "{err}");
    }

    #[test]
    fn unknown_conversion_is_rejected() {
        let text = r#"
            [[model]]
            id = "m"
            kind = "llm"
            [[model.files]]
            name = "x"
            members = ["a"]
            convert = "magic"
        "#;
        let err = Manifest::parse(text, "t").unwrap_err().to_string();
        assert!(err.contains("magic"), "{err}");
    }

    #[test]
    fn merge_replaces_by_id_and_appends_new() {
        let mut manifest = Manifest::builtin().unwrap();
        let before = manifest.entries.len();
        let extra = Manifest::parse(
            r#"
            [[model]]
            id = "smollm2-135m-instruct"
            kind = "llm"
            description = "replaced"
            [[model.files]]
            name = "a.gguf"
            [[model]]
            id = "new-one"
            kind = "tts"
            [[model.files]]
            name = "b.onnx"
        "#,
            "extra",
        )
        .unwrap();
        manifest.merge(extra);
        assert_eq!(manifest.entries.len(), before + 1);
        assert_eq!(
            manifest.get("smollm2-135m-instruct").unwrap().description,
            "replaced"
        );
    }
}
