//! Generates the API client from `openapi.yaml` with progenitor into `$OUT_DIR/generated.rs`.
//!
//! Nothing generated is committed: `src/generated.rs` includes the file. The spec is the
//! source of truth; edit it, never the output.

use std::{env, fs, path::PathBuf};

use progenitor::{GenerationSettings, Generator, InterfaceStyle, TypeImpl};

const SPEC: &str = "openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");

    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let spec: openapiv3::OpenAPI =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parsing {SPEC}: {e}"));

    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_inner_type(quote::quote!(crate::auth::Credentials))
        .with_hooks(progenitor::HooksMode::Expected)
        .with_derive("schemars::JsonSchema")
        // Enums the server may extend: hand-written open types keep an unknown value as
        // a string instead of failing to decode the whole response.
        .with_replacement(
            "AgentDeploymentStatus",
            "crate::enums::DeploymentStatus",
            open_enum_impls(),
        )
        .with_replacement(
            "AgentProjectPreference",
            "crate::enums::ProjectPreference",
            open_enum_impls(),
        )
        .with_replacement(
            "AgentReasoningEffort",
            "crate::enums::ReasoningEffort",
            open_enum_impls(),
        );

    let tokens = Generator::new(&settings)
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("generating the client from {SPEC}: {e}"));
    let file = syn::parse2(tokens).expect("progenitor emitted invalid Rust");
    let code = prettyplease::unparse(&file);

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("generated.rs"), code).expect("writing generated.rs");
}

fn open_enum_impls() -> impl Iterator<Item = TypeImpl> {
    [TypeImpl::Display, TypeImpl::FromStr].into_iter()
}
