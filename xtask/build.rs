//! Generates, from the workspace's `openapi.yaml`, the same code the crate's own build
//! generates, so the xtask can decode recordings into the generated types without linking
//! the crate: a spec edit that breaks the crate's hand-written code must not stop the
//! xtask from saying which recording and field disagree with it.
//!
//! If generation fails, the xtask still builds (without the types) and `validate` reports
//! the failure as a finding.

#[path = "../build/codegen.rs"]
mod codegen;

use std::{env, fs, path::PathBuf};

fn main() {
    let spec_path =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../openapi.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    println!("cargo:rerun-if-changed=../build/codegen.rs");
    println!("cargo::rustc-check-cfg=cfg(generated_types)");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    let generated = fs::read_to_string(&spec_path)
        .map_err(|e| format!("{}: {e}", spec_path.display()))
        .and_then(|text| codegen::parse(&text))
        .and_then(|spec| {
            let types = codegen::types(&spec)?;
            let operations = codegen::operations_code(&spec, &types)?;
            Ok((types, operations))
        });
    match generated {
        Ok((types, operations)) => {
            // `surface` lists both; the round trip decodes into the types.
            fs::write(out.join("generated.rs"), format!("{types}\n{operations}")).unwrap();
            fs::write(out.join("types.rs"), types).unwrap();
            fs::write(out.join("generation-error.txt"), "").unwrap();
            println!("cargo:rustc-cfg=generated_types");
        }
        Err(error) => {
            fs::write(out.join("types.rs"), "").unwrap();
            fs::write(out.join("generated.rs"), "").unwrap();
            fs::write(out.join("generation-error.txt"), error).unwrap();
        }
    }
}
