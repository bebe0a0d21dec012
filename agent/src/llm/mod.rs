//! Language models behind one trait: llama.cpp in process, or any OpenAI-compatible server.
