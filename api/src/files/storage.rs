//! Where the bytes of uploaded files live: a folder, or an S3-compatible bucket. Keys are
//! `<tenant>/<file id>`, both made by us (a parsed tenant id, a UUID), never by a client.

use std::path::{Path, PathBuf};

use axum::body::Body;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

pub use super::s3::S3Config;
use super::s3::S3Store;

/// Why the file store failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store is misconfigured.
    #[error("file store configuration: {0}")]
    Config(String),
    /// The local folder failed.
    #[error("file store I/O")]
    Io(#[from] std::io::Error),
    /// The bucket could not be reached, or did not answer in time.
    #[error("the S3 endpoint cannot be reached: {0}")]
    Unreachable(String),
    /// The bucket refused the request.
    #[error("the S3 endpoint answered {status} {code}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its error code (`AccessDenied`, `SignatureDoesNotMatch`, …).
        code: String,
    },
}

/// The file store.
#[derive(Debug, Clone)]
pub enum FileStorage {
    /// A folder: `<root>/<tenant>/<id>`.
    Local(LocalStorage),
    /// A bucket.
    S3(S3Storage),
}

/// Files in a folder. Folders are made on the first write.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

/// Files in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Storage(S3Store);

/// Where a write goes before it is complete: renamed to its key only once all of it is on disk,
/// so a crash never leaves a partial file under a key.
const PARTIAL_DIR: &str = ".partial";

impl FileStorage {
    /// Files under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local(LocalStorage { root: root.into() })
    }

    /// Files in a bucket; the configuration is checked, nothing is called.
    pub fn s3(config: S3Config) -> Result<Self, StorageError> {
        Ok(Self::S3(S3Storage(S3Store::new(config)?)))
    }

    /// Which kind of store, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::S3(_) => "s3",
        }
    }

    /// Stores `bytes` under `key`, whole or not at all.
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        match self {
            Self::Local(local) => local.put(key, &bytes).await,
            Self::S3(s3) => s3.0.put(key, bytes, content_type).await,
        }
    }

    /// The bytes under `key` as a stream; `None` when nothing is stored there.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Body>, StorageError> {
        match self {
            Self::Local(local) => local.get(key).await,
            Self::S3(s3) => s3.0.get(key).await,
        }
    }

    /// Removes what is under `key`; nothing there is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self {
            Self::Local(local) => local.delete(key).await,
            Self::S3(s3) => s3.0.delete(key).await,
        }
    }
}

impl LocalStorage {
    /// The file of `key`. Keys are ours (`<tenant>/<uuid>`), but a key that could leave the
    /// root is refused all the same.
    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        let safe = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part != PARTIAL_DIR
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !safe {
            return Err(StorageError::Config(format!("unsafe file key `{key}`")));
        }
        Ok(self.root.join(Path::new(key)))
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let target = self.path(key)?;
        let partial_dir = self.root.join(PARTIAL_DIR);
        tokio::fs::create_dir_all(&partial_dir).await?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = partial_dir.join(uuid::Uuid::now_v7().simple().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&partial, &target).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        Ok(written?)
    }

    async fn get(&self, key: &str) -> Result<Option<Body>, StorageError> {
        match tokio::fs::File::open(self.path(key)?).await {
            Ok(file) => Ok(Some(Body::from_stream(tokio_util::io::ReaderStream::new(
                file,
            )))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn temp_root() -> PathBuf {
        std::env::temp_dir().join(format!("catat-files-{}", uuid::Uuid::now_v7().simple()))
    }

    #[tokio::test]
    async fn a_local_write_lands_whole_under_its_key_and_leaves_no_partial_file() {
        let root = temp_root();
        let store = FileStorage::local(&root);
        store
            .put("t-1/abc", Bytes::from_static(b"hello"), "image/png")
            .await
            .unwrap();
        let body = store.get("t-1/abc").await.unwrap().unwrap();
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"hello");
        let partial = std::fs::read_dir(root.join(PARTIAL_DIR)).unwrap().count();
        assert_eq!(partial, 0);
        store.delete("t-1/abc").await.unwrap();
        assert!(store.get("t-1/abc").await.unwrap().is_none());
        store.delete("t-1/abc").await.unwrap();
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn keys_that_could_leave_the_root_are_refused() {
        let store = FileStorage::local(temp_root());
        for key in ["../x", "t/../../x", "/abs", "t/.partial", "t//x", ""] {
            assert!(
                store.put(key, Bytes::new(), "image/png").await.is_err(),
                "{key}"
            );
        }
    }
}
