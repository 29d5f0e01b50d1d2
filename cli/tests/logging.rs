//! What `qc-agents` logs on stderr: warnings only by default, one line per request with
//! `-v`, the library's debug events with `-vv`, whatever `RUST_LOG` selects when it is set,
//! and a failure as one `error:` line, without the lines of reqwest, hyper or rustls.

mod support;

use quantconnect_agents::simulator::{Fault, FaultKind};
use support::*;

/// The lines of `text` that a dependency (not this crate or the CLI) logged.
fn dependency_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| {
            ["reqwest", "hyper", "rustls", "h2"]
                .iter()
                .any(|d| line.contains(d))
        })
        .collect()
}

#[test]
fn verbose_prints_one_line_per_request_with_operation_status_attempts_and_duration() {
    let sim = Sim::start(fast());
    let ran = run(&mut sim.cmd(), &["agents", "list", "-v"]).ok();
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stderr);
    let line = lines[0];
    assert!(line.starts_with("DEBUG "), "{line}");
    for field in ["operation=listAgents", "status=200", "attempts=1"] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    // Printed for people (`0.0s`), not in milliseconds.
    let duration = line.split("duration=").nth(1).expect("a duration");
    assert!(duration.ends_with('s') && duration.contains('.'), "{line}");
    ran.no_secret();
    ran.no_escapes();

    // A whole run: as many request lines as the simulator saw requests, in its order.
    let before = sim.sim.requests().len();
    let ran = run(
        &mut sim.cmd(),
        &["run", "--agent", "47", "--name", "n", "--prompt", "p", "-v"],
    )
    .ok();
    let seen: Vec<String> = sim.sim.requests()[before..].to_vec();
    let logged: Vec<&str> = ran
        .stderr
        .lines()
        .filter_map(|line| line.split("operation=").nth(1)?.split(' ').next())
        .collect();
    assert!(seen.len() > 3, "{seen:?}");
    assert_eq!(logged, seen, "{}", ran.stderr);
    assert!(dependency_lines(&ran.stderr).is_empty(), "{}", ran.stderr);
    ran.no_secret();
}

#[test]
fn without_verbose_a_success_is_silent_and_a_failure_one_error_line() {
    let sim = Sim::start(fast());
    let ran = run(&mut sim.cmd(), &["agents", "list"]).ok();
    assert_eq!(ran.stderr, "");

    let ran = run(&mut sim.cmd(), &["agents", "read", "999999"]);
    assert_eq!(ran.code, Some(1));
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stderr);
    assert!(lines[0].starts_with("error: readAgent: "), "{}", ran.stderr);

    // A failed request under -v: its line says how it ended, then the one error line.
    let ran = run(&mut sim.cmd(), &["agents", "read", "999999", "-v"]);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", ran.stderr);
    assert!(
        lines[0].contains("operation=readAgent status=200 error=refused attempts=1"),
        "{}",
        ran.stderr
    );
    assert!(lines[1].starts_with("error: "), "{}", ran.stderr);
}

#[test]
fn very_verbose_adds_the_librarys_debug_events_and_still_no_dependency_lines() {
    let sim = Sim::start(fast());
    sim.sim
        .inject(Fault::new(FaultKind::Status(503)).on("listAgents").times(1));
    let ran = run(&mut sim.cmd(), &["agents", "list", "-vv"]).ok();
    assert!(
        ran.stderr
            .contains("quantconnect_agents::retry: attempt failed attempt=1"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("quantconnect_agents::request: operation=listAgents status=200 attempts=2"),
        "{}",
        ran.stderr
    );
    assert!(dependency_lines(&ran.stderr).is_empty(), "{}", ran.stderr);

    // -v alone leaves the retry out: one line, which counts both attempts.
    sim.sim
        .inject(Fault::new(FaultKind::Status(503)).on("listAgents").times(1));
    let ran = run(&mut sim.cmd(), &["agents", "list", "-v"]).ok();
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("attempts=2"), "{}", ran.stderr);
}

#[test]
fn rust_log_overrides_verbose_and_reaches_dependencies() {
    let sim = Sim::start(fast());
    let ran = run(sim.cmd().env("RUST_LOG", "off"), &["agents", "list", "-v"]).ok();
    assert_eq!(ran.stderr, "");

    let ran = run(
        sim.cmd().env("RUST_LOG", "reqwest=debug"),
        &["agents", "list"],
    )
    .ok();
    assert!(
        ran.stderr.contains("reqwest::connect"),
        "asked for, reqwest's lines show: {}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("operation="), "{}", ran.stderr);
    ran.no_secret();

    // A filter that does not parse is said once, and -v applies instead.
    let ran = run(
        sim.cmd().env("RUST_LOG", "reqwest=loud"),
        &["agents", "list", "-v"],
    )
    .ok();
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", ran.stderr);
    assert!(
        lines[0].starts_with("warning: RUST_LOG ignored: "),
        "{}",
        ran.stderr
    );
    assert!(lines[1].contains("operation=listAgents"), "{}", ran.stderr);
}

#[test]
fn a_certificate_that_does_not_verify_is_one_error_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = rt.block_on(self_signed_server());
    let home = tempfile::tempdir().unwrap();
    for args in [&["agents", "list"][..], &["agents", "list", "-v"]] {
        let ran = run(
            bare(home.path())
                .env("QC_API_URL", format!("https://127.0.0.1:{port}/api/v2"))
                .env("QC_USER_ID", USER)
                .env("QC_API_TOKEN", TOKEN)
                .env("QC_ORGANIZATION_ID", "org"),
            args,
        );
        assert_eq!(ran.code, Some(1), "{}", ran.stderr);
        let errors: Vec<&str> = ran
            .stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", ran.stderr);
        assert!(errors[0].contains("certificate"), "{}", ran.stderr);
        assert!(!ran.stderr.contains("ERROR"), "{}", ran.stderr);
        assert!(dependency_lines(&ran.stderr).is_empty(), "{}", ran.stderr);
        // -v adds the request's line, and nothing else.
        let lines = if args.contains(&"-v") { 2 } else { 1 };
        assert_eq!(ran.stderr.lines().count(), lines, "{}", ran.stderr);
        ran.no_secret();
    }
}

/// An https server on 127.0.0.1 with a self-signed certificate (for `localhost`), which no
/// client trusts: every handshake fails. Returns its port.
async fn self_signed_server() -> u16 {
    use std::sync::Arc;
    use tokio_rustls::rustls;

    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // The client refuses the certificate; nothing is read.
            let _ = acceptor.accept(stream).await;
        }
    });
    port
}
