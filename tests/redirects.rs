//! Requests go to the base URL and nowhere else: a redirect, whatever its status and
//! target, is an error naming it, with exactly one request sent and none to the target.

mod common;

use common::Canned;
use quantconnect_agents::{retry::RetryPolicy, Client, Credentials, Error, ProjectPreference};

const TASK: &str = r#"{"success":true,"task":{"id":332,"name":"elsewhere"}}"#;

fn answer(status: u16, location: &str) -> String {
    format!(
        "HTTP/1.1 {status} Moved\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn client(base_url: &str) -> Client {
    Client::builder(Credentials::new("1", "token"))
        .base_url(base_url)
        .organization_id("org")
        .build()
        .unwrap()
}

async fn create(client: &Client) -> Result<quantconnect_agents::types::AgentTask, Error> {
    client
        .create_agent_task(47, "x", "y", ProjectPreference::ProjectForTask)
        .await
}

#[tokio::test]
async fn no_redirect_is_followed_to_another_port_or_host_on_a_read_or_a_write() {
    for target_ip in ["127.0.0.1", "127.0.0.2"] {
        let target = Canned::start(target_ip, &ok(TASK)).await;
        for status in [301, 302, 303, 307, 308] {
            let location = format!("http://admin:hunter2@{}/api/v2/elsewhere", target.addr);
            let base = Canned::start("127.0.0.1", &answer(status, &location)).await;
            let client = client(&base.base_url());

            let read = client.read_agent_task(332).await.unwrap_err();
            let write = create(&client).await.unwrap_err();
            assert_eq!(
                base.heads().len(),
                2,
                "{status} to {target_ip}: one request each"
            );
            assert!(
                target.heads().is_empty(),
                "{status}: nothing reaches the target"
            );

            let shown = format!("http://{}/api/v2/elsewhere", target.addr);
            assert!(
                matches!(&read, Error::Redirect { status: Some(s), location: Some(l), .. }
                    if *s == status && *l == shown),
                "{read:?}"
            );
            let text = read.to_string();
            assert!(
                text.contains(&status.to_string()) && text.contains(&shown),
                "{text}"
            );
            assert!(!text.contains("hunter2"), "{text}");
            // A server may act, then redirect: a write's outcome is unknown.
            match &write {
                Error::OutcomeUnknown { source, .. } => assert!(
                    matches!(&**source, Error::Redirect { status: Some(s), .. } if *s == status),
                    "{source:?}"
                ),
                other => panic!("{other:?}"),
            }
            assert!(write.to_string().contains("unknown"), "{write}");
        }
    }
}

#[tokio::test]
async fn a_base_url_spelled_unusually_is_no_redirect() {
    let base = Canned::start("127.0.0.1", &ok(TASK)).await;
    let spelled = format!("HTTP://{}/api/v2/", base.addr);
    let client = client(&spelled);
    assert_eq!(client.base_url(), base.base_url());
    assert_eq!(client.read_agent_task(332).await.unwrap().id, Some(332));
}

#[tokio::test]
async fn a_redirect_loop_sends_one_request() {
    let base = Canned::start(
        "127.0.0.1",
        &answer(307, "http://{addr}/api/v2/agents/tasks/create"),
    )
    .await;
    let err = create(&client(&base.base_url())).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(base.heads().len(), 1);
    // A relative Location is shown as sent.
    let base = Canned::start("127.0.0.1", &answer(302, "/login")).await;
    let err = client(&base.base_url())
        .read_agent_task(1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`/login`"), "{err}");
    assert_eq!(base.heads().len(), 1, "a redirect is never retried");
}

#[tokio::test]
async fn an_answer_from_elsewhere_through_a_following_client_is_refused() {
    let target = Canned::start("127.0.0.2", &ok(TASK)).await;
    let base = Canned::start(
        "127.0.0.1",
        &answer(307, &format!("http://{}/api/v2/x", target.addr)),
    )
    .await;
    // A client of the user's own that follows redirects (reqwest's default).
    let following = reqwest::Client::builder().no_proxy().build().unwrap();
    let client = Client::builder(Credentials::new("1", "token"))
        .base_url(base.base_url())
        .organization_id("org")
        .http_client(following)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = create(&client).await.unwrap_err();
    let Error::OutcomeUnknown { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&**source, Error::Redirect { status: None, location: Some(l), .. }
            if l.contains(&target.addr.to_string())),
        "{source:?}"
    );
    assert!(err.to_string().contains("Policy::none()"), "{err}");
}

/// An https server on 127.0.0.1 (certificate for `localhost`) that answers every request
/// with `response`; returns its port, its certificate and the count of requests.
async fn https_server(
    response: String,
) -> (
    u16,
    reqwest::Certificate,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::{atomic::Ordering, Arc};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = reqwest::Certificate::from_pem(key.cert.pem().as_bytes()).unwrap();
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
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                continue;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    (port, certificate, requests)
}

#[tokio::test]
async fn an_https_base_redirected_to_plain_http_sends_nothing_in_the_clear() {
    let plain = Canned::start("127.0.0.1", &ok(TASK)).await;
    let location = format!("http://{}/api/v2/agents/tasks/read", plain.addr);
    let (port, certificate, requests) = https_server(answer(301, &location)).await;
    let client = Client::builder(Credentials::new("1", "token"))
        .base_url(format!("https://localhost:{port}/api/v2"))
        .add_root_certificate(certificate)
        .build()
        .unwrap();
    let err = client.read_agent_task(332).await.unwrap_err();
    assert!(
        matches!(&err, Error::Redirect { status: Some(301), location: Some(l), .. } if *l == location),
        "{err:?}"
    );
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        plain.heads().is_empty(),
        "nothing in the clear: {:?}",
        plain.heads()
    );
}
