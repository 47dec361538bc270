//! The webhooks contract: endpoints per project, idempotent fan-out, leased claims that survive a dead sender,
//! the attempt log, failure streaks that disable an endpoint, and retries, on SQLite and PostgreSQL alike.

use bindery_store::{
    AttemptReport, DeliveryState, DynStore, NewDelivery, NextStep, Project, User, WebhookEndpoint, WebhookUpdate,
    DISABLED_BY_OWNER,
};
use serde_json::json;
use std::collections::HashSet;

bindery_store::contract!(
    endpoints_are_created_listed_updated_and_deleted_per_project,
    secrets_are_kept_apart_and_rotate,
    fanning_out_twice_adds_nothing,
    claims_lease_deliveries_and_expired_leases_come_back,
    a_lost_claim_records_nothing,
    attempts_are_logged_and_deliveries_paginate,
    failure_streak_disables_and_reenabling_resumes,
    retry_makes_a_delivery_due_again,
    concurrent_claims_never_share_a_delivery,
);

const T0: i64 = 1_700_000_000_000;
const LEASE: i64 = 30_000;

async fn project(store: &DynStore, id: &str) -> String {
    let owner = format!("owner-{id}");
    let user = User {
        id: owner.clone(),
        email: format!("{owner}@example.org"),
        password_hash: "$argon2id$x".into(),
        admin: false,
        created_ms: T0,
    };
    store.create_user(&user).await.unwrap().unwrap();
    store
        .create_project(&Project { id: id.into(), name: id.into(), created_ms: T0, analyzer: None }, &owner)
        .await
        .unwrap();
    id.into()
}

fn endpoint(project: &str, id: &str, types: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        project: project.into(),
        url: format!("https://example.com/{id}"),
        description: String::new(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
        enabled: true,
        disabled_reason: None,
        failure_streak: 0,
        created_ms: T0,
        updated_ms: T0,
    }
}

async fn add_endpoint(store: &DynStore, project: &str, id: &str) -> WebhookEndpoint {
    let e = endpoint(project, id, &[]);
    store.create_webhook(&e, &format!("whsec_{id}")).await.unwrap();
    e
}

fn delivery(endpoint: &str, event: &str, due: i64) -> NewDelivery {
    NewDelivery {
        endpoint: endpoint.into(),
        event_id: event.into(),
        event_type: "document.ready".into(),
        payload: json!({"id": event, "type": "document.ready"}),
        next_attempt_ms: due,
    }
}

fn report(claim: &bindery_store::ClaimedDelivery, status: Option<i32>, next: NextStep, at: i64) -> AttemptReport {
    AttemptReport {
        delivery: claim.delivery.id,
        lease_until: claim.lease_until,
        time_ms: at,
        status_code: status,
        error: (next != NextStep::Delivered).then(|| format!("answered {status:?}")),
        duration_ms: 5,
        next,
        disable_after: Some(3),
    }
}

async fn endpoints_are_created_listed_updated_and_deleted_per_project(store: DynStore) {
    let (a, b) = (project(&store, "pa").await, project(&store, "pb").await);
    let mut first = endpoint(&a, "e1", &["document.*"]);
    first.description = "reading app".into();
    store.create_webhook(&first, "whsec_AAAA").await.unwrap();
    let mut second = endpoint(&a, "e2", &[]);
    second.created_ms = T0 + 1;
    store.create_webhook(&second, "whsec_BBBB").await.unwrap();
    add_endpoint(&store, &b, "e3").await;

    assert_eq!(store.webhook(&a, "e1").await.unwrap(), Some(first.clone()));
    assert_eq!(store.webhook(&b, "e1").await.unwrap(), None, "an endpoint is reached only through its project");
    let ids: Vec<String> = store.webhooks(&a).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["e1", "e2"]);

    let change = WebhookUpdate {
        url: Some("https://example.org/new".into()),
        event_types: Some(vec!["stage.failed".into()]),
        enabled: Some(false),
        ..Default::default()
    };
    let changed = store.update_webhook(&a, "e1", &change, T0 + 5).await.unwrap().unwrap();
    assert_eq!((changed.url.as_str(), changed.description.as_str()), ("https://example.org/new", "reading app"));
    assert_eq!(changed.event_types, ["stage.failed"]);
    assert_eq!((changed.enabled, changed.disabled_reason.as_deref()), (false, Some(DISABLED_BY_OWNER)));
    assert_eq!(changed.updated_ms, T0 + 5);
    assert!(store.update_webhook(&b, "e1", &change, T0).await.unwrap().is_none());
    let enable = WebhookUpdate { enabled: Some(true), ..Default::default() };
    let enabled = store.update_webhook(&a, "e1", &enable, T0 + 6).await.unwrap().unwrap();
    assert_eq!((enabled.enabled, enabled.disabled_reason), (true, None));

    // Deleting takes the deliveries along.
    store.enqueue_deliveries(&[delivery("e1", "ev1", T0)], T0).await.unwrap();
    assert!(!store.delete_webhook(&b, "e1").await.unwrap());
    assert!(store.delete_webhook(&a, "e1").await.unwrap());
    assert!(store.webhook(&a, "e1").await.unwrap().is_none());
    assert!(store.deliveries("e1", None, 10).await.unwrap().is_empty());
    assert!(!store.delete_webhook(&a, "e1").await.unwrap());
}

async fn secrets_are_kept_apart_and_rotate(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    assert_eq!(store.webhook_secret("e1").await.unwrap().as_deref(), Some("whsec_e1"));
    let listed = serde_json::to_string(&store.webhooks(&a).await.unwrap()).unwrap();
    assert!(!listed.contains("whsec_"), "listing never carries the secret: {listed}");
    assert!(store.rotate_webhook_secret(&a, "e1", "whsec_new", T0 + 1).await.unwrap());
    assert!(!store.rotate_webhook_secret("other", "e1", "whsec_evil", T0 + 1).await.unwrap());
    assert_eq!(store.webhook_secret("e1").await.unwrap().as_deref(), Some("whsec_new"));
    assert_eq!(store.webhook_secret("nope").await.unwrap(), None);
}

async fn fanning_out_twice_adds_nothing(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    add_endpoint(&store, &a, "e2").await;
    let page = [delivery("e1", "ev1", T0), delivery("e2", "ev1", T0), delivery("e1", "ev2", T0)];
    assert_eq!(store.enqueue_deliveries(&page, T0).await.unwrap(), 3);
    assert_eq!(store.enqueue_deliveries(&page, T0 + 1).await.unwrap(), 0);
    assert_eq!(store.enqueue_deliveries(&[], T0).await.unwrap(), 0);
    assert_eq!(store.deliveries("e1", None, 10).await.unwrap().len(), 2);
    let d = store.delivery_for_event("e2", "ev1").await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts, d.payload["id"].as_str()), (DeliveryState::Pending, 0, Some("ev1")));
}

async fn claims_lease_deliveries_and_expired_leases_come_back(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    store
        .enqueue_deliveries(
            &[delivery("e1", "ev1", T0), delivery("e1", "ev2", T0 + 1), delivery("e1", "later", T0 + 60_000)],
            T0,
        )
        .await
        .unwrap();
    let claimed = store.claim_deliveries(10, T0 + 10 + LEASE, T0 + 10).await.unwrap();
    let events: Vec<&str> = claimed.iter().map(|c| c.delivery.event_id.as_str()).collect();
    assert_eq!(events, ["ev1", "ev2"], "only due deliveries, oldest first");
    assert_eq!((claimed[0].url.as_str(), claimed[0].secret.as_str()), ("https://example.com/e1", "whsec_e1"));
    assert!(!format!("{:?}", claimed[0]).contains("whsec_"), "debug output hides the secret");
    assert_eq!(claimed[0].delivery.next_attempt_ms, T0 + 10 + LEASE);
    // In flight: nobody else gets them until the lease ends.
    assert!(store.claim_deliveries(10, T0 + 20 + LEASE, T0 + 20).await.unwrap().is_empty());
    // The sender died; once its lease is over, the deliveries are due again.
    let after = T0 + 11 + LEASE;
    let again = store.claim_deliveries(1, after + LEASE, after).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.event_id, "ev1");
}

async fn a_lost_claim_records_nothing(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    store.enqueue_deliveries(&[delivery("e1", "ev1", T0)], T0).await.unwrap();
    let old = store.claim_deliveries(1, T0 + LEASE, T0).await.unwrap().remove(0);
    let new = store.claim_deliveries(1, T0 + 2 * LEASE + 1, T0 + LEASE + 1).await.unwrap().remove(0);
    // The first sender comes back late: its report is refused, the second one's counts.
    let late = store.record_attempt(&report(&old, Some(204), NextStep::Delivered, T0 + 5), T0 + LEASE + 2).await;
    assert!(!late.unwrap().recorded);
    let first = report(&new, Some(204), NextStep::Delivered, T0 + LEASE + 1);
    let ok = store.record_attempt(&first, T0 + LEASE + 3).await.unwrap();
    assert!(ok.recorded);
    assert_eq!(ok.attempt, 1);
    assert_eq!(store.delivery_attempts(new.delivery.id).await.unwrap().len(), 1);
    // A delivered delivery cannot be recorded again under any claim.
    let twice = store.record_attempt(&report(&new, Some(204), NextStep::Delivered, T0), T0 + LEASE + 4).await;
    assert!(!twice.unwrap().recorded);
}

async fn attempts_are_logged_and_deliveries_paginate(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    let page: Vec<NewDelivery> = (0..5).map(|i| delivery("e1", &format!("ev{i}"), T0 + 1_000_000)).collect();
    store.enqueue_deliveries(&page, T0).await.unwrap();
    store.enqueue_deliveries(&[delivery("e1", "now", T0)], T0).await.unwrap();

    let c = store.claim_deliveries(1, T0 + LEASE, T0).await.unwrap().remove(0);
    let retry = report(&c, Some(503), NextStep::Retry(T0 + 100), T0);
    assert_eq!(store.record_attempt(&retry, T0 + 1).await.unwrap().attempt, 1);
    let d = store.delivery("e1", c.delivery.id).await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts, d.next_attempt_ms), (DeliveryState::Pending, 1, T0 + 100));
    assert_eq!((d.last_status_code, d.last_error.as_deref()), (Some(503), Some("answered Some(503)")));
    assert!(store.claim_deliveries(1, T0 + 50 + LEASE, T0 + 50).await.unwrap().is_empty(), "backing off");
    let c = store.claim_deliveries(1, T0 + 100 + LEASE, T0 + 100).await.unwrap().remove(0);
    let mut timeout = report(&c, None, NextStep::Retry(T0 + 300), T0 + 100);
    timeout.error = Some("timed out".into());
    store.record_attempt(&timeout, T0 + 101).await.unwrap();
    let c = store.claim_deliveries(1, T0 + 300 + LEASE, T0 + 300).await.unwrap().remove(0);
    assert_eq!(
        store.record_attempt(&report(&c, Some(200), NextStep::Delivered, T0 + 300), T0 + 301).await.unwrap().attempt,
        3
    );
    let log = store.delivery_attempts(c.delivery.id).await.unwrap();
    let codes: Vec<(i32, Option<i32>)> = log.iter().map(|a| (a.attempt, a.status_code)).collect();
    assert_eq!(codes, [(1, Some(503)), (2, None), (3, Some(200))]);
    assert_eq!((log[1].error.as_deref(), log[2].error.as_deref(), log[2].time_ms), (Some("timed out"), None, T0 + 300));
    assert_eq!(store.delivery("e1", c.delivery.id).await.unwrap().unwrap().state, DeliveryState::Delivered);
    assert!(store.delivery("other", c.delivery.id).await.unwrap().is_none(), "a delivery belongs to its endpoint");

    // Newest first, in pages.
    let first = store.deliveries("e1", None, 4).await.unwrap();
    assert_eq!(first.len(), 4);
    let rest = store.deliveries("e1", Some(first[3].id), 4).await.unwrap();
    assert_eq!(rest.len(), 2);
    let all: Vec<i64> = first.iter().chain(&rest).map(|d| d.id).collect();
    assert!(all.windows(2).all(|w| w[0] > w[1]), "{all:?}");
    assert_eq!(rest[1].event_id, "ev0");
}

async fn failure_streak_disables_and_reenabling_resumes(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    let page: Vec<NewDelivery> = (0..4).map(|i| delivery("e1", &format!("ev{i}"), T0)).collect();
    store.enqueue_deliveries(&page, T0).await.unwrap();
    // One success, then three failures in a row (disable_after = 3).
    let c = store.claim_deliveries(1, T0 + LEASE, T0).await.unwrap().remove(0);
    store.record_attempt(&report(&c, Some(200), NextStep::Delivered, T0), T0).await.unwrap();
    let far = T0 + 5_000_000;
    let mut disabled = Vec::new();
    for i in 0..3 {
        let now = T0 + 10 + i;
        let c = store.claim_deliveries(1, now + LEASE, now).await.unwrap().remove(0);
        disabled
            .push(store.record_attempt(&report(&c, Some(500), NextStep::Retry(far), now), now).await.unwrap().disabled);
        let streak = store.webhook(&a, "e1").await.unwrap().unwrap().failure_streak;
        assert_eq!(streak, i as i32 + 1);
    }
    assert_eq!(disabled, [false, false, true], "the third failure in a row disables");
    let e = store.webhook(&a, "e1").await.unwrap().unwrap();
    assert!(!e.enabled);
    let reason = e.disabled_reason.unwrap();
    assert!(reason.contains("3 failed attempts in a row") && reason.contains("answered Some(500)"), "{reason}");
    // Nothing is claimed while disabled, and nothing is lost.
    assert!(store.claim_deliveries(10, T0 + 1000 + LEASE, T0 + 1000).await.unwrap().is_empty());
    let pending = store.deliveries("e1", None, 10).await.unwrap();
    assert_eq!(pending.iter().filter(|d| d.state == DeliveryState::Pending).count(), 3);
    // Re-enabling resets the streak and makes the waiting deliveries due at once, backoff or not.
    assert!(pending.iter().all(|d| d.state != DeliveryState::Pending || d.next_attempt_ms == far), "backing off");
    let enable = WebhookUpdate { enabled: Some(true), ..Default::default() };
    let e = store.update_webhook(&a, "e1", &enable, T0 + 2000).await.unwrap().unwrap();
    assert_eq!((e.enabled, e.failure_streak, e.disabled_reason), (true, 0, None));
    let claimed = store.claim_deliveries(10, T0 + 2000 + LEASE, T0 + 2000).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // A success resets the streak; test deliveries (no disable_after) leave it alone.
    let mut r = report(&claimed[0], Some(500), NextStep::Retry(T0 + 3000), T0 + 2000);
    store.record_attempt(&r, T0 + 2001).await.unwrap();
    r = report(&claimed[1], Some(500), NextStep::Failed, T0 + 2000);
    r.disable_after = None;
    store.record_attempt(&r, T0 + 2001).await.unwrap();
    assert_eq!(store.webhook(&a, "e1").await.unwrap().unwrap().failure_streak, 1);
    store.record_attempt(&report(&claimed[2], Some(204), NextStep::Delivered, T0 + 2000), T0 + 2002).await.unwrap();
    assert_eq!(store.webhook(&a, "e1").await.unwrap().unwrap().failure_streak, 0);
}

async fn retry_makes_a_delivery_due_again(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    store.enqueue_deliveries(&[delivery("e1", "ev1", T0)], T0).await.unwrap();
    let c = store.claim_deliveries(1, T0 + LEASE, T0).await.unwrap().remove(0);
    store.record_attempt(&report(&c, Some(410), NextStep::Failed, T0), T0 + 1).await.unwrap();
    assert_eq!(store.delivery("e1", c.delivery.id).await.unwrap().unwrap().state, DeliveryState::Failed);
    assert!(store.claim_deliveries(1, T0 + 10 + LEASE, T0 + 10).await.unwrap().is_empty());
    assert!(store.retry_delivery("other", c.delivery.id, T0 + 20).await.unwrap().is_none());
    let d = store.retry_delivery("e1", c.delivery.id, T0 + 20).await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts, d.next_attempt_ms), (DeliveryState::Pending, 1, T0 + 20));
    let again = store.claim_deliveries(1, T0 + 30 + LEASE, T0 + 30).await.unwrap();
    assert_eq!(again.len(), 1);
    let r = store.record_attempt(&report(&again[0], Some(200), NextStep::Delivered, T0 + 30), T0 + 31).await;
    assert_eq!(r.unwrap().attempt, 2, "attempt numbers continue");
}

async fn concurrent_claims_never_share_a_delivery(store: DynStore) {
    let a = project(&store, "pa").await;
    add_endpoint(&store, &a, "e1").await;
    let page: Vec<NewDelivery> = (0..60).map(|i| delivery("e1", &format!("ev{i}"), T0)).collect();
    store.enqueue_deliveries(&page, T0).await.unwrap();
    let claims = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_deliveries(4, T0 + 10 + LEASE, T0 + 10).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|c| c.delivery.id));
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claim in futures::future::join_all(claims).await {
        for id in claim.unwrap() {
            total += 1;
            assert!(seen.insert(id), "delivery {id} was claimed twice");
        }
    }
    assert_eq!(total, 60);
}
