//! Delivers events to the local NATS server's JetStream and reads them back,
//! checking subjects, order and that a redelivery is not stored twice.

mod common;

use async_nats::jetstream::{self, consumer::pull};
use bindery_core::event::CloudEvent;
use bindery_outbox::parse_sink;
use common::{event, service_available};
use futures::StreamExt;
use std::time::Duration;

const ADDR: &str = "127.0.0.1:4222";

#[tokio::test]
async fn publishes_each_event_once_in_order() {
    if !service_available("NATS", ADDR) {
        return;
    }
    // A fresh prefix and stream per run keep parallel or earlier runs apart.
    let name = format!("bindery_test_{}", uuid::Uuid::new_v4().simple());
    let sink = parse_sink(&format!("nats://{ADDR}?subject_prefix={name}&stream={name}"), None).unwrap();
    let events = [event(1, "document.uploaded"), event(2, "stage.completed"), event(3, "document.ready")];
    for e in &events {
        sink.deliver(e).await.unwrap();
    }
    // The engine redelivers after a crash; JetStream must drop the copy.
    sink.deliver(&events[0]).await.unwrap();

    let js = jetstream::new(async_nats::connect(ADDR).await.unwrap());
    let mut stream = js.get_stream(&name).await.unwrap();
    let stored = stream.info().await.unwrap().state.messages;
    let consumer = stream.create_consumer(pull::Config::default()).await.unwrap();
    let mut batch = consumer.fetch().max_messages(10).expires(Duration::from_secs(1)).messages().await.unwrap();
    let mut received = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message.unwrap();
        let msg_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned());
        let decoded: CloudEvent = serde_json::from_slice(&message.payload).unwrap();
        received.push((message.subject.to_string(), msg_id, decoded));
    }
    // Clean up before asserting so that a failure leaves nothing behind.
    js.delete_stream(&name).await.unwrap();

    assert_eq!(stored, 3);
    assert_eq!(received.len(), 3, "{received:#?}");
    for ((subject, msg_id, decoded), sent) in received.iter().zip(&events) {
        assert_eq!(subject, &format!("{name}.{}", sent.ty));
        assert_eq!(msg_id.as_deref(), Some(sent.id.as_str()));
        assert_eq!(decoded, sent);
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error() {
    // Bind and release a port so that nothing is listening on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sink = parse_sink(&format!("nats://127.0.0.1:{port}"), None).unwrap();
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}
