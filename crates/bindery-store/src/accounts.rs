//! Accounts, projects and credentials: what `bindery serve` needs to know who is calling and what they may touch.
//!
//! The store keeps only hashes of secrets. Passwords arrive already hashed with argon2 by the API crate; refresh
//! tokens and API keys are random 256-bit strings, so a plain SHA-256 of them (computed by the caller) is enough to
//! find them without storing anything an attacker with the database could replay.
//!
//! Refresh tokens rotate: using one marks it used and the caller issues the next in the same *family*. Presenting a
//! used token again means it was stolen (or replayed), so [`Accounts::use_refresh_token`] revokes the whole family,
//! the OAuth 2.0 Security BCP's reuse detection.

use crate::Result;
use async_trait::async_trait;
use bindery_core::time::Millis;
use serde::{Deserialize, Serialize};

/// A member's role in a project, from most to least powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including members, webhooks and deleting the project's documents.
    Owner,
    /// Upload, reprocess, cancel and delete documents.
    Editor,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// True when this role includes everything `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self <= needed
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// Stored lower-cased; unique.
    pub email: String,
    /// An argon2 PHC string (`$argon2id$…`).
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// An instance administrator: sees every project, queues and dead jobs.
    pub admin: bool,
    pub created_ms: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub created_ms: Millis,
    /// The analyzer the project chose for enrichment, by the name the instance gives it; `None` means the
    /// instance's default. The store keeps the name only: which names exist is the instance's configuration.
    #[serde(default)]
    pub analyzer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub email: String,
    pub role: Role,
}

/// A refresh token as issued; `hash` is the SHA-256 (hex) of the secret handed to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub hash: String,
    pub user: String,
    /// All tokens rotated from one login share a family; reuse of any revokes all.
    pub family: String,
    pub expires_ms: Millis,
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now spent: issue the next token in `family`.
    Rotated { user: String, family: String },
    /// Already spent: a replay or a theft, so the family has now been revoked.
    Reused,
    /// Revoked before it was ever used (signed out, or its family revoked after a reuse): not a reuse, just over.
    Revoked,
    /// Unknown or expired.
    Invalid,
}

/// An API key, without its secret. Keys belong to a project and act for the user who made them, capped by `role`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub project: String,
    pub user: String,
    pub name: String,
    /// The first characters of the key, shown so people can tell keys apart.
    pub prefix: String,
    /// The most the key may do; the maker's own role still applies.
    pub role: Role,
    pub created_ms: Millis,
    pub revoked_ms: Option<Millis>,
    /// When the key was last used, to within a minute (see [`Accounts::touch_api_key`]); `None` until used.
    #[serde(default)]
    pub last_used_ms: Option<Millis>,
}

#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates a user; `Ok(None)` when the e-mail address is taken.
    async fn create_user(&self, user: &User) -> Result<Option<User>>;
    async fn user(&self, id: &str) -> Result<Option<User>>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    async fn user_count(&self) -> Result<i64>;

    /// Creates a project with `owner` as its first member (role owner), in one transaction.
    async fn create_project(&self, project: &Project, owner: &str) -> Result<()>;
    async fn project(&self, id: &str) -> Result<Option<Project>>;
    /// Writes a project's name and settings (`created_ms` stays); false when there is no such project.
    async fn update_project(&self, project: &Project) -> Result<bool>;
    /// The projects `user` is a member of, with their role, by name.
    async fn projects_of(&self, user: &str) -> Result<Vec<(Project, Role)>>;
    /// Every project (instance administrators).
    async fn all_projects(&self) -> Result<Vec<Project>>;
    /// `user`'s role in `project`, or `None` when not a member.
    async fn role(&self, project: &str, user: &str) -> Result<Option<Role>>;
    /// Adds or changes a member; `None` removes them. Returns false when the user or project does not exist.
    async fn set_member(&self, project: &str, user: &str, role: Option<Role>) -> Result<bool>;
    async fn members(&self, project: &str) -> Result<Vec<Member>>;

    async fn insert_refresh_token(&self, token: &NewRefreshToken, now: Millis) -> Result<()>;
    /// Spends a refresh token atomically (two concurrent uses: one rotates, the other is reuse).
    async fn use_refresh_token(&self, hash: &str, now: Millis) -> Result<RefreshUse>;
    /// Revokes every refresh token of `user` (log out everywhere); returns how many were live.
    async fn revoke_refresh_tokens(&self, user: &str, now: Millis) -> Result<u64>;

    /// Stores a key whose secret hashes (SHA-256, hex) to `hash`.
    async fn create_api_key(&self, key: &ApiKey, hash: &str) -> Result<()>;
    /// A live (not revoked) key by the hash of its secret.
    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;
    async fn api_keys(&self, project: &str) -> Result<Vec<ApiKey>>;
    /// Records that the key was used at `now`. The time only moves forward, so concurrent writers (several API
    /// processes) leave the latest.
    async fn touch_api_key(&self, id: &str, now: Millis) -> Result<()>;
    /// Revokes a key of `project`; false when there is no such live key.
    async fn revoke_api_key(&self, project: &str, id: &str, now: Millis) -> Result<bool>;
}
