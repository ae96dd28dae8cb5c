//! Early delivery: while a recording streams into the spool, the same chunks stream on to
//! its storage handler (S3, HTTP), so a large recording is stored about when its upload
//! ends instead of being read back from the spool afterwards.
//!
//! It never weakens the spool's guarantee: the answer to the media server still waits for
//! the spool (audio fsynced, job committed), and the job stays claimed, not removed, until
//! the handler holds the object with the acknowledged checksum and the document points at
//! it. Any failure leaves the job to the delivery worker, which uploads it again from the
//! spool (same object name, so at worst the same bytes twice, never two objects):
//! - the handler slower than the client for [`STALL`]: the tee is abandoned (its upload
//!   aborted) and the ingest carries on at the client's pace;
//! - the client cut off or the recording refused: the upload is aborted, nothing is kept;
//! - the spool commit failed after the handler completed: the object is deleted.
//!
//! At most [`MAX_TEES`] run at once (each holds an S3 part buffer); beyond that, recordings
//! are delivered by the worker as before.

use super::deliver::{handler_path, handler_stored, job_handler, storage_failure};
use super::spool::Job;
use crate::state::AppState;
use crate::storage::{ObjectMeta, Stored};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Early deliveries running at once.
pub const MAX_TEES: usize = 4;
/// How long the spool writer waits for a slow handler before going on without it.
pub const STALL: Duration = Duration::from_secs(5);
/// Chunks buffered between the spool writer and the handler.
const QUEUE: usize = 64;

static PERMITS: Semaphore = Semaphore::const_new(MAX_TEES);

/// The spool writer's end.
pub struct TeeSender {
    tx: Option<mpsc::Sender<Bytes>>,
    abandoned: Arc<AtomicBool>,
}

impl TeeSender {
    /// Hand a chunk on; a handler that does not take it within [`STALL`] is dropped.
    pub async fn send(&mut self, chunk: &Bytes) {
        let Some(tx) = &self.tx else { return };
        match tokio::time::timeout(STALL, tx.send(chunk.clone())).await {
            Ok(Ok(())) => {}
            _ => self.abandon(),
        }
    }

    /// The whole recording was handed on: let the upload complete.
    pub fn finish(&mut self) {
        self.tx = None;
    }

    fn abandon(&mut self) {
        if self.tx.take().is_some() {
            self.abandoned.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for TeeSender {
    /// Dropped before [`TeeSender::finish`] (an error, a cut-off client): the upload must
    /// fail, not complete with half the audio.
    fn drop(&mut self) {
        self.abandon();
    }
}

/// The ingest's end: tell the tee the job is committed (or drop it: never committed).
pub struct TeeHandle {
    committed: oneshot::Sender<Job>,
}

impl TeeHandle {
    pub fn committed(self, job: Job) {
        let _ = self.committed.send(job);
    }
}

/// The handler's end of the queue, as a byte stream: ends cleanly only after `finish`.
fn receiver_stream(
    rx: mpsc::Receiver<Bytes>,
    abandoned: Arc<AtomicBool>,
) -> crate::storage::ByteStream {
    Box::pin(futures_util::stream::unfold(
        (rx, abandoned, false),
        |(mut rx, abandoned, ended)| async move {
            if ended {
                return None;
            }
            match rx.recv().await {
                Some(b) => Some((Ok(b), (rx, abandoned, false))),
                None if abandoned.load(Ordering::SeqCst) => Some((
                    Err(std::io::Error::other("early delivery abandoned")),
                    (rx, abandoned, true),
                )),
                None => None,
            }
        },
    ))
}

/// Start early delivery of the recording `job` describes (its `bytes`/`md5_hex` are not
/// known yet). None when the destination is not a storage handler, all tees are busy, or the
/// handler cannot be set up (the worker will report why).
pub async fn start(
    state: Arc<AppState>,
    job: &Job,
    length: Option<u64>,
) -> Option<(TeeSender, TeeHandle)> {
    if job.destination.get("kind").and_then(|k| k.as_str()) != Some("handler") {
        return None;
    }
    let permit = PERMITS.try_acquire().ok()?;
    let (handler_id, handler) = job_handler(&state, job).await.ok()?;
    let doc = job.doc.clone().unwrap_or_default();
    let ctx = handler_path(job, &doc).ok()?;
    if !state.spool.claim(&job.id, usize::MAX) {
        return None;
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let abandoned = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = oneshot::channel::<Job>();
    let sender = TeeSender {
        tx: Some(tx),
        abandoned: abandoned.clone(),
    };
    let job_id = job.id.clone();
    let meta = ObjectMeta {
        content_type: job.content_type.clone(),
        length,
    };
    tokio::spawn(async move {
        let _permit = permit;
        let put = handler
            .put(&ctx, meta, receiver_stream(rx, abandoned))
            .await;
        finish(&state, &job_id, &handler_id, &handler, put, done_rx).await;
        state.spool.release(&job_id);
    });
    Some((sender, TeeHandle { committed: done_tx }))
}

async fn finish(
    state: &AppState,
    job_id: &str,
    handler_id: &str,
    handler: &crate::storage::Handler,
    put: Result<Stored, crate::storage::StorageError>,
    committed: oneshot::Receiver<Job>,
) {
    let Ok(job) = committed.await else {
        // never acknowledged: no object may stay behind
        if let Ok(stored) = put {
            if let Err(e) = handler.delete(&stored.location).await {
                tracing::warn!(job = %job_id, error = %e, "could not remove the object of a recording that was not acknowledged");
            }
        }
        return;
    };
    let stored = match put {
        Ok(s) => s,
        Err(e) => {
            let e = storage_failure(handler_id, e);
            tracing::info!(recording = %job.doc_id, reason = %e.reason, "early delivery did not complete; the worker delivers from the spool");
            return;
        }
    };
    match handler_stored(state, &job, handler_id, handler, stored).await {
        Ok(()) => match state.spool.done(&job.id).await {
            Ok(()) => {
                tracing::info!(recording = %job.doc_id, account = %job.account_id, bytes = job.bytes, "recording delivered (early)")
            }
            Err(e) => tracing::error!(job = %job.id, error = %e, "spool update failed"),
        },
        Err(e) => {
            tracing::info!(recording = %job.doc_id, reason = %e.reason, "early delivery not recorded; the worker delivers from the spool")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn pair() -> (TeeSender, crate::storage::ByteStream) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let abandoned = Arc::new(AtomicBool::new(false));
        (
            TeeSender {
                tx: Some(tx),
                abandoned: abandoned.clone(),
            },
            receiver_stream(rx, abandoned),
        )
    }

    #[tokio::test]
    async fn a_finished_tee_ends_cleanly() {
        let (mut tx, mut rx) = pair();
        tx.send(&Bytes::from_static(b"ab")).await;
        tx.finish();
        drop(tx);
        assert_eq!(rx.next().await.unwrap().unwrap(), Bytes::from_static(b"ab"));
        assert!(rx.next().await.is_none());
    }

    #[tokio::test]
    async fn a_dropped_tee_fails_the_upload() {
        let (mut tx, mut rx) = pair();
        tx.send(&Bytes::from_static(b"ab")).await;
        drop(tx); // the client went away mid-upload
        assert!(rx.next().await.unwrap().is_ok());
        assert!(rx.next().await.unwrap().is_err(), "must not end cleanly");
        assert!(rx.next().await.is_none());
    }
}
