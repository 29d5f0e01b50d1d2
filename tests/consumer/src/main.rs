//! Builds against quantconnect-agents as a dependency and calls it: `authenticate` and
//! `read_agent_task` against a one-shot HTTP server on 127.0.0.1.

use quantconnect_agents::{Client, Credentials, DeploymentStatus};
use tokio::net::TcpListener;

/// Answers each connection with one canned JSON response, whatever was asked, after
/// checking that the request was signed.
async fn serve(listener: TcpListener, bodies: Vec<&'static str>) {
    for body in bodies {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let request = one_shot::answer(&mut stream, body)
            .await
            .to_ascii_lowercase();
        assert!(request.contains("\r\ntimestamp:"), "unsigned request");
    }
}

#[tokio::main]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(
        listener,
        vec![
            r#"{"success":true}"#,
            r#"{"success":true,"task":{"id":332,"name":"Print Hello World Message"}}"#,
        ],
    ));

    let client = Client::new(&url, Credentials::new("1", "token")).expect("client");
    client.authenticate().await.expect("authenticate");
    let task = client.read_agent_task(332).await.expect("read task");
    assert_eq!(task.id, Some(332));
    assert!(DeploymentStatus::Completed.is_terminal());
    server.await.unwrap();
    println!(
        "consumer: built against quantconnect-agents and called it: task {:?}",
        task.name
    );
}
