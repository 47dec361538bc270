//! The `BlobStore` handle and its small, single-request operations.
//!
//! Everything here is one round trip to the backend (or a head plus one),
//! so the code stays obvious. The streaming upload path, which needs more
//! care, lives in `streaming.rs`.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};

use crate::config::{self, Location};
use crate::{content_key, validate_key, BlobError, S3Options};

/// A cheap-to-clone handle to a blob backend.
#[derive(Clone)]
pub struct BlobStore {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: Option<String>,
    description: String,
}

/// The result of storing a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The content-addressed key, `sha256/<64 hex>`.
    pub key: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// Size of the content in bytes.
    pub bytes: u64,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("location", &self.description).finish()
    }
}

impl BlobStore {
    /// Opens a store from a folder path, a `file://` URL or an `s3://` URL.
    ///
    /// S3 settings come from the process environment, see [`S3Options::from_env_with`].
    pub fn from_url(url: &str) -> Result<BlobStore, BlobError> {
        Self::from_url_with_env(url, |name| std::env::var(name).ok())
    }

    /// Like [`BlobStore::from_url`], but reads S3 settings through `env`.
    pub fn from_url_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<BlobStore, BlobError> {
        match config::parse_location(url)? {
            Location::Local(root) => Ok(BlobStore {
                store: config::local_store(&root)?,
                prefix: None,
                description: format!("local folder {}", root.display()),
            }),
            Location::S3 { bucket, prefix } => Self::from_s3(S3Options::from_env_with(&bucket, prefix, env)),
        }
    }

    /// Opens an S3-compatible bucket with explicit settings.
    pub fn from_s3(options: S3Options) -> Result<BlobStore, BlobError> {
        if let Some(prefix) = &options.prefix {
            validate_key(prefix)?;
        }
        let endpoint = options.endpoint.as_deref().unwrap_or("aws");
        let description = match &options.prefix {
            Some(prefix) => format!("s3://{}/{} via {endpoint}", options.bucket, prefix),
            None => format!("s3://{} via {endpoint}", options.bucket),
        };
        Ok(BlobStore { store: options.build()?, prefix: options.prefix, description })
    }

    /// Wraps an existing backend, for callers that configure `object_store` themselves.
    pub fn from_object_store(store: Arc<dyn ObjectStore>, prefix: Option<String>) -> Result<BlobStore, BlobError> {
        if let Some(prefix) = &prefix {
            validate_key(prefix)?;
        }
        let description = format!("{store} prefix {}", prefix.as_deref().unwrap_or("(none)"));
        Ok(BlobStore { store, prefix, description })
    }

    /// A human-readable location for logs; never contains credentials.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// Maps a validated key to the backend path, applying the prefix.
    pub(crate) fn path(&self, key: &str) -> Result<Path, BlobError> {
        validate_key(key)?;
        let full = match &self.prefix {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_string(),
        };
        Path::parse(&full).map_err(|err| BlobError::InvalidKey(format!("{key:?}: {err}")))
    }

    /// Stores an in-memory buffer under its content key.
    ///
    /// The write is skipped when an object of the same size already exists,
    /// so re-running a stage does not re-upload identical output.
    pub async fn put_bytes(&self, data: Bytes) -> Result<Stored, BlobError> {
        let sha256 = hex::encode(Sha256::digest(&data));
        let stored = Stored { key: content_key(&sha256), sha256, bytes: data.len() as u64 };
        if self.head(&stored.key).await? != Some(stored.bytes) {
            let path = self.path(&stored.key)?;
            self.store.put(&path, data.into()).await?;
        }
        Ok(stored)
    }

    /// Writes `data` under a key the caller chooses, replacing what was there (the write is atomic on both back ends:
    /// a reader sees the old object or the new one, never a part). For caches and small records that are found by
    /// name rather than by content; everything a document produces goes through [`BlobStore::put_bytes`].
    pub async fn put_at(&self, key: &str, data: Bytes) -> Result<(), BlobError> {
        let path = self.path(key)?;
        self.store.put(&path, data.into()).await?;
        Ok(())
    }

    /// Returns the object size, or `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Reads a whole object into memory, refusing objects above `max_bytes`.
    pub async fn get_bytes(&self, key: &str, max_bytes: u64) -> Result<Bytes, BlobError> {
        match self.head(key).await? {
            None => return Err(BlobError::NotFound(key.to_string())),
            Some(size) if size > max_bytes => return Err(BlobError::TooLarge { limit: max_bytes }),
            Some(_) => {}
        }
        let data = self.store.get(&self.path(key)?).await?.bytes().await?;
        // The object could have been replaced between head and get.
        if data.len() as u64 > max_bytes {
            return Err(BlobError::TooLarge { limit: max_bytes });
        }
        Ok(data)
    }

    /// Streams an object in backend-sized chunks without buffering it whole.
    pub async fn get_stream(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let result = self.store.get(&self.path(key)?).await?;
        Ok(result.into_stream().map_err(BlobError::from).boxed())
    }

    /// Streams bytes `range` (end exclusive) of an object, for HTTP `Range` requests; the caller has checked the
    /// range against the object's size.
    pub async fn get_range_stream(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let opts = object_store::GetOptions { range: Some(range.into()), ..Default::default() };
        let result = self.store.get_opts(&self.path(key)?, opts).await?;
        Ok(result.into_stream().map_err(BlobError::from).boxed())
    }

    /// Deletes an object; deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Lists the keys under `prefix` (relative to the store prefix; "" lists all).
    ///
    /// Intended for maintenance tasks such as garbage collection and audits.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let base = match (&self.prefix, prefix.trim_end_matches('/')) {
            (None, "") => None,
            (Some(own), "") => Some(Path::parse(own).map_err(|e| BlobError::InvalidKey(e.to_string()))?),
            (_, sub) => Some(self.path(sub)?),
        };
        let metas: Vec<_> = self.store.list(base.as_ref()).try_collect().await?;
        let strip = self.prefix.as_ref().map(|p| format!("{p}/"));
        let mut keys: Vec<String> = metas
            .into_iter()
            .map(|meta| {
                let full = meta.location.to_string();
                match &strip {
                    Some(strip) => full.strip_prefix(strip.as_str()).unwrap_or(&full).to_string(),
                    None => full,
                }
            })
            .collect();
        keys.sort();
        Ok(keys)
    }
}
