//! Accounts, projects and credentials on SQLite (see `migrations/sqlite/0003_accounts.sql`).
//!
//! Reads go to the reader pool; single-statement writes go to the one writer connection, and changes of several
//! statements run in a `BEGIN IMMEDIATE` transaction, as everywhere in this back end.

use super::SqliteStore;
use crate::rows::{api_key_from_row, parse_role, project_from_row, user_from_row, API_KEY_COLUMNS, USER_COLUMNS};
use crate::{Accounts, ApiKey, Member, NewRefreshToken, Project, RefreshUse, Result, Role, User};
use async_trait::async_trait;
use bindery_core::time::Millis;
use sqlx::Row;

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(&self, user: &User) -> Result<Option<User>> {
        let user = User { email: user.email.to_lowercase(), ..user.clone() };
        // A taken address is an expected outcome (sign-up races included),
        // so it is a conflict the statement absorbs rather than an error.
        let r = sqlx::query(
            "INSERT INTO users (id, email, password_hash, admin, created_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.admin)
        .bind(user.created_ms)
        .execute(&self.writer)
        .await?;
        Ok((r.rows_affected() == 1).then_some(user))
    }

    async fn user(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await?;
        row.map(|r| user_from_row!(&r)).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?");
        let row = sqlx::query(&sql).bind(email.to_lowercase()).fetch_optional(&self.reader).await?;
        row.map(|r| user_from_row!(&r)).transpose()
    }

    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.reader).await?)
    }

    async fn create_project(&self, project: &Project, owner: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO projects (id, name, created_ms, analyzer) VALUES (?, ?, ?, ?)")
            .bind(&project.id)
            .bind(&project.name)
            .bind(project.created_ms)
            .bind(&project.analyzer)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO members (project, user_id, role) VALUES (?, ?, ?)")
            .bind(&project.id)
            .bind(owner)
            .bind(Role::Owner.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn project(&self, id: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, created_ms, analyzer FROM projects WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| project_from_row!(&r)).transpose()
    }

    async fn update_project(&self, project: &Project) -> Result<bool> {
        let r = sqlx::query("UPDATE projects SET name = ?, analyzer = ? WHERE id = ?")
            .bind(&project.name)
            .bind(&project.analyzer)
            .bind(&project.id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn projects_of(&self, user: &str) -> Result<Vec<(Project, Role)>> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.created_ms, p.analyzer, m.role FROM members m JOIN projects p ON p.id = m.project \
             WHERE m.user_id = ? ORDER BY p.name, p.id",
        )
        .bind(user)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok((project_from_row!(r)?, parse_role(r.try_get("role")?)?))).collect()
    }

    async fn all_projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query("SELECT id, name, created_ms, analyzer FROM projects ORDER BY name, id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| project_from_row!(r)).collect()
    }

    async fn role(&self, project: &str, user: &str) -> Result<Option<Role>> {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM members WHERE project = ? AND user_id = ?")
            .bind(project)
            .bind(user)
            .fetch_optional(&self.reader)
            .await?;
        role.as_deref().map(parse_role).transpose()
    }

    async fn set_member(&self, project: &str, user: &str, role: Option<Role>) -> Result<bool> {
        let r = match role {
            // The existence checks make an unknown user or project a plain
            // `false` instead of a foreign key error.
            Some(role) => {
                sqlx::query(
                    "INSERT INTO members (project, user_id, role) SELECT ?1, ?2, ?3 \
                     WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?1) AND EXISTS (SELECT 1 FROM users WHERE id = ?2) \
                     ON CONFLICT (project, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(project)
                .bind(user)
                .bind(role.as_str())
                .execute(&self.writer)
                .await?
            }
            None => {
                sqlx::query("DELETE FROM members WHERE project = ? AND user_id = ?")
                    .bind(project)
                    .bind(user)
                    .execute(&self.writer)
                    .await?
            }
        };
        Ok(r.rows_affected() == 1)
    }

    async fn members(&self, project: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, m.role FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.project = ? ORDER BY u.email",
        )
        .bind(project)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user: r.try_get("user_id")?,
                    email: r.try_get("email")?,
                    role: parse_role(r.try_get("role")?)?,
                })
            })
            .collect()
    }

    async fn insert_refresh_token(&self, token: &NewRefreshToken, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, user_id, family, expires_ms, created_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.hash)
        .bind(&token.user)
        .bind(&token.family)
        .bind(token.expires_ms)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn use_refresh_token(&self, hash: &str, now: Millis) -> Result<RefreshUse> {
        // One writer transaction: the conditional UPDATE spends the token at
        // most once, even when another process shares the file.
        let mut tx = self.begin().await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_ms = ?1 \
             WHERE hash = ?2 AND used_ms IS NULL AND revoked_ms IS NULL AND expires_ms > ?1 \
             RETURNING user_id, family",
        )
        .bind(now)
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = spent {
            let out = RefreshUse::Rotated { user: row.try_get("user_id")?, family: row.try_get("family")? };
            tx.commit().await?;
            return Ok(out);
        }
        let found: Option<(String, bool)> = sqlx::query_as(
            "SELECT family, used_ms IS NOT NULL AS spent FROM refresh_tokens \
             WHERE hash = ? AND (used_ms IS NOT NULL OR revoked_ms IS NOT NULL)",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((family, spent)) = found else {
            // Unknown, or expired but never spent: nothing suggests theft.
            return Ok(RefreshUse::Invalid);
        };
        if !spent {
            // Revoked before any use (signed out, or its family ended by a reuse): over, but no sign of theft.
            return Ok(RefreshUse::Revoked);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_ms = ? WHERE family = ? AND revoked_ms IS NULL")
            .bind(now)
            .bind(&family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefreshUse::Reused)
    }

    async fn revoke_refresh_tokens(&self, user: &str, now: Millis) -> Result<u64> {
        // Only tokens that could still be used are counted (and need
        // revoking): a spent token presented again is reuse anyway, and an
        // expired one is invalid.
        let r = sqlx::query(
            "UPDATE refresh_tokens SET revoked_ms = ?1 \
             WHERE user_id = ?2 AND revoked_ms IS NULL AND used_ms IS NULL AND expires_ms > ?1",
        )
        .bind(now)
        .bind(user)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    async fn create_api_key(&self, key: &ApiKey, hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, hash, project, user_id, name, prefix, role, created_ms, revoked_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(hash)
        .bind(&key.project)
        .bind(&key.user)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(key.role.as_str())
        .bind(key.created_ms)
        .bind(key.revoked_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE hash = ? AND revoked_ms IS NULL");
        let row = sqlx::query(&sql).bind(hash).fetch_optional(&self.reader).await?;
        row.map(|r| api_key_from_row!(&r)).transpose()
    }

    async fn api_keys(&self, project: &str) -> Result<Vec<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE project = ? ORDER BY created_ms DESC, id DESC");
        let rows = sqlx::query(&sql).bind(project).fetch_all(&self.reader).await?;
        rows.iter().map(|r| api_key_from_row!(r)).collect()
    }

    async fn touch_api_key(&self, id: &str, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_ms = ?1 WHERE id = ?2 AND (last_used_ms IS NULL OR last_used_ms < ?1)",
        )
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&self, project: &str, id: &str, now: Millis) -> Result<bool> {
        let r = sqlx::query("UPDATE api_keys SET revoked_ms = ? WHERE project = ? AND id = ? AND revoked_ms IS NULL")
            .bind(now)
            .bind(project)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
