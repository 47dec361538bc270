//! Invitations to projects: how people become members.
//!
//! An owner invites an e-mail address; the person with that address sees the invitation once signed in and accepts
//! or declines it. Nothing here tells the owner whether the address has an account: an invitation is stored the same
//! way either way, and waits (until it expires) for an account to claim it. That is what closes the existence oracle
//! that adding members by address directly had.
//!
//! The SQL is written once, for both back ends: the statements use only what SQLite and PostgreSQL agree on (`$n`
//! parameters, which sqlx binds by number on SQLite too, `ON CONFLICT … DO UPDATE`, `RETURNING`), and one macro
//! implements the trait for each store over its own pools.

use crate::{Result, Role};
use async_trait::async_trait;
use bindery_core::time::Millis;
use serde::{Deserialize, Serialize};

/// A pending invitation, with the names a person needs to decide on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub project: String,
    pub project_name: String,
    /// Lower-cased, as accounts' addresses are.
    pub email: String,
    pub role: Role,
    /// The address of the owner who invited, while their account exists.
    pub invited_by: Option<String>,
    pub created_ms: Millis,
    pub expires_ms: Millis,
}

/// What an owner asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvitation {
    /// Used only when the address has no pending invitation to the project yet; a renewed one keeps its id.
    pub id: String,
    pub project: String,
    pub email: String,
    pub role: Role,
    /// The inviting user's id.
    pub invited_by: String,
    pub created_ms: Millis,
    pub expires_ms: Millis,
}

/// What accepting an invitation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The caller is now a member with this role.
    Joined { project: String, role: Role },
    /// The caller was already a member; their role is unchanged (an invitation never demotes nor promotes).
    AlreadyMember { project: String, role: Role },
}

#[async_trait]
pub trait Invitations: Send + Sync {
    /// Invites an address, or renews its pending invitation to the same project (new role, inviter and expiry, same
    /// id). Invitations of the project that have expired by `created_ms` are removed first. `None` when the
    /// project does not exist.
    async fn invite(&self, invitation: &NewInvitation) -> Result<Option<Invitation>>;
    /// A project's pending invitations, oldest first.
    async fn project_invitations(&self, project: &str, now: Millis) -> Result<Vec<Invitation>>;
    /// The pending invitations addressed to `email`, oldest first.
    async fn invitations_for(&self, email: &str, now: Millis) -> Result<Vec<Invitation>>;
    /// Accepts the pending invitation `id` addressed to `email`, for the user `user` (whose address it is), in
    /// one transaction: the invitation goes, the membership comes. `None` when there is no such pending invitation
    /// for that address (someone else's, expired, declined, revoked, or never made: the caller cannot tell which).
    async fn accept_invitation(&self, id: &str, email: &str, user: &str, now: Millis) -> Result<Option<Accepted>>;
    /// Declines (deletes) the invitation `id` addressed to `email`; false when there is none.
    async fn decline_invitation(&self, id: &str, email: &str) -> Result<bool>;
    /// Revokes (deletes) the invitation `id` of `project`; false when there is none.
    async fn revoke_invitation(&self, project: &str, id: &str) -> Result<bool>;
}

/// The columns every read returns, in the order [`invitation_from_row`] decodes.
const SELECT: &str = "SELECT i.id, i.project, p.name AS project_name, i.email, i.role, u.email AS invited_by, \
                      i.created_ms, i.expires_ms \
                      FROM invitations i JOIN projects p ON p.id = i.project LEFT JOIN users u ON u.id = i.invited_by";

pub(crate) const PURGE_EXPIRED: &str = "DELETE FROM invitations WHERE project = $1 AND expires_ms <= $2";

/// Inserts, or renews the pending invitation of the same address; nothing when the project does not exist (no
/// foreign-key error: a missing project is an answer, not a failure).
pub(crate) const UPSERT: &str =
    "INSERT INTO invitations (id, project, email, role, invited_by, created_ms, expires_ms) \
     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2) \
     ON CONFLICT (project, email) DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by, \
     created_ms = EXCLUDED.created_ms, expires_ms = EXCLUDED.expires_ms \
     RETURNING id";

pub(crate) fn by_id() -> String {
    format!("{SELECT} WHERE i.id = $1")
}

pub(crate) fn of_project() -> String {
    format!("{SELECT} WHERE i.project = $1 AND i.expires_ms > $2 ORDER BY i.created_ms, i.id")
}

pub(crate) fn for_email() -> String {
    format!("{SELECT} WHERE i.email = $1 AND i.expires_ms > $2 ORDER BY i.created_ms, i.id")
}

pub(crate) const TAKE: &str =
    "DELETE FROM invitations WHERE id = $1 AND email = $2 AND expires_ms > $3 RETURNING project, role";

/// Joins unless already a member; then the role stays what it was.
pub(crate) const JOIN: &str = "INSERT INTO members (project, user_id, role) VALUES ($1, $2, $3) \
     ON CONFLICT (project, user_id) DO NOTHING";

pub(crate) const ROLE: &str = "SELECT role FROM members WHERE project = $1 AND user_id = $2";

pub(crate) const DECLINE: &str = "DELETE FROM invitations WHERE id = $1 AND email = $2";

pub(crate) const REVOKE: &str = "DELETE FROM invitations WHERE project = $1 AND id = $2";

/// Decodes a row of [`SELECT`].
macro_rules! invitation_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::Invitation {
            id: row.try_get("id")?,
            project: row.try_get("project")?,
            project_name: row.try_get("project_name")?,
            email: row.try_get("email")?,
            role: $crate::rows::parse_role(row.try_get("role")?)?,
            invited_by: row.try_get("invited_by")?,
            created_ms: row.try_get("created_ms")?,
            expires_ms: row.try_get("expires_ms")?,
        })
    }};
}
pub(crate) use invitation_from_row;

/// Implements [`Invitations`] for a store, given how it reads (`$read`: a pool), writes one statement (`$write`)
/// and begins a transaction (`$begin`). Both back ends expand the same bodies, so the logic exists once.
macro_rules! impl_invitations {
    ($store:ty, read: |$r:ident| $read:expr, write: |$w:ident| $write:expr, begin: |$b:ident| $begin:expr) => {
        #[async_trait::async_trait]
        impl $crate::Invitations for $store {
            async fn invite(&self, new: &$crate::NewInvitation) -> $crate::Result<Option<$crate::Invitation>> {
                let $b = self;
                let mut tx = $begin.await?;
                sqlx::query($crate::invitations::PURGE_EXPIRED)
                    .bind(&new.project)
                    .bind(new.created_ms)
                    .execute(&mut *tx)
                    .await?;
                let id: Option<String> = sqlx::query_scalar($crate::invitations::UPSERT)
                    .bind(&new.id)
                    .bind(&new.project)
                    .bind(new.email.to_lowercase())
                    .bind(new.role.as_str())
                    .bind(&new.invited_by)
                    .bind(new.created_ms)
                    .bind(new.expires_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(id) = id else { return Ok(None) };
                let row = sqlx::query(&$crate::invitations::by_id()).bind(&id).fetch_one(&mut *tx).await?;
                let invitation = $crate::invitations::invitation_from_row!(&row)?;
                tx.commit().await?;
                Ok(Some(invitation))
            }

            async fn project_invitations(
                &self,
                project: &str,
                now: bindery_core::time::Millis,
            ) -> $crate::Result<Vec<$crate::Invitation>> {
                let $r = self;
                let sql = $crate::invitations::of_project();
                let rows = sqlx::query(&sql).bind(project).bind(now).fetch_all($read).await?;
                rows.iter().map(|row| $crate::invitations::invitation_from_row!(row)).collect()
            }

            async fn invitations_for(
                &self,
                email: &str,
                now: bindery_core::time::Millis,
            ) -> $crate::Result<Vec<$crate::Invitation>> {
                let $r = self;
                let sql = $crate::invitations::for_email();
                let rows = sqlx::query(&sql).bind(email.to_lowercase()).bind(now).fetch_all($read).await?;
                rows.iter().map(|row| $crate::invitations::invitation_from_row!(row)).collect()
            }

            async fn accept_invitation(
                &self,
                id: &str,
                email: &str,
                user: &str,
                now: bindery_core::time::Millis,
            ) -> $crate::Result<Option<$crate::Accepted>> {
                use sqlx::Row as _;
                let $b = self;
                let mut tx = $begin.await?;
                let taken = sqlx::query($crate::invitations::TAKE)
                    .bind(id)
                    .bind(email.to_lowercase())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(taken) = taken else { return Ok(None) };
                let project: String = taken.try_get("project")?;
                let role = $crate::rows::parse_role(taken.try_get("role")?)?;
                let joined = sqlx::query($crate::invitations::JOIN)
                    .bind(&project)
                    .bind(user)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                let accepted = if joined {
                    $crate::Accepted::Joined { project, role }
                } else {
                    let role: String = sqlx::query_scalar($crate::invitations::ROLE)
                        .bind(&project)
                        .bind(user)
                        .fetch_one(&mut *tx)
                        .await?;
                    $crate::Accepted::AlreadyMember { project, role: $crate::rows::parse_role(&role)? }
                };
                tx.commit().await?;
                Ok(Some(accepted))
            }

            async fn decline_invitation(&self, id: &str, email: &str) -> $crate::Result<bool> {
                let $w = self;
                let r = sqlx::query($crate::invitations::DECLINE)
                    .bind(id)
                    .bind(email.to_lowercase())
                    .execute($write)
                    .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn revoke_invitation(&self, project: &str, id: &str) -> $crate::Result<bool> {
                let $w = self;
                let r = sqlx::query($crate::invitations::REVOKE).bind(project).bind(id).execute($write).await?;
                Ok(r.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use impl_invitations;
