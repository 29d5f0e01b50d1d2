//! Which proxy the default HTTP client takes from the environment: none for a loopback or
//! plain-http base, `HTTPS_PROXY` (else `ALL_PROXY`) as a `CONNECT` tunnel for an https one.
//! One test, alone in this binary, since it sets process-wide environment variables.

mod common;

use common::Canned;
use quantconnect_agents::{retry::RetryPolicy, Client, Credentials};

const FORBIDDEN: &str = "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const TASK: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 40\r\nconnection: close\r\n\r\n{\"success\":true,\"task\":{\"id\":332}}      ";

fn client(base_url: &str, from_env: bool) -> Client {
    Client::builder(Credentials::new("1", "token"))
        .base_url(base_url)
        .retry_policy(RetryPolicy::disabled())
        .proxy_from_env(from_env)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_environments_proxy_is_used_only_as_a_tunnel_to_a_remote_https_base() {
    let proxy = Canned::start("127.0.0.1", FORBIDDEN).await;
    let proxy_url = format!("http://{}", proxy.addr);
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"] {
        std::env::set_var(name, &proxy_url);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    // A loopback base, plain http as the simulator's: straight to it, whatever is set.
    let base = Canned::start("127.0.0.1", TASK).await;
    let task = client(&base.base_url(), true)
        .read_agent_task(332)
        .await
        .unwrap();
    assert_eq!(task.id, Some(332));
    assert_eq!(base.heads().len(), 1);
    assert!(proxy.heads().is_empty(), "{:?}", proxy.heads());

    // A remote https base: a CONNECT tunnel through the proxy, which sees the host and no
    // signature (the proxy here refuses the tunnel, so the call fails).
    let remote = "https://qc.invalid/api/v2";
    client(remote, true).read_agent_task(332).await.unwrap_err();
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(heads[0].starts_with("CONNECT qc.invalid:443 "), "{heads:?}");
    assert!(
        !heads[0].to_ascii_lowercase().contains("authorization"),
        "{heads:?}"
    );

    // ALL_PROXY alone serves as well.
    std::env::remove_var("HTTPS_PROXY");
    client(remote, true).read_agent_task(332).await.unwrap_err();
    assert_eq!(proxy.heads().len(), 2);
}
