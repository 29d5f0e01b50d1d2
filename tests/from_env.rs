//! `Client::from_env` reads `QC_REQUEST_TIMEOUT` in the crate's one duration syntax. Alone in
//! its binary: it sets process-wide environment variables.

use quantconnect_agents::{Client, Error};

#[test]
fn the_request_timeout_takes_units_and_refuses_zero() {
    std::env::set_var("QC_USER_ID", "1");
    std::env::set_var("QC_API_TOKEN", "token");
    std::env::remove_var("QC_API_URL");
    for (text, shown) in [("2m", "120s"), ("90", "90s"), ("1h30m", "5400s")] {
        std::env::set_var("QC_REQUEST_TIMEOUT", text);
        let client = Client::from_env().unwrap();
        let debug = format!("{client:?}");
        assert!(
            debug.contains(&format!("request_timeout: {shown}")),
            "{text}: {debug}"
        );
    }
    for bad in ["0", "soon"] {
        std::env::set_var("QC_REQUEST_TIMEOUT", bad);
        let err = Client::from_env().unwrap_err();
        assert!(matches!(err, Error::Configuration { .. }), "{err:?}");
        assert!(err.to_string().contains("QC_REQUEST_TIMEOUT"), "{err}");
    }
}
