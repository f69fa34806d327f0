//! The snapshot bucket: pending INC snapshots under `automations/inc/`, archived to
//! `processed/` or set aside in `failed/`. S3 (path-style) or a local folder, through the
//! same `object_store` code path.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use md5::{Digest, Md5};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetResultPayload, ObjectMeta, ObjectStore, PutPayload,
    RetryConfig,
};
use tokio::io::AsyncWriteExt;

use crate::config::BucketConfig;

pub const PREFIX: &str = "automations/inc";

/// A snapshot waiting to be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub key: String,
    /// The file name, `YYYY-MM-DDTHHMMSS.csv`.
    pub name: String,
    /// Unquoted; for the local folder, the content MD5 (as S3 computes it).
    pub etag: String,
    pub snapshot_at: DateTime<Utc>,
}

/// The bucket (or the local folder standing in for it) failed; the cause is kept.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("bucket: {0}")]
    Store(#[from] object_store::Error),
    #[error("bucket: {0}")]
    Io(#[from] std::io::Error),
}

/// A local file read in one blocking task: `object_store` streams a local file in 8 KiB
/// chunks, one blocking-pool hop each, which took 3–6 s per 10 MB snapshot on a busy
/// server (docs/benchmarks.md, "Soak").
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BucketError> {
    Ok(tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)??)
}

#[derive(Clone, Debug)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// The local folder's ETags are not content hashes, so they are computed.
    hash_content: bool,
    description: String,
}

impl Bucket {
    pub fn from_config(config: &BucketConfig) -> Result<Bucket, BucketError> {
        match &config.s3_endpoint {
            Some(endpoint) => {
                let retry = RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(200),
                        max_backoff: Duration::from_secs(5),
                        base: 2.0,
                    },
                    max_retries: config.s3_max_retries,
                    retry_timeout: Duration::from_secs(config.s3_timeout_secs * 2),
                };
                let client = ClientOptions::new()
                    .with_allow_http(true)
                    .with_timeout(Duration::from_secs(config.s3_timeout_secs))
                    .with_connect_timeout(Duration::from_secs(5));
                let mut builder = AmazonS3Builder::new()
                    .with_endpoint(endpoint)
                    .with_bucket_name(&config.s3_bucket)
                    .with_region(&config.s3_region)
                    .with_virtual_hosted_style_request(false)
                    .with_retry(retry)
                    .with_client_options(client);
                if let (Some(id), Some(secret)) =
                    (&config.s3_access_key_id, &config.s3_secret_access_key)
                {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secrecy::ExposeSecret::expose_secret(secret));
                } else {
                    builder = builder.with_skip_signature(true);
                }
                Ok(Bucket {
                    store: Arc::new(builder.build()?),
                    hash_content: false,
                    description: format!("s3 {endpoint} bucket {}", config.s3_bucket),
                })
            }
            None => {
                std::fs::create_dir_all(config.bucket_dir.join(PREFIX))?;
                Ok(Bucket {
                    store: Arc::new(LocalFileSystem::new_with_prefix(&config.bucket_dir)?),
                    hash_content: true,
                    description: format!("local folder {}", config.bucket_dir.display()),
                })
            }
        }
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The pending snapshots, oldest export first (by the time in their names).
    pub async fn pending(&self) -> Result<Vec<Pending>, BucketError> {
        let mut pending = Vec::new();
        for (meta, name, snapshot_at) in self.snapshots_in(PREFIX).await? {
            let etag = match (&meta.e_tag, self.hash_content) {
                (Some(etag), false) => etag.trim_matches('"').to_owned(),
                _ => self.content_md5(&meta.location).await?,
            };
            pending.push(Pending {
                key: meta.location.to_string(),
                name,
                etag,
                snapshot_at,
            });
        }
        Ok(pending)
    }

    /// The archived snapshots under `processed/`, oldest export first (no ETags: a
    /// backfill does not need them).
    pub async fn archived(&self) -> Result<Vec<Pending>, BucketError> {
        Ok(self
            .snapshots_in(&format!("{PREFIX}/processed"))
            .await?
            .into_iter()
            .map(|(meta, name, snapshot_at)| Pending {
                key: meta.location.to_string(),
                name,
                etag: String::new(),
                snapshot_at,
            })
            .collect())
    }

    /// The snapshot files directly under `prefix`, by export time then key.
    async fn snapshots_in(
        &self,
        prefix: &str,
    ) -> Result<Vec<(ObjectMeta, String, DateTime<Utc>)>, BucketError> {
        let listing = self
            .store
            .list_with_delimiter(Some(&Path::from(prefix)))
            .await?;
        let mut found = Vec::new();
        for meta in listing.objects {
            let name = meta.location.filename().unwrap_or_default().to_owned();
            let Some(snapshot_at) = super::snapshot_time(&name) else {
                tracing::warn!(key = %meta.location, "ignored: not a snapshot name (YYYY-MM-DDTHHMMSS.csv)");
                continue;
            };
            found.push((meta, name, snapshot_at));
        }
        found.sort_by(|a, b| (a.2, a.0.location.as_ref()).cmp(&(b.2, b.0.location.as_ref())));
        Ok(found)
    }

    async fn content_md5(&self, location: &Path) -> Result<String, BucketError> {
        let mut md5 = Md5::new();
        match self.store.get(location).await?.payload {
            GetResultPayload::File(mut file, _) => {
                md5 = blocking(move || std::io::copy(&mut file, &mut md5).map(|_| md5)).await?;
            }
            GetResultPayload::Stream(mut stream) => {
                while let Some(chunk) = stream.next().await {
                    md5.update(&chunk?);
                }
            }
        }
        Ok(format!("{:x}", md5.finalize()))
    }

    /// Copies an object into a local file (from S3 as a stream).
    pub async fn download(&self, key: &str, to: &FsPath) -> Result<(), BucketError> {
        match self.store.get(&Path::from(key)).await?.payload {
            GetResultPayload::File(mut file, _) => {
                let to = to.to_path_buf();
                blocking(move || std::io::copy(&mut file, &mut std::fs::File::create(to)?)).await?;
            }
            GetResultPayload::Stream(mut stream) => {
                let mut file = tokio::fs::File::create(to).await?;
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk?).await?;
                }
                file.flush().await?;
            }
        }
        Ok(())
    }

    /// Moves a snapshot to `processed/` (copy, then delete).
    pub async fn archive(&self, snapshot: &Pending) -> Result<(), BucketError> {
        self.move_to(snapshot, "processed").await
    }

    /// Moves a snapshot that cannot be imported to `failed/`, with `<name>.error.txt`
    /// beside it saying why.
    pub async fn set_aside(&self, snapshot: &Pending, why: &str) -> Result<(), BucketError> {
        let note = Path::from(format!("{PREFIX}/failed/{}.error.txt", snapshot.name));
        self.store
            .put(&note, PutPayload::from(format!("{why}\n")))
            .await?;
        self.move_to(snapshot, "failed").await
    }

    async fn move_to(&self, snapshot: &Pending, folder: &str) -> Result<(), BucketError> {
        let from = Path::from(snapshot.key.as_str());
        let to = Path::from(format!("{PREFIX}/{folder}/{}", snapshot.name));
        self.store.copy(&from, &to).await?;
        self.store.delete(&from).await?;
        Ok(())
    }

    /// Puts a snapshot as the upstream export does (used by the demo and tests).
    pub async fn put_snapshot(&self, name: &str, body: Vec<u8>) -> Result<(), BucketError> {
        let key = Path::from(format!("{PREFIX}/{name}"));
        self.store.put(&key, PutPayload::from(body)).await?;
        Ok(())
    }

    /// Every key under the prefix (for tests and operators).
    pub async fn keys(&self) -> Result<Vec<String>, BucketError> {
        let mut keys: Vec<String> = self
            .store
            .list(Some(&Path::from(PREFIX)))
            .map(|m| m.map(|m| m.location.to_string()))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        keys.sort();
        Ok(keys)
    }

    /// Reads one object whole (small objects: error notes).
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, BucketError> {
        Ok(self
            .store
            .get(&Path::from(key))
            .await?
            .bytes()
            .await?
            .to_vec())
    }
}
