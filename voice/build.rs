// espeak-ng (through piper-rs) needs libsonic; Debian's libsonic-dev provides
// the static library the bundled build would otherwise fetch with git.
fn main() {
    println!("cargo:rustc-link-lib=static=sonic");
}
