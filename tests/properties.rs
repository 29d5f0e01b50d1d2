//! Property tests: whatever a server sends, decoding and error mapping return a typed
//! result without panicking, and the pure parts (backoff, retry decision, open enums) keep
//! their promises. Bounded by proptest's case count, so CI runs them in seconds.

use std::time::Duration;

use proptest::prelude::*;
use quantconnect_agents::{
    fuzzing,
    retry::{Failure, OperationKind, RetryPolicy},
    wait::Backoff,
    DeploymentStatus, Error,
};
use serde_json::Value;

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9 ]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("InQueue"),
            Just("Completed"),
            Just("project-for-task"),
            Just("Paused")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("success".to_owned()),
                    Just("errors".to_owned()),
                    Just("task".to_owned()),
                    Just("deployment".to_owned()),
                    Just("status".to_owned()),
                    Just("id".to_owned()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn one_line_and_short(error: &Error) -> bool {
    let text = error.to_string();
    !text.contains('\n') && text.len() < 2_000
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_give_one_line_errors(selector in any::<u16>(), body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(error) = fuzzing::decode(selector, &body) {
            prop_assert!(one_line_and_short(&error), "{error}");
        }
    }

    #[test]
    fn arbitrary_json_never_panics(selector in any::<u16>(), value in json()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Err(error) = fuzzing::decode(selector, &body) {
            prop_assert!(one_line_and_short(&error), "{error}");
        }
    }

    #[test]
    fn success_false_is_never_ok(selector in 0u16..256, errors in prop::collection::vec("[ -~]{0,20}", 0..4)) {
        let body = serde_json::json!({"success": false, "errors": errors}).to_string();
        prop_assert!(fuzzing::decode(selector, body.as_bytes()).is_err());
    }

    #[test]
    fn backoff_delays_stay_between_the_jitter_floor_and_the_cap(n in any::<u32>(), unit in 0.0f64..=1.0) {
        let backoff = Backoff::default();
        let delay = backoff.delay(n, unit);
        prop_assert!(delay <= Duration::from_secs(10));
        prop_assert!(delay.as_secs_f64() >= backoff.nominal_delay(n).as_secs_f64() * 0.91 - 1e-9);
    }

    #[test]
    fn a_write_that_may_have_been_sent_is_never_retried(attempt in 1u32..10, status in 400u16..600, unit in 0.0f64..=1.0, secs in 0u64..100) {
        let policy = RetryPolicy::default().max_attempts(10);
        for failure in [
            Failure::TimedOut,
            Failure::Interrupted,
            Failure::Overloaded { status, retry_after: Some(Duration::from_secs(secs)) },
            Failure::Final,
        ] {
            prop_assert_eq!(policy.delay(OperationKind::Write, failure, attempt, unit), None);
        }
    }

    #[test]
    fn open_enums_keep_any_string(s in "\\PC{0,24}") {
        let status = DeploymentStatus::from(s.as_str());
        prop_assert_eq!(status.as_str(), s.as_str());
        let json = serde_json::to_string(&status).unwrap();
        prop_assert_eq!(serde_json::from_str::<DeploymentStatus>(&json).unwrap(), status);
    }
}
