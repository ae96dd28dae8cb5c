//! The local on-disk spool that makes "acknowledged" mean "durable".
//!
//! A recording is written here first (audio streamed to a temp file, fsynced, renamed; then
//! its job description, fsynced, renamed). Only after both renames, and an fsync of the
//! directory, does the media server get its success answer. A background worker delivers
//! spooled jobs to their destination with retries and backoff and removes them once
//! delivered; the spool survives restarts, and a half-written entry (a crash mid-upload)
//! has no job file and is swept away, never delivered.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// What to deliver, and how it went so far.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: String,
    pub account_id: String,
    /// The MODB and id of the `call_recording` document.
    pub db: String,
    pub doc_id: String,
    pub attachment: String,
    pub content_type: String,
    pub bytes: u64,
    pub md5_hex: String,
    /// Where it goes: `{"kind":"couch"}`, `{"kind":"url","url":..,"method":..}`,
    /// `{"kind":"handler","handler_id":..}`.
    pub destination: Value,
    pub attempts: u32,
    /// Unix seconds before which the job is not retried.
    pub not_before: i64,
    pub last_error: Option<String>,
    pub created: i64,
    /// The `call_recording` document, written by the worker if the ingest request could
    /// not write it (CouchDB down): the audio is never acknowledged without its document
    /// following. Absent in jobs spooled by older versions.
    #[serde(default)]
    pub doc: Option<Value>,
    /// The file name at a URL destination, fixed before the first attempt so every retry
    /// writes the same object.
    #[serde(default)]
    pub remote_name: Option<String>,
}

pub struct Spool {
    dir: PathBuf,
    /// Jobs being delivered right now (by the worker, or early by the ingest's tee): a job
    /// is delivered by one task at a time.
    in_flight: parking_lot::Mutex<std::collections::HashSet<String>>,
}

fn sanitize(id: &str) -> Option<&str> {
    (!id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(id)
}

impl Spool {
    pub async fn open(dir: impl Into<PathBuf>) -> std::io::Result<Spool> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir).await?;
        let spool = Spool {
            dir,
            in_flight: Default::default(),
        };
        spool.sweep().await?;
        Ok(spool)
    }

    /// Take a job for delivery; false when someone is already delivering it, or when
    /// `limit` deliveries are running.
    pub fn claim(&self, id: &str, limit: usize) -> bool {
        let mut busy = self.in_flight.lock();
        busy.len() < limit && busy.insert(id.to_string())
    }

    pub fn release(&self, id: &str) {
        self.in_flight.lock().remove(id);
    }

    fn audio_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.audio"))
    }

    fn job_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.job.json"))
    }

    /// Remove temp files and audio without a job (a crash before acknowledgement).
    async fn sweep(&self) -> std::io::Result<()> {
        let mut rd = tokio::fs::read_dir(&self.dir).await?;
        while let Some(e) = rd.next_entry().await? {
            let name = e.file_name().to_string_lossy().to_string();
            let orphan = name.ends_with(".tmp")
                || name
                    .strip_suffix(".audio")
                    .is_some_and(|id| !self.job_path(id).exists());
            if orphan {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
        Ok(())
    }

    /// Stream `body` into the spool; returns (bytes, md5 hex). Nothing is visible until
    /// [`Spool::commit`].
    pub async fn write_audio<S, E>(
        &self,
        id: &str,
        body: S,
        max_bytes: u64,
    ) -> std::io::Result<(u64, String)>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (n, md5) = self.write_audio_tee(id, body, max_bytes, None).await?;
        Ok((n, md5.unwrap_or_default()))
    }

    /// [`Spool::write_audio`], handing each chunk to `tee` as well (early delivery). With a
    /// tee the file is neither fsynced nor hashed (the handler hashes the same bytes, and
    /// MD5 is most of the CPU an ingest costs), and it is written around the page cache
    /// (`O_DIRECT`, see `batch_write`): when the tee delivers, the copy is dropped unread;
    /// otherwise [`Spool::seal_audio`] hashes it and makes it durable before the job is
    /// committed. The MD5 is None with a tee.
    pub async fn write_audio_tee<S, E>(
        &self,
        id: &str,
        mut body: S,
        max_bytes: u64,
        mut tee: Option<&mut super::tee::TeeSender>,
    ) -> std::io::Result<(u64, Option<String>)>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = sanitize(id).ok_or_else(|| std::io::Error::other("bad spool id"))?;
        let tmp = self.dir.join(format!("{id}.audio.tmp"));
        let mut file = match tee {
            // a copy kept in case the early delivery fails: around the page cache
            Some(_) => {
                let path = tmp.clone();
                tokio::task::spawn_blocking(move || {
                    super::batch_write::BatchWriter::direct(&path, false)
                })
                .await
                .map_err(std::io::Error::other)??
            }
            None => {
                let file = tokio::fs::File::create(&tmp).await?.into_std().await;
                super::batch_write::BatchWriter::new(file, true)
            }
        };
        let mut total = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
            total += chunk.len() as u64;
            if total > max_bytes {
                drop(file);
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(std::io::Error::other(
                    "recording larger than the configured maximum",
                ));
            }
            if let Some(t) = tee.as_deref_mut() {
                t.send(&chunk).await;
            }
            file.write(chunk).await?;
        }
        // with a tee: neither fsynced nor hashed here (see above)
        let md5 = file.finish(tee.is_none()).await?;
        if let Some(t) = tee {
            t.finish();
        }
        tokio::fs::rename(&tmp, self.audio_path(id)).await?;
        Ok((total, md5))
    }

    /// Audio written with a tee that did not deliver it: its MD5, read back (from the disk:
    /// it was written around the page cache), and the file made durable (its folder entry
    /// is made durable by [`Spool::commit`]).
    pub async fn seal_audio(&self, id: &str) -> std::io::Result<String> {
        use md5::Digest;
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(self.audio_path(id)).await?;
        let mut hasher = md5::Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        file.sync_all().await?;
        Ok(hex::encode(hasher.finalize()))
    }

    /// Make a job durable: after this returns the recording is acknowledged.
    pub async fn commit(&self, job: &Job) -> std::io::Result<()> {
        let id = sanitize(&job.id).ok_or_else(|| std::io::Error::other("bad spool id"))?;
        let tmp = self.dir.join(format!("{id}.job.json.tmp"));
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(&serde_json::to_vec(job).map_err(std::io::Error::other)?)
            .await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, self.job_path(id)).await?;
        // The rename itself must survive a power cut.
        tokio::fs::File::open(&self.dir).await?.sync_all().await?;
        Ok(())
    }

    pub async fn pending(&self) -> std::io::Result<Vec<Job>> {
        let mut out = vec![];
        let mut rd = tokio::fs::read_dir(&self.dir).await?;
        while let Some(e) = rd.next_entry().await? {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".job.json") {
                // A job delivered (and removed) by the worker while we scan is not an error.
                let bytes = match tokio::fs::read(e.path()).await {
                    Ok(b) => b,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err),
                };
                match serde_json::from_slice::<Job>(&bytes) {
                    Ok(job) => out.push(job),
                    Err(err) => {
                        tracing::error!(file = %name, error = %err, "unreadable spool job left in place")
                    }
                }
            }
        }
        out.sort_by_key(|j| (j.not_before, j.created));
        Ok(out)
    }

    pub fn audio_file(&self, id: &str) -> PathBuf {
        self.audio_path(id)
    }

    /// Record a failed attempt with exponential backoff (capped at 10 minutes). We never
    /// give up silently: the job stays until delivered, visible in the spool metrics.
    pub async fn retry_later(&self, job: &mut Job, error: String, now: i64) -> std::io::Result<()> {
        job.attempts += 1;
        let delay = (2i64.pow(job.attempts.min(10))).min(600);
        job.not_before = now + delay;
        job.last_error = Some(error);
        self.commit(job).await
    }

    /// Delivered: remove the job first (so a crash between the two removals can only leave
    /// an orphan audio file, which the next sweep deletes).
    pub async fn done(&self, id: &str) -> std::io::Result<()> {
        let _ = tokio::fs::remove_file(self.job_path(id)).await;
        let _ = tokio::fs::remove_file(self.audio_path(id)).await;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn job(id: &str) -> Job {
        Job {
            id: id.into(),
            account_id: "a".into(),
            db: "d".into(),
            doc_id: "202401-x".into(),
            attachment: "x.mp3".into(),
            content_type: "audio/mpeg".into(),
            bytes: 0,
            md5_hex: String::new(),
            destination: serde_json::json!({"kind": "couch"}),
            attempts: 0,
            not_before: 0,
            last_error: None,
            created: 1,
            doc: None,
            remote_name: None,
        }
    }

    #[tokio::test]
    async fn write_commit_reopen_deliver() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", crate::domain::ids::new_id()));
        let spool = Spool::open(&dir).await.unwrap();
        let body = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
        ]);
        let (n, md5) = spool.write_audio("j1", body, 1 << 20).await.unwrap();
        assert_eq!((n, md5.as_str()), (6, "e80b5017098950fc58aad83c8c14978e"));
        // audio written but not committed: a restart sweeps it
        let spool = Spool::open(&dir).await.unwrap();
        assert!(!spool.audio_file("j1").exists());
        let body = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(
            b"abcdef",
        ))]);
        spool.write_audio("j2", body, 1 << 20).await.unwrap();
        spool.commit(&job("j2")).await.unwrap();
        let spool = Spool::open(&dir).await.unwrap();
        let mut pending = spool.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        spool
            .retry_later(&mut pending[0], "down".into(), 100)
            .await
            .unwrap();
        let again = spool.pending().await.unwrap();
        assert_eq!((again[0].attempts, again[0].not_before), (1, 102));
        spool.done("j2").await.unwrap();
        assert!(spool.pending().await.unwrap().is_empty());
        // oversized bodies are refused and leave nothing behind
        let body =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 100]))]);
        assert!(spool.write_audio("j3", body, 10).await.is_err());
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(sanitize("../x").is_none());
    }

    /// A job the worker removes while `pending()` scans the folder is skipped, not an error
    /// that hides every other job (a dangling link reads as NotFound, like a removed file).
    #[cfg(unix)]
    #[tokio::test]
    async fn pending_skips_a_job_removed_mid_scan() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", crate::domain::ids::new_id()));
        let spool = Spool::open(&dir).await.unwrap();
        spool.commit(&job("j1")).await.unwrap();
        std::os::unix::fs::symlink(dir.join("gone"), dir.join("j0.job.json")).unwrap();
        let pending = spool.pending().await.unwrap();
        assert_eq!(
            pending.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["j1"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
