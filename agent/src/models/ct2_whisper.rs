//! CTranslate2 Whisper → whisper.cpp ggml conversion.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("CTranslate2 → ggml conversion is not available yet")]
    Unavailable,
}

/// Converts the CTranslate2 Whisper model in `ct2_dir` (`model.bin`,
/// `vocabulary.txt`, `config.json`) into a whisper.cpp ggml file at `output`.
pub fn convert(ct2_dir: &Path, output: &Path) -> Result<(), ConvertError> {
    let _ = (ct2_dir, output);
    Err(ConvertError::Unavailable)
}
