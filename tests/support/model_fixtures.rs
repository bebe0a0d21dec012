//! Fixtures for model-store tests: generated model bytes, zip artifacts and
//! test manifests pointing at a loopback server.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// `len` pseudo-random bytes, the same for the same seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A zip archive holding `members` (name, bytes); odd members deflated, even ones stored.
pub fn zip_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (index, (name, bytes)) in members.iter().enumerate() {
        let method = if index % 2 == 0 {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        writer.start_file(*name, options).expect("zip member");
        writer.write_all(bytes).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// One `[[model.files]]` entry.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub members: Option<Vec<String>>,
}

impl FileSpec {
    /// A file whose manifest size and sha256 are those of `bytes`.
    pub fn of(name: &str, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            size: Some(bytes.len() as u64),
            sha256: Some(sha256_hex(bytes)),
            members: None,
        }
    }

    pub fn members(mut self, members: &[&str]) -> Self {
        self.members = Some(members.iter().map(|m| m.to_string()).collect());
        self
    }
}

/// One `[[model.sources.artifacts]]` entry.
#[derive(Debug, Clone)]
pub struct ArtifactSpec {
    pub url: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

impl ArtifactSpec {
    pub fn of(url: &str, bytes: &[u8]) -> Self {
        Self {
            url: url.into(),
            size: Some(bytes.len() as u64),
            sha256: Some(sha256_hex(bytes)),
        }
    }

    /// An artifact the manifest knows only by URL.
    pub fn url(url: &str) -> Self {
        Self {
            url: url.into(),
            size: None,
            sha256: None,
        }
    }
}

/// One `[[model]]` entry.
#[derive(Debug, Clone)]
pub struct EntrySpec {
    pub id: String,
    pub files: Vec<FileSpec>,
    /// Mirrors in order, each a list of artifacts.
    pub sources: Vec<Vec<ArtifactSpec>>,
}

impl EntrySpec {
    pub fn new(id: &str, files: Vec<FileSpec>, sources: Vec<Vec<ArtifactSpec>>) -> Self {
        Self {
            id: id.into(),
            files,
            sources,
        }
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

/// Manifest TOML in the format of `assets/models.toml`.
pub fn manifest_toml(entries: &[EntrySpec]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&format!(
            "[[model]]\nid = {}\nkind = \"llm\"\ndescription = \"test model\"\nlicense = \"MIT\"\n\n",
            quoted(&entry.id)
        ));
        for file in &entry.files {
            out.push_str(&format!("[[model.files]]\nname = {}\n", quoted(&file.name)));
            out.push_str(&format!("size = {}\n", file.size.unwrap_or(0)));
            out.push_str(&format!(
                "sha256 = {}\n",
                quoted(file.sha256.as_deref().unwrap_or("TO-BE-MEASURED"))
            ));
            if let Some(members) = &file.members {
                let list: Vec<String> = members.iter().map(|m| quoted(m)).collect();
                out.push_str(&format!("members = [{}]\n", list.join(", ")));
            }
            out.push('\n');
        }
        for source in &entry.sources {
            out.push_str("[[model.sources]]\n");
            for artifact in source {
                out.push_str(&format!(
                    "[[model.sources.artifacts]]\nurl = {}\n",
                    quoted(&artifact.url)
                ));
                if let Some(size) = artifact.size {
                    out.push_str(&format!("size = {size}\n"));
                }
                if let Some(sha) = &artifact.sha256 {
                    out.push_str(&format!("sha256 = {}\n", quoted(sha)));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
pub fn dead_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

/// A small tmpfs mounted at a fresh directory, unmounted when dropped.
/// Needs root (digiOS tests run as root on CI).
pub struct SmallFilesystem {
    pub path: PathBuf,
    _holder: tempfile::TempDir,
}

impl SmallFilesystem {
    pub fn mount(bytes: u64) -> Self {
        let holder = tempfile::tempdir().expect("temp dir");
        let path = holder.path().join("small");
        std::fs::create_dir(&path).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a {bytes}-byte tmpfs at {} failed: this test needs root",
            path.display()
        );
        Self {
            path,
            _holder: holder,
        }
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Everything below `dir` whose name ends with `suffix`.
pub fn files_ending_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_ending_with(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found
}

/// An agent whose store lists one missing model, `tiny-test`: a 3 MiB
/// `tiny.gguf` (from `seed`) served on loopback and held at its first MiB,
/// so a pull stays under way until `server.release()`.
pub struct HeldPull {
    // Fields drop in order: the agent stops before its files and server go.
    pub agent: crate::digios::Process,
    pub url: String,
    /// Where the agent installs models.
    pub models: PathBuf,
    _dir: tempfile::TempDir,
    pub bytes: Vec<u8>,
    pub server: crate::file_server::FileServer,
    pub runtime: tokio::runtime::Runtime,
}

pub fn agent_with_held_pull(seed: u64) -> HeldPull {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(crate::file_server::FileServer::start());
    let bytes = random_bytes(3 << 20, seed);
    server.serve("/tiny.gguf", bytes.clone());
    server.hold_at("/tiny.gguf", 1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("models.toml");
    let entry = EntrySpec::new(
        "tiny-test",
        vec![FileSpec::of("tiny.gguf", &bytes)],
        vec![vec![ArtifactSpec::of(&server.url("/tiny.gguf"), &bytes)]],
    );
    std::fs::write(&manifest, manifest_toml(&[entry])).unwrap();
    let models = dir.path().join("models");
    let config = format!("[models]\nmanifest = {manifest:?}\ndir = {models:?}\n");
    let (agent, url) = crate::digios::start_agent_with_config(&config, &["--bind", "127.0.0.1:0"]);
    HeldPull {
        agent,
        url,
        models,
        _dir: dir,
        bytes,
        server,
        runtime,
    }
}
