//! Turning a store URL into a configured `object_store` backend.
//!
//! Operators configure blob storage with a single string, so this module owns
//! the mapping from that string (a folder, `file://` or `s3://` URL) plus a few
//! environment variables to a concrete backend. Environment lookup goes
//! through a closure so tests can inject settings without mutating the
//! process environment.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use crate::BlobError;

/// Settings for an S3-compatible backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// Bucket name.
    pub bucket: String,
    /// Optional key prefix inside the bucket, without leading or trailing slashes.
    pub prefix: Option<String>,
    /// Custom endpoint such as `http://127.0.0.1:9000`; AWS is used when absent.
    pub endpoint: Option<String>,
    /// Region used for request signing.
    pub region: String,
    /// Access key id; when absent the AWS default credential chain applies.
    pub access_key_id: Option<String>,
    /// Secret access key matching `access_key_id`.
    pub secret_access_key: Option<String>,
}

impl S3Options {
    /// Reads endpoint, region and credentials through `env`.
    ///
    /// The endpoint comes from `BINDERY_S3_ENDPOINT` or `AWS_ENDPOINT_URL`, the
    /// region from `AWS_REGION` (default `us-east-1`) and the credentials from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn from_env_with(bucket: &str, prefix: Option<String>, env: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
        S3Options {
            bucket: bucket.to_string(),
            prefix,
            endpoint: non_empty("BINDERY_S3_ENDPOINT").or_else(|| non_empty("AWS_ENDPOINT_URL")),
            region: non_empty("AWS_REGION").unwrap_or_else(|| "us-east-1".to_string()),
            access_key_id: non_empty("AWS_ACCESS_KEY_ID"),
            secret_access_key: non_empty("AWS_SECRET_ACCESS_KEY"),
        }
    }

    /// Builds the S3 client with path-style addressing, which every
    /// S3-compatible server supports.
    pub(crate) fn build(&self) -> Result<Arc<dyn ObjectStore>, BlobError> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key_id) = &self.access_key_id {
            builder = builder.with_access_key_id(key_id);
        }
        if let Some(secret) = &self.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|err| BlobError::InvalidUrl(format!("cannot configure S3 bucket {:?}: {err}", self.bucket)))?;
        Ok(Arc::new(store))
    }
}

/// What a store URL resolved to, before any backend is built.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A directory on the local filesystem.
    Local(PathBuf),
    /// An S3 bucket with an optional prefix.
    S3 { bucket: String, prefix: Option<String> },
}

/// Parses a plain path, a `file://` URL or an `s3://bucket/prefix` URL.
pub(crate) fn parse_location(raw: &str) -> Result<Location, BlobError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(BlobError::InvalidUrl("the store url is empty".into()));
    }
    let Some((scheme, _)) = raw.split_once("://") else {
        return Ok(Location::Local(PathBuf::from(raw)));
    };
    let invalid = |why: String| BlobError::InvalidUrl(format!("{raw:?}: {why}"));
    let url = url::Url::parse(raw).map_err(|err| invalid(err.to_string()))?;
    match scheme.to_ascii_lowercase().as_str() {
        "file" => url
            .to_file_path()
            .map(Location::Local)
            .map_err(|()| invalid("file urls must hold an absolute local path".into())),
        "s3" => {
            let bucket = url.host_str().unwrap_or_default().to_string();
            if bucket.is_empty() {
                return Err(invalid("s3 urls must name a bucket, like s3://bucket/prefix".into()));
            }
            let prefix = url.path().trim_matches('/');
            let prefix = (!prefix.is_empty()).then(|| prefix.to_string());
            if let Some(prefix) = &prefix {
                crate::validate_key(prefix).map_err(|err| invalid(err.to_string()))?;
            }
            Ok(Location::S3 { bucket, prefix })
        }
        other => {
            Err(invalid(format!("unsupported scheme {other:?}; use a folder path, file:///path or s3://bucket/prefix")))
        }
    }
}

/// Opens (and creates if needed) a local directory as an object store.
pub(crate) fn local_store(root: &std::path::Path) -> Result<Arc<dyn ObjectStore>, BlobError> {
    std::fs::create_dir_all(root)?;
    let store = LocalFileSystem::new_with_prefix(root)
        .map_err(|err| BlobError::InvalidUrl(format!("cannot use {} as blob store: {err}", root.display())))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_locations() {
        assert_eq!(parse_location("./data").unwrap(), Location::Local("./data".into()));
        assert_eq!(parse_location("file:///srv/blobs").unwrap(), Location::Local("/srv/blobs".into()));
        assert_eq!(
            parse_location("s3://bucket/a/b/").unwrap(),
            Location::S3 { bucket: "bucket".into(), prefix: Some("a/b".into()) }
        );
        assert_eq!(parse_location("s3://bucket").unwrap(), Location::S3 { bucket: "bucket".into(), prefix: None });
    }

    #[test]
    fn rejects_unsupported_locations() {
        for raw in ["", "gs://bucket", "s3:///prefix", "file://host/x"] {
            assert!(matches!(parse_location(raw), Err(BlobError::InvalidUrl(_))), "{raw:?}");
        }
    }

    #[test]
    fn reads_s3_settings_from_env() {
        let env = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000".to_string()),
            "AWS_ACCESS_KEY_ID" => Some("id".to_string()),
            _ => None,
        };
        let options = S3Options::from_env_with("b", None, env);
        assert_eq!(options.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(options.region, "us-east-1");
        assert_eq!(options.access_key_id.as_deref(), Some("id"));
        assert_eq!(options.secret_access_key, None);
    }
}
