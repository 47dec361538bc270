//! Appends events to a Redis Stream on the local server and reads them back,
//! checking entry ids, order and that redeliveries are harmless.

mod common;

use bindery_core::event::CloudEvent;
use bindery_outbox::{entry_id, parse_sink};
use common::{event, service_available};
use std::collections::HashMap;

const ADDR: &str = "127.0.0.1:6379";

#[tokio::test]
async fn appends_each_sequence_once_in_order() {
    if !service_available("Redis", ADDR) {
        return;
    }
    // A fresh key per run keeps parallel or earlier runs apart.
    let key = format!("bindery_test:{}", uuid::Uuid::new_v4().simple());
    let sink = parse_sink(&format!("redis://{ADDR}?stream={key}"), None).unwrap();
    let events = [event(1, "document.uploaded"), event(2, "stage.completed"), event(3, "document.ready")];
    for e in &events {
        sink.deliver(e).await.unwrap();
    }
    // Redelivering an older and the newest sequence must both succeed.
    let older = sink.deliver(&events[1]).await;
    let newest = sink.deliver(&events[2]).await;

    let client = redis::Client::open(format!("redis://{ADDR}")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let entries: Vec<(String, Vec<String>)> =
        redis::cmd("XRANGE").arg(&key).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    // Clean up before asserting so that a failure leaves nothing behind.
    let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();

    older.unwrap();
    newest.unwrap();
    assert_eq!(entries.len(), 3, "{entries:#?}");
    for ((id, flat), sent) in entries.iter().zip(&events) {
        assert_eq!(id, &entry_id(sent.sequence));
        let fields: HashMap<&str, &str> = flat.chunks(2).map(|pair| (pair[0].as_str(), pair[1].as_str())).collect();
        assert_eq!(fields["id"], sent.id);
        assert_eq!(fields["type"], sent.ty);
        assert_eq!(fields["subject"], sent.subject);
        assert_eq!(fields["sequence"], sent.sequence.to_string());
        let decoded: CloudEvent = serde_json::from_str(fields["event"]).unwrap();
        assert_eq!(&decoded, sent);
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error() {
    // Bind and release a port so that nothing is listening on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sink = parse_sink(&format!("redis://127.0.0.1:{port}"), None).unwrap();
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}
