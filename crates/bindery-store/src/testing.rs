//! Test harness: a fresh store per test, on either back end.
//!
//! SQLite tests get a file in a temporary directory. PostgreSQL tests get a
//! new schema in the database named by `BINDERY_TEST_DATABASE_URL`, selected
//! through the connection's `search_path`, so tests never see each other's
//! rows and can run in parallel. Without that variable PostgreSQL tests are
//! skipped with a message, except under CI (`CI` set), where that is an error.

use crate::{connect, DynStore};

pub const DATABASE_ENV: &str = "BINDERY_TEST_DATABASE_URL";

/// Prefix of every schema the tests create; `.ci/run` drops leftovers.
pub const SCHEMA_PREFIX: &str = "bt_";

/// A SQLite store in a temporary directory, removed when `TempDir` drops.
pub async fn sqlite() -> (DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    (connect(&url).await.expect("open sqlite"), dir)
}

pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}/bindery.db?mode=rwc", dir.display())
}

/// The URL of a fresh, empty schema, or `None` (after printing why) when no
/// test database is configured outside CI.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var(DATABASE_ENV) else {
        if std::env::var_os("CI").is_some() {
            panic!("{DATABASE_ENV} must be set under CI (.ci/run sets it)");
        }
        eprintln!("skipping PostgreSQL test: {DATABASE_ENV} is not set");
        return None;
    };
    let schema = format!("{SCHEMA_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&base).await.expect("connect to the test database");
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.expect("create schema");
    pool.close().await;
    let mut url = url::Url::parse(&base).expect("valid test database URL");
    url.query_pairs_mut().append_pair("options", &format!("-c search_path={schema}"));
    Some(url.to_string())
}

/// A PostgreSQL store on a fresh schema, or `None` when not configured.
pub async fn postgres() -> Option<DynStore> {
    let url = postgres_url().await?;
    Some(connect(&url).await.expect("open postgres"))
}

/// Declares each named `async fn(DynStore)` in the calling module as two tests, `sqlite::NAME` on a fresh SQLite
/// file and `postgres::NAME` on a fresh PostgreSQL schema (skipped when `BINDERY_TEST_DATABASE_URL` is unset): how
/// every contract suite runs one body against both back ends.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _dir) = bindery_store::testing::sqlite().await;
                super::$name(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = bindery_store::testing::postgres().await {
                    super::$name(store).await;
                }
            })*
        }
    };
}
