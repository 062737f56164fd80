//! Each case gets its own connection, so one exchange's connection state
//! cannot leak into the next case's verdict.

use std::path::Path;

use tokencert_core::evidence::read_exchanges;
use tokencert_core::suite;
use tokencert_drive::{Client, Limits, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers the first request on a connection and drops the
/// connection when a second request arrives on it, without answering.
async fn one_answer_per_connection() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if socket.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                let body = r#"{"object":"list","data":[]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
                // A second request on this connection is dropped unanswered.
                let _ = socket.read(&mut buf).await;
            });
        }
    });
    (format!("http://{addr}/v1"), task)
}

#[tokio::test]
async fn a_server_that_drops_keep_alive_connections_does_not_fail_later_cases() {
    let suite = suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).expect("suite");
    let case = suite.case("api.models.list").expect("the case exists");
    let (base_url, server) = one_answer_per_connection().await;
    let target = Target {
        base_url,
        model: "m".into(),
        api_key: None,
        limits: Default::default(),
        rate_limit: None,
        dialects: Default::default(),
    };
    let client = Client::new(target, Limits::default()).expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..3 {
        let path = dir.path().join(format!("{i}.jsonl"));
        client.execute(case, &path).await.expect("evidence written");
        let exchange = read_exchanges(&path)
            .expect("evidence reads back")
            .pop()
            .expect("one exchange");
        assert_eq!(exchange.incomplete(), None, "request {i} did not complete");
        assert_eq!(
            exchange.response.map(|r| r.status),
            Some(200),
            "request {i}"
        );
    }
    server.abort();
}
