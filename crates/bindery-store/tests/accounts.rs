//! The accounts contract: users, projects, members, refresh tokens, API keys
//! and a project's documents, one suite run against SQLite and PostgreSQL
//! alike, each case on a fresh store.

use bindery_core::event::{self, Uploaded};
use bindery_core::{DocumentId, Expected, NewEvent};
use bindery_store::{
    Accepted, ApiKey, Append, Commit, DynStore, NewInvitation, NewRefreshToken, Project, RefreshUse, Role, User,
};
use std::sync::Arc;

bindery_store::contract!(
    users_are_unique_by_email_whatever_the_case,
    roles_order_and_round_trip,
    projects_are_listed_per_user_and_isolated,
    project_settings_are_updated_and_read_back_everywhere,
    set_member_adds_changes_and_removes,
    invitations_wait_for_their_address_and_are_accepted_once,
    invitations_are_renewed_declined_revoked_and_expire,
    refresh_tokens_rotate,
    reusing_a_spent_token_revokes_its_family,
    expired_and_unknown_tokens_are_invalid,
    concurrent_uses_rotate_exactly_once,
    revoke_refresh_tokens_logs_out_everywhere,
    api_keys_create_look_up_list_and_revoke,
    api_key_use_is_recorded_and_only_moves_forward,
    project_documents_lists_one_project_in_pages,
);

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${id}"),
        admin: false,
        created_ms: T0,
    }
}

/// Creates a user whose address is `<id>@example.org`.
async fn make_user(store: &DynStore, id: &str) -> User {
    store.create_user(&user(id, &format!("{id}@example.org"))).await.unwrap().expect("address is free")
}

fn project(id: &str, name: &str) -> Project {
    Project { id: id.into(), name: name.into(), created_ms: T0, analyzer: None }
}

fn token(hash: &str, user: &str, family: &str, expires_ms: i64) -> NewRefreshToken {
    NewRefreshToken { hash: hash.into(), user: user.into(), family: family.into(), expires_ms }
}

fn rotated(user: &str, family: &str) -> RefreshUse {
    RefreshUse::Rotated { user: user.into(), family: family.into() }
}

fn key(id: &str, project: &str, user: &str, role: Role, created_ms: i64) -> ApiKey {
    ApiKey {
        id: id.into(),
        project: project.into(),
        user: user.into(),
        name: format!("key {id}"),
        prefix: format!("bk_{id}"),
        role,
        created_ms,
        revoked_ms: None,
        last_used_ms: None,
    }
}

async fn users_are_unique_by_email_whatever_the_case(store: DynStore) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    let mut alice = user("u1", "Alice@Example.COM");
    alice.admin = true;
    let created = store.create_user(&alice).await.unwrap().expect("a new address");
    assert_eq!(created.email, "alice@example.com", "stored lower-cased");
    assert_eq!(store.user("u1").await.unwrap().as_ref(), Some(&created));
    assert_eq!(store.user_by_email("ALICE@example.com").await.unwrap().as_ref(), Some(&created));
    assert!(created.admin && created.password_hash.starts_with("$argon2id$"));

    assert_eq!(store.create_user(&user("u2", "alice@example.com")).await.unwrap(), None);
    assert_eq!(store.create_user(&user("u3", "ALICE@EXAMPLE.COM")).await.unwrap(), None, "case-insensitive");
    assert_eq!(store.user("u2").await.unwrap(), None, "the refused user was not written");
    assert_eq!(store.user_count().await.unwrap(), 1);

    make_user(&store, "bob").await;
    assert_eq!(store.user_count().await.unwrap(), 2);
    assert_eq!(store.user("nobody").await.unwrap(), None);
    assert_eq!(store.user_by_email("nobody@example.org").await.unwrap(), None);
}

async fn roles_order_and_round_trip(store: DynStore) {
    use Role::*;
    let all = [Owner, Editor, Viewer];
    for (have, needed, allowed) in [
        (Owner, Owner, true),
        (Owner, Editor, true),
        (Owner, Viewer, true),
        (Editor, Owner, false),
        (Editor, Editor, true),
        (Editor, Viewer, true),
        (Viewer, Owner, false),
        (Viewer, Editor, false),
        (Viewer, Viewer, true),
    ] {
        assert_eq!(have.allows(needed), allowed, "{have:?} allows {needed:?}");
    }
    for role in all {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("admin"), None);
    assert_eq!(Role::parse("Owner"), None, "only the stored spelling");

    make_user(&store, "owner").await;
    make_user(&store, "m").await;
    store.create_project(&project("p", "P"), "owner").await.unwrap();
    assert_eq!(store.role("p", "owner").await.unwrap(), Some(Owner), "the creator owns the project");
    for role in all {
        assert!(store.set_member("p", "m", Some(role)).await.unwrap());
        assert_eq!(store.role("p", "m").await.unwrap(), Some(role));
    }
}

async fn projects_are_listed_per_user_and_isolated(store: DynStore) {
    for u in ["ann", "bob", "cat"] {
        make_user(&store, u).await;
    }
    store.create_project(&project("p1", "Beta"), "ann").await.unwrap();
    store.create_project(&project("p3", "Gamma"), "ann").await.unwrap();
    store.create_project(&project("p2", "Gamma"), "ann").await.unwrap();
    store.create_project(&project("p4", "Alpha"), "bob").await.unwrap();
    assert!(store.set_member("p1", "bob", Some(Role::Viewer)).await.unwrap());

    let listed = |v: Vec<(Project, Role)>| v.into_iter().map(|(p, r)| (p.id, r)).collect::<Vec<_>>();
    let ann = listed(store.projects_of("ann").await.unwrap());
    let own = |id: &str| (id.to_string(), Role::Owner);
    assert_eq!(ann, vec![own("p1"), own("p2"), own("p3")], "by name, then id");
    let bob = listed(store.projects_of("bob").await.unwrap());
    assert_eq!(bob, vec![own("p4"), ("p1".to_string(), Role::Viewer)], "only bob's projects");
    assert!(store.projects_of("cat").await.unwrap().is_empty(), "a user sees no project they are not in");
    assert_eq!(store.role("p4", "ann").await.unwrap(), None);

    let all: Vec<String> = store.all_projects().await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(all, vec!["p4", "p1", "p2", "p3"]);
    assert_eq!(store.project("p1").await.unwrap(), Some(project("p1", "Beta")));
    assert_eq!(store.project("nope").await.unwrap(), None);

    // The project and its owner are written together or not at all.
    assert!(store.create_project(&project("p5", "Orphan"), "nobody").await.is_err());
    assert_eq!(store.project("p5").await.unwrap(), None);
}

async fn project_settings_are_updated_and_read_back_everywhere(store: DynStore) {
    let alice = make_user(&store, "alice").await;
    let mut p = project("p1", "Books");
    p.analyzer = Some("big-model".into());
    store.create_project(&p, &alice.id).await.unwrap();
    store.create_project(&project("p2", "Other"), &alice.id).await.unwrap();
    assert_eq!(store.project("p1").await.unwrap().unwrap().analyzer.as_deref(), Some("big-model"));

    let renamed = Project { name: "Novels".into(), analyzer: None, created_ms: T0 + HOUR, ..p.clone() };
    assert!(store.update_project(&renamed).await.unwrap());
    let read = store.project("p1").await.unwrap().unwrap();
    assert_eq!((read.name.as_str(), read.analyzer, read.created_ms), ("Novels", None, T0), "created_ms is kept");

    let chosen = Project { analyzer: Some("offline".into()), ..read };
    assert!(store.update_project(&chosen).await.unwrap());
    let listed = store.projects_of(&alice.id).await.unwrap();
    let names: Vec<_> = listed.iter().map(|(p, _)| (p.id.as_str(), p.analyzer.as_deref())).collect();
    assert_eq!(names, [("p1", Some("offline")), ("p2", None)], "each project keeps its own setting");
    let all = store.all_projects().await.unwrap();
    assert_eq!(all.iter().find(|p| p.id == "p1").unwrap().analyzer.as_deref(), Some("offline"));

    assert!(!store.update_project(&project("nope", "Ghost")).await.unwrap(), "no such project");
    assert_eq!(store.project("nope").await.unwrap(), None, "nothing was created");
}

async fn set_member_adds_changes_and_removes(store: DynStore) {
    make_user(&store, "zed").await;
    make_user(&store, "amy").await;
    store.create_project(&project("p", "P"), "zed").await.unwrap();

    assert!(store.set_member("p", "amy", Some(Role::Viewer)).await.unwrap());
    let members = store.members("p").await.unwrap();
    let summary: Vec<(&str, &str, Role)> =
        members.iter().map(|m| (m.user.as_str(), m.email.as_str(), m.role)).collect();
    assert_eq!(
        summary,
        vec![("amy", "amy@example.org", Role::Viewer), ("zed", "zed@example.org", Role::Owner)],
        "by e-mail address"
    );

    assert!(store.set_member("p", "amy", Some(Role::Editor)).await.unwrap(), "a change is an upsert");
    assert_eq!(store.role("p", "amy").await.unwrap(), Some(Role::Editor));
    assert_eq!(store.members("p").await.unwrap().len(), 2, "changed, not added twice");

    assert!(store.set_member("p", "amy", None).await.unwrap());
    assert_eq!(store.role("p", "amy").await.unwrap(), None);
    assert!(!store.set_member("p", "amy", None).await.unwrap(), "no such member any more");
    assert_eq!(store.members("p").await.unwrap().len(), 1);

    assert!(!store.set_member("p", "ghost", Some(Role::Viewer)).await.unwrap(), "unknown user");
    assert!(!store.set_member("nope", "amy", Some(Role::Viewer)).await.unwrap(), "unknown project");
    assert!(!store.set_member("nope", "amy", None).await.unwrap());
    assert!(store.members("nope").await.unwrap().is_empty());
    assert_eq!(store.projects_of("amy").await.unwrap(), vec![]);
}

fn invitation(id: &str, project: &str, email: &str, role: Role, by: &str, at: i64) -> NewInvitation {
    NewInvitation {
        id: id.into(),
        project: project.into(),
        email: email.into(),
        role,
        invited_by: by.into(),
        created_ms: at,
        expires_ms: at + HOUR,
    }
}

async fn invitations_wait_for_their_address_and_are_accepted_once(store: DynStore) {
    make_user(&store, "zed").await;
    store.create_project(&project("p", "Poems"), "zed").await.unwrap();

    // An address without an account is invited just the same: nothing here can tell the two apart.
    let made = store.invite(&invitation("i1", "p", "Amy@Example.org", Role::Editor, "zed", T0)).await.unwrap();
    let made = made.expect("the project exists");
    assert_eq!((made.id.as_str(), made.email.as_str(), made.role), ("i1", "amy@example.org", Role::Editor));
    assert_eq!((made.project_name.as_str(), made.invited_by.as_deref()), ("Poems", Some("zed@example.org")));
    assert_eq!(store.project_invitations("p", T0).await.unwrap(), vec![made.clone()]);
    assert_eq!(store.invitations_for("AMY@example.org", T0).await.unwrap(), vec![made.clone()], "any case");
    assert!(store.invitations_for("bob@example.org", T0).await.unwrap().is_empty());

    // The account comes later and claims it; only its own address can.
    make_user(&store, "amy").await;
    make_user(&store, "bob").await;
    assert_eq!(store.accept_invitation("i1", "bob@example.org", "bob", T0).await.unwrap(), None, "not bob's");
    let joined = Accepted::Joined { project: "p".into(), role: Role::Editor };
    assert_eq!(store.accept_invitation("i1", "amy@example.org", "amy", T0 + 1).await.unwrap(), Some(joined));
    assert_eq!(store.role("p", "amy").await.unwrap(), Some(Role::Editor));
    assert!(store.project_invitations("p", T0).await.unwrap().is_empty(), "accepted means gone");
    assert_eq!(store.accept_invitation("i1", "amy@example.org", "amy", T0 + 2).await.unwrap(), None, "once only");

    // Invited again while already a member: accepting changes nothing about the role.
    store.invite(&invitation("i2", "p", "amy@example.org", Role::Owner, "zed", T0)).await.unwrap();
    let kept = Accepted::AlreadyMember { project: "p".into(), role: Role::Editor };
    assert_eq!(store.accept_invitation("i2", "amy@example.org", "amy", T0).await.unwrap(), Some(kept));
    assert_eq!(store.role("p", "amy").await.unwrap(), Some(Role::Editor));

    assert_eq!(store.invite(&invitation("i3", "nope", "x@example.org", Role::Viewer, "zed", T0)).await.unwrap(), None);
}

async fn invitations_are_renewed_declined_revoked_and_expire(store: DynStore) {
    make_user(&store, "zed").await;
    store.create_project(&project("p", "P"), "zed").await.unwrap();
    store.create_project(&project("q", "Q"), "zed").await.unwrap();

    store.invite(&invitation("i1", "p", "amy@example.org", Role::Viewer, "zed", T0)).await.unwrap();
    let renewed = store.invite(&invitation("i9", "p", "amy@example.org", Role::Editor, "zed", T0 + 5)).await;
    let renewed = renewed.unwrap().unwrap();
    assert_eq!((renewed.id.as_str(), renewed.role, renewed.expires_ms), ("i1", Role::Editor, T0 + 5 + HOUR));
    assert_eq!(store.project_invitations("p", T0).await.unwrap().len(), 1, "renewed, not doubled");

    store.invite(&invitation("i2", "q", "amy@example.org", Role::Viewer, "zed", T0)).await.unwrap();
    assert!(!store.decline_invitation("i2", "bob@example.org").await.unwrap(), "only its address declines");
    assert!(!store.revoke_invitation("p", "i2").await.unwrap(), "only its project revokes");
    assert!(store.decline_invitation("i2", "AMY@example.org").await.unwrap());
    assert!(store.revoke_invitation("p", "i1").await.unwrap());
    assert!(store.invitations_for("amy@example.org", T0).await.unwrap().is_empty());

    // Expired invitations are neither listed nor accepted, and the next invitation to the project clears them.
    store.invite(&invitation("i3", "p", "old@example.org", Role::Viewer, "zed", T0)).await.unwrap();
    let later = T0 + HOUR;
    assert!(store.project_invitations("p", later).await.unwrap().is_empty());
    assert!(store.invitations_for("old@example.org", later).await.unwrap().is_empty());
    make_user(&store, "old").await;
    assert_eq!(store.accept_invitation("i3", "old@example.org", "old", later).await.unwrap(), None);
    store.invite(&invitation("i4", "p", "new@example.org", Role::Viewer, "zed", later)).await.unwrap();
    assert!(!store.revoke_invitation("p", "i3").await.unwrap(), "purged");

    let left: Vec<String> = store.project_invitations("p", later).await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(left, ["i4"]);
}

async fn refresh_tokens_rotate(store: DynStore) {
    make_user(&store, "u").await;
    store.insert_refresh_token(&token("t1", "u", "f", T0 + HOUR), T0).await.unwrap();
    assert_eq!(store.use_refresh_token("t1", T0 + 1).await.unwrap(), rotated("u", "f"));
    store.insert_refresh_token(&token("t2", "u", "f", T0 + 2 * HOUR), T0 + 1).await.unwrap();
    assert_eq!(store.use_refresh_token("t2", T0 + 2).await.unwrap(), rotated("u", "f"));
}

async fn reusing_a_spent_token_revokes_its_family(store: DynStore) {
    make_user(&store, "u").await;
    store.insert_refresh_token(&token("t1", "u", "f", T0 + HOUR), T0).await.unwrap();
    store.insert_refresh_token(&token("other", "u", "g", T0 + HOUR), T0).await.unwrap();
    assert_eq!(store.use_refresh_token("t1", T0 + 1).await.unwrap(), rotated("u", "f"));
    store.insert_refresh_token(&token("t2", "u", "f", T0 + HOUR), T0 + 1).await.unwrap();

    // An attacker (or a replay) presents the spent token.
    assert_eq!(store.use_refresh_token("t1", T0 + 2).await.unwrap(), RefreshUse::Reused);
    assert_eq!(store.use_refresh_token("t2", T0 + 3).await.unwrap(), RefreshUse::Revoked, "the family is revoked");
    assert_eq!(store.use_refresh_token("t1", T0 + 4).await.unwrap(), RefreshUse::Reused, "and stays so");
    assert_eq!(store.use_refresh_token("other", T0 + 5).await.unwrap(), rotated("u", "g"), "other logins survive");
}

async fn expired_and_unknown_tokens_are_invalid(store: DynStore) {
    make_user(&store, "u").await;
    store.insert_refresh_token(&token("old", "u", "f", T0 + 10), T0).await.unwrap();
    store.insert_refresh_token(&token("live", "u", "f", T0 + HOUR), T0).await.unwrap();
    assert_eq!(store.use_refresh_token("old", T0 + 10).await.unwrap(), RefreshUse::Invalid, "expired at expires_ms");
    assert_eq!(store.use_refresh_token("old", T0 + 11).await.unwrap(), RefreshUse::Invalid);
    assert_eq!(store.use_refresh_token("nonexistent", T0).await.unwrap(), RefreshUse::Invalid);
    assert_eq!(
        store.use_refresh_token("live", T0 + 12).await.unwrap(),
        rotated("u", "f"),
        "an expired token is no sign of theft: its family lives on"
    );
}

async fn concurrent_uses_rotate_exactly_once(store: DynStore) {
    make_user(&store, "u").await;
    for i in 0..20 {
        let hash = format!("t{i}");
        store.insert_refresh_token(&token(&hash, "u", &format!("f{i}"), T0 + HOUR), T0).await.unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (store, start, hash) = (store.clone(), start.clone(), hash.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.use_refresh_token(&hash, T0 + 1).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for r in racers {
            outcomes.push(r.await.unwrap());
        }
        let wins = outcomes.iter().filter(|o| matches!(o, RefreshUse::Rotated { .. })).count();
        assert_eq!(wins, 1, "round {i}: {outcomes:?}");
        assert!(outcomes.contains(&RefreshUse::Reused), "round {i}: the loser is reuse: {outcomes:?}");
    }
}

async fn revoke_refresh_tokens_logs_out_everywhere(store: DynStore) {
    make_user(&store, "u").await;
    make_user(&store, "v").await;
    store.insert_refresh_token(&token("a", "u", "f1", T0 + HOUR), T0).await.unwrap();
    store.insert_refresh_token(&token("b", "u", "f2", T0 + HOUR), T0).await.unwrap();
    store.insert_refresh_token(&token("spent", "u", "f3", T0 + HOUR), T0).await.unwrap();
    store.insert_refresh_token(&token("expired", "u", "f4", T0 + 5), T0).await.unwrap();
    store.insert_refresh_token(&token("theirs", "v", "g", T0 + HOUR), T0).await.unwrap();
    assert_eq!(store.use_refresh_token("spent", T0 + 1).await.unwrap(), rotated("u", "f3"));

    assert_eq!(store.revoke_refresh_tokens("u", T0 + 10).await.unwrap(), 2, "only usable tokens count");
    // Signed out is not reused: nothing was stolen.
    assert_eq!(store.use_refresh_token("a", T0 + 11).await.unwrap(), RefreshUse::Revoked);
    assert_eq!(store.use_refresh_token("b", T0 + 11).await.unwrap(), RefreshUse::Revoked);
    assert_eq!(store.use_refresh_token("theirs", T0 + 11).await.unwrap(), rotated("v", "g"), "another user's");
    assert_eq!(store.revoke_refresh_tokens("u", T0 + 12).await.unwrap(), 0);
    assert_eq!(store.revoke_refresh_tokens("nobody", T0 + 12).await.unwrap(), 0);
}

async fn api_keys_create_look_up_list_and_revoke(store: DynStore) {
    make_user(&store, "u").await;
    store.create_project(&project("p1", "One"), "u").await.unwrap();
    store.create_project(&project("p2", "Two"), "u").await.unwrap();
    let k1 = key("k1", "p1", "u", Role::Editor, T0);
    let k2 = key("k2", "p1", "u", Role::Viewer, T0 + 1);
    let k3 = key("k3", "p2", "u", Role::Owner, T0 + 2);
    for (k, hash) in [(&k1, "h1"), (&k2, "h2"), (&k3, "h3")] {
        store.create_api_key(k, hash).await.unwrap();
    }

    assert_eq!(store.api_key_by_hash("h1").await.unwrap().as_ref(), Some(&k1));
    assert_eq!(store.api_key_by_hash("h3").await.unwrap().as_ref(), Some(&k3));
    assert_eq!(store.api_key_by_hash("nope").await.unwrap(), None);
    assert_eq!(store.api_keys("p1").await.unwrap(), vec![k2.clone(), k1.clone()], "newest first, own project only");

    assert!(!store.revoke_api_key("p2", "k1", T0 + 5).await.unwrap(), "another project's key");
    assert!(store.api_key_by_hash("h1").await.unwrap().is_some(), "still live");
    assert!(store.revoke_api_key("p1", "k1", T0 + 5).await.unwrap());
    assert_eq!(store.api_key_by_hash("h1").await.unwrap(), None, "a revoked key is not found");
    assert!(!store.revoke_api_key("p1", "k1", T0 + 6).await.unwrap(), "already revoked");
    assert!(!store.revoke_api_key("p1", "k9", T0 + 6).await.unwrap(), "unknown key");

    let listed = store.api_keys("p1").await.unwrap();
    let revoked = ApiKey { revoked_ms: Some(T0 + 5), ..k1 };
    assert_eq!(listed, vec![k2, revoked], "revoked keys stay listed");
    assert_eq!(store.api_keys("p2").await.unwrap(), vec![k3]);
}

async fn api_key_use_is_recorded_and_only_moves_forward(store: DynStore) {
    make_user(&store, "u").await;
    store.create_project(&project("p1", "One"), "u").await.unwrap();
    store.create_api_key(&key("k1", "p1", "u", Role::Editor, T0), "h1").await.unwrap();
    store.create_api_key(&key("k2", "p1", "u", Role::Viewer, T0 + 1), "h2").await.unwrap();
    let last_used = |keys: Vec<ApiKey>| keys.into_iter().map(|k| (k.id, k.last_used_ms)).collect::<Vec<_>>();
    assert_eq!(last_used(store.api_keys("p1").await.unwrap()), [("k2".into(), None), ("k1".into(), None)]);

    store.touch_api_key("k1", T0 + HOUR).await.unwrap();
    // A slower process writes an older time afterwards: the later one stays.
    store.touch_api_key("k1", T0 + 10).await.unwrap();
    store.touch_api_key("nope", T0 + HOUR).await.unwrap();
    assert_eq!(
        last_used(store.api_keys("p1").await.unwrap()),
        [("k2".into(), None), ("k1".into(), Some(T0 + HOUR))],
        "only the key used, and the latest time"
    );
    assert_eq!(store.api_key_by_hash("h1").await.unwrap().unwrap().last_used_ms, Some(T0 + HOUR));
    store.touch_api_key("k1", T0 + 2 * HOUR).await.unwrap();
    assert_eq!(store.api_key_by_hash("h1").await.unwrap().unwrap().last_used_ms, Some(T0 + 2 * HOUR));
}

/// Commits a document's `document.uploaded`, the way ingest does.
async fn upload(store: &DynStore, n: u32, project: Option<&str>) -> String {
    let id = DocumentId::for_bytes(format!("document {n}").as_bytes());
    let up = Uploaded {
        document: id.clone(),
        source: format!("{n}.txt"),
        bytes: 10,
        media_type: "text/plain".into(),
        blob_key: format!("sha256/{n}"),
        pipeline: "book".into(),
        pipeline_version: 1,
        stages: vec!["extract".into()],
        project: project.map(str::to_owned),
        deadline_ms: None,
        analyzer: None,
    };
    let events = vec![NewEvent::new(event::DOCUMENT_UPLOADED, up)];
    let append = Append { stream: id.to_string(), expected: Expected::NoStream, events };
    store.commit(Commit { appends: vec![append], ..Default::default() }, T0).await.unwrap();
    id.to_string()
}

async fn project_documents_lists_one_project_in_pages(store: DynStore) {
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for n in 0..5 {
        mine.push(upload(&store, n, Some("p1")).await);
        theirs.push(upload(&store, 100 + n, Some("p2")).await);
    }
    upload(&store, 200, None).await;
    mine.sort();
    theirs.sort();

    let ids = |docs: Vec<bindery_core::DocumentState>| docs.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let all = store.project_documents("p1", "", 100).await.unwrap();
    assert!(all.iter().all(|d| d.project.as_deref() == Some("p1")));
    assert_eq!(ids(all), mine, "only the project's documents, by id");
    assert_eq!(ids(store.project_documents("p2", "", 100).await.unwrap()), theirs);
    assert!(store.project_documents("p3", "", 100).await.unwrap().is_empty());
    assert_eq!(store.documents("", 100).await.unwrap().len(), 11, "every document is still listed");

    let mut pages = Vec::new();
    let mut after = String::new();
    loop {
        let page = ids(store.project_documents("p1", &after, 2).await.unwrap());
        let Some(last) = page.last() else { break };
        after = last.clone();
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(pages.concat(), mine);

    // Rebuilding the projections writes the project column again.
    assert_eq!(store.rebuild_projections().await.unwrap(), 11);
    assert_eq!(ids(store.project_documents("p1", "", 100).await.unwrap()), mine);
}
