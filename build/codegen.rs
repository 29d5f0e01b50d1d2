//! How the client is generated from `openapi.yaml`: shared by `build.rs` (which writes the
//! code into `OUT_DIR`) and `cargo xtask surface` (which lists its public API), so the two
//! can never disagree.

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TypeImpl};

/// The spec's string enums that the server may extend, and the hand-written open types in
/// `src/enums.rs` that replace them.
pub const OPEN_ENUMS: &[(&str, &str)] = &[
    ("AgentDeploymentStatus", "crate::enums::DeploymentStatus"),
    ("AgentProjectPreference", "crate::enums::ProjectPreference"),
    ("AgentReasoningEffort", "crate::enums::ReasoningEffort"),
];

/// Generated types whose `Debug` would show a secret, and the hand-written types in
/// `src/models.rs` that replace them.
pub const REDACTED_MODELS: &[(&str, &str)] = &[("AgentToken", "crate::models::AgentToken")];

/// Parses the spec's YAML text.
pub fn parse(text: &str) -> Result<openapiv3::OpenAPI, String> {
    serde_norway::from_str(text).map_err(|e| format!("openapi.yaml does not parse: {e}"))
}

/// The generated client for `spec`, formatted.
pub fn generate(spec: &openapiv3::OpenAPI) -> Result<String, String> {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_inner_type(quote::quote!(crate::hooks::Inner))
        .with_hooks(HooksMode::Expected)
        .with_derive("schemars::JsonSchema");
    for (spec_name, rust_type) in OPEN_ENUMS {
        settings.with_replacement(
            spec_name,
            rust_type,
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    for (spec_name, rust_type) in REDACTED_MODELS {
        settings.with_replacement(spec_name, rust_type, std::iter::empty());
    }
    let tokens = Generator::new(&settings)
        .generate_tokens(spec)
        .map_err(|e| format!("progenitor cannot generate a client from openapi.yaml: {e}"))?;
    let file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("progenitor emitted invalid Rust: {e}"))?;
    Ok(prettyplease::unparse(&file))
}
