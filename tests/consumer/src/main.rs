//! Builds against quantconnect-agents as a dependency and calls it: `authenticate` and
//! `read_agent_task` against a one-shot HTTP server on 127.0.0.1.

use quantconnect_agents::{Client, Credentials, DeploymentStatus};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// Answers each connection with one canned JSON response, whatever was asked.
async fn serve(listener: TcpListener, bodies: Vec<&'static str>) {
    for body in bodies {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the headers and the (small) body of the request.
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    assert!(
                        text.contains("timestamp:") || text.contains("Timestamp:"),
                        "unsigned request"
                    );
                    break;
                }
            }
            assert!(n > 0, "connection closed early");
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.expect("write");
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
