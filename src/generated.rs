//! The client progenitor generates from `openapi.yaml` at build time (see `build.rs`).
//!
//! Private: its builders' `send()` returns `Ok` for a `success: false` envelope. The
//! public surface is [`crate::Client`], which checks every envelope, and
//! [`crate::types`], the generated models.
#![allow(
    missing_docs,
    unused_imports,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    dead_code
)]

include!(concat!(env!("OUT_DIR"), "/generated.rs"));
