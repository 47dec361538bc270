//! Streaming uploads of inputs that may not fit in memory.
//!
//! The content key is only known after the last byte has been hashed, so the
//! data is first uploaded to a unique temporary key with a multipart upload
//! and then moved to `sha256/<hex>`. Memory stays bounded by a few parts no
//! matter how large the input is. Every failure path aborts the upload and
//! removes the temporary object, so interrupted uploads do not leak storage.

use bytes::{Bytes, BytesMut};
use object_store::path::Path;
use object_store::{MultipartUpload, PutPayloadMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use crate::key::temp_key;
use crate::{content_key, BlobError, BlobStore, Stored};

/// Size of each read from the input.
const READ_CHUNK: usize = 1024 * 1024;

/// Size of each uploaded part. S3 requires at least 5 MiB for all parts but
/// the last and allows 10,000 parts, so 8 MiB parts cap an upload at ~80 GB.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts uploaded concurrently; together with `PART_SIZE` this bounds memory.
const MAX_PARTS_IN_FLIGHT: usize = 2;

impl BlobStore {
    /// Streams `reader` into the store under its content key.
    ///
    /// Fails with [`BlobError::TooLarge`] as soon as more than `max_bytes`
    /// have been read, leaving nothing behind in the store.
    pub async fn put_reader<R>(&self, mut reader: R, max_bytes: Option<u64>) -> Result<Stored, BlobError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let temp = self.path(&temp_key())?;
        let mut upload = PartUploader::new(self.store.put_multipart(&temp).await?);
        let outcome = match copy_and_hash(&mut reader, &mut upload, max_bytes).await {
            Ok(stored) => upload.finish().await.map(|()| stored),
            Err(err) => Err(err),
        };
        let stored = match outcome {
            Ok(stored) => stored,
            Err(err) => {
                upload.abort().await;
                self.remove_temp(&temp).await;
                return Err(err);
            }
        };
        if let Err(err) = self.promote(&temp, &stored).await {
            self.remove_temp(&temp).await;
            return Err(err);
        }
        Ok(stored)
    }

    /// Streams a local file into the store under its content key.
    pub async fn put_file(&self, path: &std::path::Path) -> Result<Stored, BlobError> {
        let file = tokio::fs::File::open(path).await?;
        self.put_reader(file, None).await
    }

    /// Streams the object at `key` into a new local file at `path`, so
    /// parsers that want a file (MuPDF) read one without the object ever
    /// being held in memory, whatever the store is. Returns the bytes written.
    pub async fn get_file(&self, key: &str, path: &std::path::Path) -> Result<u64, BlobError> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let mut out = tokio::fs::File::create(path).await?;
        let mut stream = self.get_stream(key).await?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        Ok(written)
    }

    /// Moves a finished temporary object to its content key.
    ///
    /// When identical content is already stored the temporary copy is simply
    /// dropped, which keeps re-runs cheap and avoids rewriting live objects.
    async fn promote(&self, temp: &Path, stored: &Stored) -> Result<(), BlobError> {
        if self.head(&stored.key).await? == Some(stored.bytes) {
            self.store.delete(temp).await?;
        } else {
            self.store.rename(temp, &self.path(&stored.key)?).await?;
        }
        Ok(())
    }

    /// Deletes a temporary object, logging instead of failing: the caller is
    /// already reporting a more useful error.
    async fn remove_temp(&self, temp: &Path) {
        match self.store.delete(temp).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(err) => tracing::warn!(%temp, error = %err, "could not remove temporary blob"),
        }
    }
}

/// Reads `reader` to the end, hashing and uploading every chunk.
async fn copy_and_hash<R>(
    reader: &mut R,
    upload: &mut PartUploader,
    max_bytes: Option<u64>,
) -> Result<Stored, BlobError>
where
    R: AsyncRead + Unpin + Send,
{
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    loop {
        let chunk = read_chunk(reader).await?;
        if chunk.is_empty() {
            break;
        }
        total += chunk.len() as u64;
        if let Some(limit) = max_bytes {
            if total > limit {
                return Err(BlobError::TooLarge { limit });
            }
        }
        hasher.update(&chunk);
        upload.push(chunk).await?;
    }
    let sha256 = hex::encode(hasher.finalize());
    Ok(Stored { key: content_key(&sha256), sha256, bytes: total })
}

/// Reads up to `READ_CHUNK` bytes, filling the buffer completely unless the
/// input ends. Filling matters: freezing a mostly empty buffer would pin a
/// whole chunk of memory for a few bytes of data.
async fn read_chunk<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Bytes, BlobError> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    while buf.len() < READ_CHUNK {
        if reader.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

/// Drives a multipart upload with bounded concurrency.
///
/// `object_store::WriteMultipart` consumes itself on `finish`, so a part that
/// fails during `finish` can no longer be aborted. Owning the upload here keeps
/// `abort` possible on every path.
struct PartUploader {
    upload: Box<dyn MultipartUpload>,
    pending: PutPayloadMut,
    in_flight: JoinSet<object_store::Result<()>>,
}

impl PartUploader {
    fn new(upload: Box<dyn MultipartUpload>) -> Self {
        PartUploader { upload, pending: PutPayloadMut::new(), in_flight: JoinSet::new() }
    }

    /// Buffers a chunk and starts a part upload once a full part is ready.
    async fn push(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.pending.push(chunk);
        if self.pending.content_length() >= PART_SIZE {
            self.start_part().await?;
        }
        Ok(())
    }

    /// Waits for a free slot, then uploads the buffered data as one part.
    async fn start_part(&mut self) -> Result<(), BlobError> {
        while self.in_flight.len() >= MAX_PARTS_IN_FLIGHT {
            self.wait_one().await?;
        }
        let part = std::mem::take(&mut self.pending).freeze();
        self.in_flight.spawn(self.upload.put_part(part));
        Ok(())
    }

    /// Waits for one in-flight part and surfaces its error, if any.
    async fn wait_one(&mut self) -> Result<(), BlobError> {
        match self.in_flight.join_next().await {
            Some(joined) => joined.map_err(object_store::Error::from)?.map_err(BlobError::from),
            None => Ok(()),
        }
    }

    /// Uploads the last part, waits for all parts and completes the upload.
    async fn finish(&mut self) -> Result<(), BlobError> {
        if !self.pending.is_empty() {
            self.start_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        self.upload.complete().await?;
        Ok(())
    }

    /// Cancels outstanding parts and asks the backend to discard the upload.
    async fn abort(mut self) {
        self.in_flight.shutdown().await;
        if let Err(err) = self.upload.abort().await {
            tracing::warn!(error = %err, "could not abort multipart upload");
        }
    }
}
