//! Helpers shared by the integration tests: sample events and the check for
//! the local NATS and Redis servers these tests talk to.
//!
//! Every test binary compiles this module but uses only part of it, hence
//! the `dead_code` allowance.
#![allow(dead_code)]

use bindery_core::event::{CloudEvent, SOURCE};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A CloudEvent as the store would hand it to the outbox.
pub fn event(sequence: i64, ty: &str) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: format!("evt-{sequence:04}"),
        source: SOURCE.into(),
        ty: ty.into(),
        subject: "doc-0001".into(),
        time: "2025-01-01T00:00:00Z".into(),
        datacontenttype: "application/json".into(),
        data: serde_json::json!({ "n": sequence }),
        sequence,
        streamversion: sequence,
        correlationid: Some("corr-1".into()),
        causationid: None,
    }
}

/// Whether `addr` accepts TCP connections. When it does not, outside CI the
/// test should return early (a message says why); in CI this panics.
pub fn service_available(what: &str, addr: &str) -> bool {
    let socket: SocketAddr = addr.parse().expect("test addresses are literal");
    if TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok() {
        return true;
    }
    bindery_testkit::require(false, format_args!("{what} is not reachable on {addr}; start it to run this test"))
}
