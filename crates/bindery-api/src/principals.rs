//! A short-lived cache of who callers are and what they may do: users, API keys and project roles.
//!
//! Without it every authenticated request reads the caller's user (and key) and their role in the project before it
//! reads what it came for, so a status read made three store queries where one is needed. The answers change rarely
//! (a member is removed, a key revoked), so this process keeps them for [`crate::ApiOptions::principal_ttl`] (one
//! second by default).
//!
//! Freshness, which is a security property here:
//! - a change made through this process (membership, role, key revocation, new project) calls
//!   [`Principals::invalidate`], which bumps a generation number: every entry cached before it is ignored from then
//!   on, so this process never acts on a withdrawn right;
//! - a change made by another process (another `bindery serve` on the same PostgreSQL, or the CLI) reaches this one
//!   when its entries expire: a removed member or a revoked key keeps working here for at most the TTL;
//! - an entry is stamped with the generation read *before* its store query, so an answer fetched while an
//!   invalidation happened is already stale when it lands;
//! - unknown API keys are not cached (a stream of random keys must not fill the memory), and each map is emptied
//!   when it reaches [`MAX_ENTRIES`].

use bindery_store::{ApiKey, Role, User};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many entries a map is cleared rather than grown: callers are few, so this only happens under abuse.
pub const MAX_ENTRIES: usize = 50_000;

/// How often this process records that an API key was used: owners see "last used" to within this.
pub const KEY_USE_EVERY: Duration = Duration::from_secs(60);

/// The cache. A TTL of zero turns it off (every lookup misses).
pub struct Principals {
    ttl: Duration,
    generation: AtomicU64,
    users: TtlMap<String, User>,
    keys: TtlMap<String, ApiKey>,
    roles: TtlMap<(String, String), Option<Role>>,
    /// When this process last recorded each key's use (by key id).
    key_uses: Mutex<HashMap<String, Instant>>,
}

/// Where a lookup stands: the cached answer, or the ticket to store a fresh one under.
pub enum Lookup<T> {
    Hit(T),
    Miss(Ticket),
}

/// The generation current before a store query, to stamp its answer with.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl Principals {
    pub fn new(ttl: Duration) -> Self {
        Principals {
            ttl,
            generation: AtomicU64::new(0),
            users: TtlMap::default(),
            keys: TtlMap::default(),
            roles: TtlMap::default(),
            key_uses: Mutex::default(),
        }
    }

    /// Whether the use of key `id` at `now` should be recorded in the store: the first use, then one every
    /// [`KEY_USE_EVERY`], so a busy key costs one write a minute per process, not one per request.
    pub fn key_use_to_record(&self, id: &str, now: Instant) -> bool {
        let mut uses = self.key_uses.lock().expect("key use lock");
        if uses.get(id).is_some_and(|at| now.duration_since(*at) < KEY_USE_EVERY) {
            return false;
        }
        if uses.len() >= MAX_ENTRIES {
            uses.clear();
        }
        uses.insert(id.to_owned(), now);
        true
    }

    /// Forgets everything cached so far. Called after every change to users, memberships or keys made here.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn user(&self, id: &str) -> Lookup<User> {
        self.lookup(&self.users, id)
    }

    pub fn put_user(&self, ticket: Ticket, user: &User) {
        self.put(&self.users, ticket, user.id.clone(), user.clone());
    }

    /// The live key with this secret hash.
    pub fn key(&self, hash: &str) -> Lookup<ApiKey> {
        self.lookup(&self.keys, hash)
    }

    pub fn put_key(&self, ticket: Ticket, hash: &str, key: &ApiKey) {
        self.put(&self.keys, ticket, hash.to_owned(), key.clone());
    }

    /// A user's role in a project, `None` for a non-member (that answer is cached too).
    pub fn role(&self, project: &str, user: &str) -> Lookup<Option<Role>> {
        let key = (project.to_owned(), user.to_owned());
        self.lookup(&self.roles, &key)
    }

    pub fn put_role(&self, ticket: Ticket, project: &str, user: &str, role: Option<Role>) {
        self.put(&self.roles, ticket, (project.to_owned(), user.to_owned()), role);
    }

    fn lookup<K, Q, V>(&self, map: &TtlMap<K, V>, key: &Q) -> Lookup<V>
    where
        K: Hash + Eq + std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let generation = self.generation.load(Ordering::Acquire);
        if !self.ttl.is_zero() {
            if let Some(v) = map.get(key, generation, Instant::now(), self.ttl) {
                return Lookup::Hit(v);
            }
        }
        Lookup::Miss(Ticket(generation))
    }

    fn put<K: Hash + Eq, V>(&self, map: &TtlMap<K, V>, ticket: Ticket, key: K, value: V) {
        if !self.ttl.is_zero() {
            map.insert(key, value, ticket.0, Instant::now());
        }
    }
}

struct Entry<V> {
    value: V,
    at: Instant,
    generation: u64,
}

struct TtlMap<K, V>(Mutex<HashMap<K, Entry<V>>>);

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        TtlMap(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V> TtlMap<K, V> {
    fn get<Q>(&self, key: &Q, generation: u64, now: Instant, ttl: Duration) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let map = self.0.lock().expect("principal cache lock");
        map.get(key).filter(|e| e.generation == generation && now.duration_since(e.at) < ttl).map(|e| e.value.clone())
    }

    fn insert(&self, key: K, value: V, generation: u64, now: Instant) {
        let mut map = self.0.lock().expect("principal cache lock");
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, Entry { value, at: now, generation });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, admin: bool) -> User {
        User { id: id.into(), email: format!("{id}@example.org"), password_hash: String::new(), admin, created_ms: 0 }
    }

    fn miss<T>(l: Lookup<T>) -> Ticket {
        match l {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("expected a miss"),
        }
    }

    fn hit<T>(l: Lookup<T>) -> T {
        match l {
            Lookup::Hit(v) => v,
            Lookup::Miss(_) => panic!("expected a hit"),
        }
    }

    #[test]
    fn answers_are_kept_until_invalidated() {
        let p = Principals::new(Duration::from_secs(60));
        let t = miss(p.role("p1", "u1"));
        p.put_role(t, "p1", "u1", Some(Role::Editor));
        let t = miss(p.role("p1", "u2"));
        p.put_role(t, "p1", "u2", None);
        assert_eq!(hit(p.role("p1", "u1")), Some(Role::Editor));
        assert_eq!(hit(p.role("p1", "u2")), None, "non-membership is cached too");
        let t = miss(p.user("u1"));
        p.put_user(t, &user("u1", true));
        assert!(hit(p.user("u1")).admin);

        p.invalidate();
        miss(p.role("p1", "u1"));
        miss(p.user("u1"));
    }

    #[test]
    fn an_answer_fetched_across_an_invalidation_is_not_trusted() {
        let p = Principals::new(Duration::from_secs(60));
        // The query starts, a membership is withdrawn meanwhile, then the (old) answer arrives.
        let ticket = miss(p.role("p1", "u1"));
        p.invalidate();
        p.put_role(ticket, "p1", "u1", Some(Role::Owner));
        miss(p.role("p1", "u1"));
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let p = Principals::new(Duration::from_millis(1));
        let t = miss(p.user("u1"));
        p.put_user(t, &user("u1", false));
        std::thread::sleep(Duration::from_millis(5));
        miss(p.user("u1"));

        let off = Principals::new(Duration::ZERO);
        let t = miss(off.user("u1"));
        off.put_user(t, &user("u1", false));
        miss(off.user("u1"));
    }

    #[test]
    fn a_key_use_is_recorded_once_a_minute() {
        let p = Principals::new(Duration::ZERO);
        let t0 = Instant::now();
        assert!(p.key_use_to_record("k1", t0), "the first use, even with the cache off");
        assert!(!p.key_use_to_record("k1", t0 + Duration::from_secs(59)));
        assert!(p.key_use_to_record("k2", t0 + Duration::from_secs(59)), "each key on its own");
        assert!(p.key_use_to_record("k1", t0 + KEY_USE_EVERY));
    }

    #[test]
    fn a_full_map_is_emptied_not_grown() {
        let p = Principals::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 1 {
            let t = miss(p.role("p", &i.to_string()));
            p.put_role(t, "p", &i.to_string(), None);
        }
        assert_eq!(p.roles.0.lock().unwrap().len(), 1);
    }
}
