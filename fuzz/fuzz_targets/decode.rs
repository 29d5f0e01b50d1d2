//! Response decoding and error mapping on arbitrary input: the first two bytes pick the
//! operation and the HTTP status, the rest is the body. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let selector = u16::from_le_bytes([data[0], data[1]]);
    if let Err(error) = quantconnect_agents::fuzzing::decode(selector, &data[2..]) {
        // Formatting is part of the mapping: it must not panic either.
        let _ = format!("{error} {error:?}");
    }
});
