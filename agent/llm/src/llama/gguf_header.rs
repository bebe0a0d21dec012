//! A cheap look at a model file before llama.cpp gets it, so a wrong or damaged file gives
//! a clear reason instead of llama.cpp's bare "failed to load".

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::LlmError;

const MAGIC: &[u8; 4] = b"GGUF";
/// Magic, version, tensor count and metadata count.
const HEADER_LEN: usize = 4 + 4 + 8 + 8;

pub(crate) fn check(path: &Path) -> Result<(), LlmError> {
    let invalid = |reason: String| LlmError::ModelInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(LlmError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        Err(error) => return Err(invalid(format!("cannot read it: {error}"))),
    };
    if !metadata.is_file() {
        return Err(invalid("it is not a regular file".into()));
    }
    let mut header = [0u8; HEADER_LEN];
    let mut file = File::open(path).map_err(|error| invalid(format!("cannot open it: {error}")))?;
    file.read_exact(&mut header).map_err(|_| {
        invalid(format!(
            "it is {} bytes long, shorter than a GGUF header",
            metadata.len()
        ))
    })?;
    if &header[..4] != MAGIC {
        return Err(invalid(format!(
            "it does not start with the GGUF magic (found {:02x?})",
            &header[..4]
        )));
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(2..=3).contains(&version) {
        return Err(invalid(format!(
            "GGUF version {version} is not supported (2 or 3 expected)"
        )));
    }
    Ok(())
}
