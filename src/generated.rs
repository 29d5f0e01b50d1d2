//! The client progenitor generates from `openapi.yaml` at build time (see `build.rs`).
//!
//! Private. The crate uses its models ([`crate::types`], public), the builders of request
//! bodies, and its `Client` as the holder of the HTTP client, base URL and hook state.
//! Operations are sent by [`crate::call::send`], not by the generated builders' `send()`
//! (which returns `Ok` for a `success: false` envelope, and costs more per call).
#![allow(
    missing_docs,
    unused_imports,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    dead_code
)]

include!(concat!(env!("OUT_DIR"), "/generated.rs"));
