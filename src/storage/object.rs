//! Photo bytes in an S3-compatible bucket, through the `object_store` crate: keys
//! `[<prefix>/]ab/cd/<sha256>`. Uploads of up to [`PART_SIZE`] go in one `PUT`, larger
//! ones as a multipart upload read from the temporary file a part at a time (one part being
//! sent while the next fills: two parts are the most of a photo held in memory); downloads
//! are streamed. However many uploads arrive at once, the bytes they hold in memory stay
//! within [`MEMORY_BUDGET_MIB`]: an upload waits for its share before it reads its file.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::{io_err, valid_sha, Download, StoredObject};

/// S3's smallest part (but the last) of a multipart upload; also the largest single `PUT`.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// MiB of photo bytes all uploads to the bucket may hold in memory at once.
pub const MEMORY_BUDGET_MIB: u32 = 40;

#[derive(Clone)]
pub struct ObjectStoreFront {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    budget: Arc<tokio::sync::Semaphore>,
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl ObjectStoreFront {
    /// An S3 bucket: credentials, region and endpoint from the process environment
    /// (`AmazonS3Builder::from_env`), then from `settings` (the same names, as configured).
    pub fn s3(
        bucket: &str,
        prefix: &str,
        settings: &[(String, String)],
    ) -> Result<ObjectStoreFront, String> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (name, value) in settings {
            let key: AmazonS3ConfigKey = name
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| format!("{name}: {e}"))?;
            builder = builder.with_config(key, value.clone());
        }
        let store = builder
            .build()
            .map_err(|e| format!("cannot set up the S3 store s3://{bucket}: {e}"))?;
        Ok(ObjectStoreFront {
            store: Arc::new(store),
            prefix: prefix.to_string(),
            budget: Arc::new(tokio::sync::Semaphore::new(MEMORY_BUDGET_MIB as usize)),
        })
    }

    fn key(&self, sha256: &str) -> Key {
        let tail = format!("{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]);
        if self.prefix.is_empty() {
            Key::from(tail)
        } else {
            Key::from(format!("{}/{tail}", self.prefix))
        }
    }

    pub async fn store(&self, temp: &Path, sha256: &str) -> std::io::Result<bool> {
        let key = self.key(sha256);
        let existed = self.modified(sha256).await?.is_some();
        let mut file = tokio::fs::File::open(temp).await?;
        let size = file.metadata().await?.len();
        // The memory this upload holds: the whole photo in one `PUT`, or two parts.
        let held = size.min(2 * PART_SIZE as u64).div_ceil(1024 * 1024).max(1);
        let _share = self
            .budget
            .acquire_many(u32::try_from(held).unwrap_or(MEMORY_BUDGET_MIB))
            .await
            .map_err(io_err)?;
        if size <= PART_SIZE as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await?;
            self.store
                .put(&key, PutPayload::from(bytes))
                .await
                .map_err(io_err)?;
        } else {
            let upload = self.store.put_multipart(&key).await.map_err(io_err)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buf = vec![0u8; 256 * 1024];
            let copied: std::io::Result<()> = async {
                loop {
                    let n = file.read(&mut buf).await?;
                    if n == 0 {
                        break Ok(());
                    }
                    // One part in flight while the next fills.
                    writer.wait_for_capacity(1).await.map_err(io_err)?;
                    writer.write(&buf[..n]);
                }
            }
            .await;
            match copied {
                Ok(()) => {
                    writer.finish().await.map_err(io_err)?;
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        Ok(!existed)
    }

    pub async fn modified(&self, sha256: &str) -> std::io::Result<Option<SystemTime>> {
        match self.store.head(&self.key(sha256)).await {
            Ok(meta) => Ok(Some(meta.last_modified.into())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    pub async fn get(&self, sha256: &str) -> std::io::Result<Download> {
        match self.store.get(&self.key(sha256)).await {
            Ok(found) => Ok(Download::Stream {
                size: found.meta.size,
                body: found.into_stream().map_err(io_err).boxed(),
            }),
            Err(e) if not_found(&e) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{sha256} is not in the store"),
            )),
            Err(e) => Err(io_err(e)),
        }
    }

    pub async fn delete(&self, sha256: &str) -> std::io::Result<()> {
        match self.store.delete(&self.key(sha256)).await {
            Err(e) if !not_found(&e) => Err(io_err(e)),
            _ => Ok(()),
        }
    }

    pub async fn list(&self) -> std::io::Result<Vec<StoredObject>> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let mut stream = self.store.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(io_err)?;
            let Some(name) = meta.location.filename() else {
                continue;
            };
            // Only `ab/cd/<sha>` right under the prefix is ours.
            let expected = self.key(name);
            if valid_sha(name) && meta.location == expected {
                out.push(StoredObject {
                    sha256: name.to_string(),
                    size: meta.size,
                    modified: meta.last_modified.into(),
                });
            }
        }
        Ok(out)
    }

    pub async fn check(&self) -> Result<(), String> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| format!("evidence store: {e}"))
    }
}
