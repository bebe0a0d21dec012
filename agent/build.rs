//! Embeds the web console (`web/`) into the binary: writes a table of every
//! file there, so a new asset needs no code change.

use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: a target
    // directory shared by clones at other paths reuses the compiled script.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("web");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries = Vec::new();
    let read = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("the web console at {}: {err}", dir.display()));
    for entry in read.flatten() {
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && !name.starts_with('.') {
            entries.push((name.to_string(), path.display().to_string()));
        }
    }
    entries.sort();
    let mut table = String::from("&[\n");
    for (name, path) in entries {
        table.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    std::fs::write(out, table).expect("write the web asset table");
}
