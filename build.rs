//! Generates the API client from `openapi.yaml` with progenitor into `$OUT_DIR/generated.rs`,
//! and each operation's `Call` impl (id, path, response type) into `$OUT_DIR/calls.rs`.
//!
//! Nothing generated is committed: `src/generated.rs` and `src/call.rs` include the files. The spec is the
//! source of truth; edit it, never the output. The settings live in `build/codegen.rs`.

#[path = "build/codegen.rs"]
mod codegen;

use std::{env, fs, path::PathBuf};

const SPEC: &str = "openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build/codegen.rs");

    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let spec = codegen::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let code = codegen::generate(&spec).unwrap_or_else(|e| panic!("{e}"));
    let calls = codegen::calls(&spec).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("generated.rs"), code).expect("writing generated.rs");
    fs::write(out.join("calls.rs"), calls).expect("writing calls.rs");
}
