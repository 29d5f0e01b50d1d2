//! Generates from `openapi.yaml`, into `$OUT_DIR`: the models (`types.rs`, progenitor's
//! `types` module) and every operation's wiring (`operations.rs`: its request type's
//! `Operation` impl, its response type's `Envelope` impl, the table of operations).
//!
//! Nothing generated is committed: `src/generated.rs` and `src/operation.rs` include the
//! files. The spec is the source of truth; edit it, never the output. How generation is
//! done lives in `build/codegen.rs`.

#[path = "build/codegen.rs"]
mod codegen;

use std::{env, fs, path::PathBuf};

const SPEC: &str = "openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build/codegen.rs");

    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let spec = codegen::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let types = codegen::types(&spec).unwrap_or_else(|e| panic!("{e}"));
    let operations = codegen::operations_code(&spec, &types).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("types.rs"), types).expect("writing types.rs");
    fs::write(out.join("operations.rs"), operations).expect("writing operations.rs");
}
