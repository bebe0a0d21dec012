//! CTranslate2 Whisper → whisper.cpp ggml conversion.
