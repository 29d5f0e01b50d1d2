//! The models progenitor generates from `openapi.yaml` at build time (see `build.rs`):
//! progenitor's `types` module and nothing else, re-exported as [`crate::types`].
//!
//! Generated code is not written to our documentation standard (typify's builders and
//! conversion helpers have no docs), hence the lint allowances; everything in it is used or
//! public.
#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/types.rs"));
