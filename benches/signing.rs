//! What signing costs per request: the SHA-256 of `token:timestamp`, its hex, the Base64 of
//! `user:hash`, and the two header values. `cargo bench --bench signing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use quantconnect_agents::Credentials;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

fn signing(c: &mut Criterion) {
    // A token the length of QuantConnect's (64 hex digits).
    let credentials = Credentials::new(
        "123456",
        "9b4c6e1a0f3d2b8e7c5a4f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170",
    );
    let mut timestamp = 1_700_000_000u64;
    c.bench_function("signing", |b| {
        b.iter(|| {
            timestamp += 1;
            let signature = credentials.sign(black_box(timestamp));
            let mut headers = HeaderMap::with_capacity(2);
            headers.insert(AUTHORIZATION, signature.authorization);
            headers.insert("timestamp", HeaderValue::from(signature.timestamp));
            headers
        })
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
