//! Entry points for the fuzz target (`fuzz/`), the property tests and the waiter bench: the
//! response decoding and error mapping, driven by arbitrary bytes, and the waiter's and
//! the follower's loops with their reads passed in. Behind the `fuzzing` feature: not part
//! of the supported API.

use crate::{
    operation::{for_each_operation, Operation},
    transport, Error,
};

pub use crate::wait::{follower::follow as follow_conversation, waiter::poll_until_ended};

/// How a call decodes a 200 for one operation, then what a caller may do with the result:
/// encode it again.
type Decoder = fn(&[u8]) -> Result<(), Error>;

fn decoder<O: Operation>(body: &[u8]) -> Result<(), Error> {
    transport::decode::<O::Response>(O::ID, body, &reqwest::header::HeaderMap::new())
        .map(|decoded| drop(serde_json::to_vec(&decoded).expect("decoded values encode")))
}

macro_rules! decoders {
    ($($request:ty),+ $(,)?) => {
        &[$((<$request as Operation>::ID, decoder::<$request> as Decoder)),+]
    };
}

/// Every operation of the spec, by its request type; its response type comes with it.
const OPERATIONS: &[(&str, Decoder)] = for_each_operation!(decoders);

const STATUSES: &[u16] = &[200, 200, 200, 200, 401, 429, 500, 502, 503, 504, 404, 302];

/// Decodes `body` as the answer to the operation and status `selector` picks, the way a
/// call does: the operation's response type and its envelope at 200, the error mapping
/// otherwise. Whatever the bytes, this returns; it never panics.
pub fn decode(selector: u16, body: &[u8]) -> Result<(), Error> {
    let (operation, decode_200) = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    let status = STATUSES[usize::from(selector >> 8) % STATUSES.len()];
    if status != 200 {
        return Err(transport::response::unexpected(
            operation, status, None, body,
        ));
    }
    decode_200(body)
}
