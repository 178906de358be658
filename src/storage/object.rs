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

    /// The key of `rel` under the prefix.
    fn at(&self, rel: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn key(&self, sha256: &str) -> Key {
        self.at(&format!("{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]))
    }

    pub async fn store(&self, temp: &Path, sha256: &str) -> std::io::Result<bool> {
        let existed = self.modified(sha256).await?.is_some();
        self.put_key(&self.key(sha256), temp).await?;
        Ok(!existed)
    }

    /// Uploads the file `file` as `rel` (under the prefix); returns once the store has
    /// answered that it holds it.
    pub async fn put_file(&self, rel: &str, file: &Path) -> std::io::Result<()> {
        self.put_key(&self.at(rel), file).await
    }

    async fn put_key(&self, key: &Key, temp: &Path) -> std::io::Result<()> {
        let mut file = tokio::fs::File::open(temp).await?;
        let size = file.metadata().await?.len();
        // The memory this upload holds: the whole file in one `PUT`, or two parts.
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
                .put(key, PutPayload::from(bytes))
                .await
                .map_err(io_err)?;
        } else {
            let upload = self.store.put_multipart(key).await.map_err(io_err)?;
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
        Ok(())
    }

    /// Uploads `bytes` as `rel`.
    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.store
            .put(&self.at(rel), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(io_err)
    }

    /// The bytes of `rel`; `None` when there is no such object.
    pub async fn get_bytes(&self, rel: &str) -> std::io::Result<Option<bytes::Bytes>> {
        match self.store.get(&self.at(rel)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(io_err)?)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Streams `rel` into the new file `target` (fsynced); its size.
    pub async fn get_file(&self, rel: &str, target: &Path) -> std::io::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let found = self.store.get(&self.at(rel)).await.map_err(|e| {
            if not_found(&e) {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{rel} is missing"))
            } else {
                io_err(e)
            }
        })?;
        let mut out = tokio::fs::File::create(target).await?;
        let mut body = found.into_stream();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(io_err)?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        Ok(size)
    }

    /// The size of `rel`; `None` when there is no such object.
    pub async fn size_of(&self, rel: &str) -> std::io::Result<Option<u64>> {
        match self.store.head(&self.at(rel)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Every object under `rel_prefix` (a folder under the prefix, or all when empty):
    /// its path relative to the prefix, size and time.
    pub async fn list_under(
        &self,
        rel_prefix: &str,
    ) -> std::io::Result<Vec<(String, u64, SystemTime)>> {
        let root = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let under = if rel_prefix.is_empty() {
            root.clone()
        } else {
            Some(self.at(rel_prefix))
        };
        let strip = root.map(|r| format!("{}/", r.as_ref())).unwrap_or_default();
        let mut stream = self.store.list(under.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(io_err)?;
            let full = meta.location.as_ref();
            let rel = full
                .strip_prefix(strip.as_str())
                .unwrap_or(full)
                .to_string();
            out.push((rel, meta.size, meta.last_modified.into()));
        }
        Ok(out)
    }

    /// The names of the folders right under `rel_prefix` (under the prefix).
    pub async fn list_folders(&self, rel_prefix: &str) -> std::io::Result<Vec<String>> {
        let under = if rel_prefix.is_empty() {
            (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()))
        } else {
            Some(self.at(rel_prefix))
        };
        let listed = self
            .store
            .list_with_delimiter(under.as_ref())
            .await
            .map_err(io_err)?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Removes every object under the folder `rel_prefix` (in batches where the store
    /// allows).
    pub async fn delete_under(&self, rel_prefix: &str) -> std::io::Result<()> {
        let under = self.at(rel_prefix);
        let locations = self
            .store
            .list(Some(&under))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut results = self.store.delete_stream(locations);
        while let Some(result) = results.next().await {
            match result {
                Err(e) if !not_found(&e) => return Err(io_err(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes `rel` (nothing when it is not there).
    pub async fn delete_at(&self, rel: &str) -> std::io::Result<()> {
        match self.store.delete(&self.at(rel)).await {
            Err(e) if !not_found(&e) => Err(io_err(e)),
            _ => Ok(()),
        }
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
