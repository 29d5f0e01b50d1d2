//! A one-request HTTP/1.1 server on a socket, for the crates outside the workspace that
//! call quantconnect-agents as users do (`tests/consumer`, `tests/new-endpoint`), which
//! have no test framework of their own.

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Reads one request (its headers and its `Content-Length` body), answers it with `body`
/// as JSON and closes; returns the request as received.
pub async fn answer(stream: &mut TcpStream, body: &str) -> String {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let text = loop {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed early");
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request).into_owned();
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
                break text;
            }
        }
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await.expect("write");
    text
}
