//! The models progenitor generates from `openapi.yaml` at build time (see `build.rs`):
//! progenitor's `types` module and nothing else, re-exported as [`crate::types`].
//!
//! Generated code is not written to our documentation standard (a field the spec does not
//! describe has no docs), hence the lint allowances; everything in it is used or public.
//! The builders (`types::builder`) are the exception: `build/codegen.rs` documents them and
//! marks their module `#[deny(missing_docs)]`.
#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/types.rs"));
