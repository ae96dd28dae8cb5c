//! Early delivery: while a recording streams into the spool, the same chunks stream on to
//! its storage handler (S3, HTTP), so a large recording is stored when its upload ends
//! instead of being written to disk and read back afterwards.
//!
//! The media server's answer still waits until the recording is durable somewhere:
//! - the handler holds the object with the checksum we computed and the recording document
//!   (written now, already pointing at the object) is in CouchDB: the answer says
//!   `delivered`, and the spool's copy, never fsynced nor read, is dropped (it was written
//!   around the page cache, so it did not crowd the cache or make the kernel write back
//!   other files' pages while the upload ran);
//! - anything else (the handler slower than the client for [`STALL`], a failed upload, a
//!   checksum mismatch, CouchDB unreachable, no result within [`SETTLE`]): the spool copy
//!   is fsynced and the job committed, as without a tee, and the delivery worker uploads it
//!   again (same object name, so at worst the same bytes twice, never two objects). A tee
//!   that completes after that removes the committed job itself.
//!
//! A client cut off, or a recording refused, aborts the upload; an object completed for a
//! recording that was never acknowledged is deleted.
//!
//! At most [`MAX_TEES`] run at once (each holds an S3 part buffer); beyond that, recordings
//! are delivered by the worker as before.

use super::deliver::{handler_path, handler_stored, job_handler, storage_failure, DeliveryError};
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
/// How long the answer waits, after the last byte, for the handler to complete.
pub const SETTLE: Duration = Duration::from_secs(30);
/// Chunks buffered between the spool writer and the handler.
const QUEUE: usize = 16;

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

/// The ingest's end, once the whole recording is in the spool.
pub struct TeeHandle {
    ready: oneshot::Sender<Job>,
    outcome: oneshot::Receiver<Option<String>>,
    committed: oneshot::Sender<()>,
}

/// What [`TeeHandle::settle`] found.
pub enum Settled {
    /// Stored by the handler (with this MD5, hashed as it streamed), document written:
    /// durable, nothing to spool.
    Delivered(String),
    /// Not (yet): the ingest commits the job and then calls [`Committed::committed`].
    Spool(Committed),
}

pub struct Committed(oneshot::Sender<()>);

impl Committed {
    /// The job is in the spool; a tee that completes later may now remove it.
    pub fn committed(self) {
        let _ = self.0.send(());
    }
}

impl TeeHandle {
    /// Hand the complete `job` (its size known, its checksum not: the handler computes it)
    /// to the tee and wait up to `wait` for the object and its document.
    pub async fn settle(self, job: Job, wait: Duration) -> Settled {
        let TeeHandle {
            ready,
            mut outcome,
            committed,
        } = self;
        let delivered = if ready.send(job).is_err() {
            None
        } else {
            match tokio::time::timeout(wait, &mut outcome).await {
                Ok(result) => result.ok().flatten(),
                Err(_) => {
                    // From here on the tee cannot report success to us: either it did just
                    // now, or it will wait for the committed job instead.
                    outcome.close();
                    outcome.try_recv().ok().flatten()
                }
            }
        };
        match delivered {
            Some(md5) => Settled::Delivered(md5),
            None => Settled::Spool(Committed(committed)),
        }
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
    let (ready_tx, ready_rx) = oneshot::channel::<Job>();
    let (outcome_tx, outcome_rx) = oneshot::channel::<Option<String>>();
    let (committed_tx, committed_rx) = oneshot::channel::<()>();
    let sender = TeeSender {
        tx: Some(tx),
        abandoned: abandoned.clone(),
    };
    let job_id = job.id.clone();
    let meta = ObjectMeta {
        content_type: job.content_type.clone(),
        // the sender's word; a length the ingest would refuse anyway is no size hint
        length: length.filter(|l| *l <= state.cfg.max_recording_bytes),
    };
    // on the multi-threaded runtime: hashing and signing the parts must not take turns
    // with this request's receive loop on its actix worker thread
    let background = state.background.clone();
    background.spawn(async move {
        let _permit = permit;
        let put = handler
            .put(&ctx, meta, receiver_stream(rx, abandoned))
            .await;
        let ends = Ends {
            ready: ready_rx,
            outcome: outcome_tx,
            committed: committed_rx,
        };
        finish(&state, &job_id, &handler_id, &handler, put, ends).await;
        state.spool.release(&job_id);
    });
    let handle = TeeHandle {
        ready: ready_tx,
        outcome: outcome_rx,
        committed: committed_tx,
    };
    Some((sender, handle))
}

/// The tee task's ends of the [`TeeHandle`] channels.
struct Ends {
    ready: oneshot::Receiver<Job>,
    outcome: oneshot::Sender<Option<String>>,
    committed: oneshot::Receiver<()>,
}

async fn finish(
    state: &AppState,
    job_id: &str,
    handler_id: &str,
    handler: &crate::storage::Handler,
    put: Result<Stored, crate::storage::StorageError>,
    ends: Ends,
) {
    let Ok(mut job) = ends.ready.await else {
        // never acknowledged: no object may stay behind
        if let Ok(stored) = put {
            if let Err(e) = handler.delete(&stored.location).await {
                tracing::warn!(job = %job_id, error = %e, "could not remove the object of a recording that was not acknowledged");
            }
        }
        return;
    };
    // The handler hashed exactly the chunks the spool received (the same buffers), so its
    // MD5 is the recording's; the length tells that none went missing on the way.
    let result = match put {
        Ok(stored) if stored.bytes != job.bytes => Err(DeliveryError::new(
            handler_id,
            format!(
                "length mismatch: received {} stored {}",
                job.bytes, stored.bytes
            ),
        )),
        Ok(stored) => {
            job.md5_hex = stored.md5_hex.clone();
            handler_stored(state, &job, handler_id, handler, stored, true).await
        }
        Err(e) => Err(storage_failure(handler_id, e)),
    };
    if let Err(e) = &result {
        tracing::info!(recording = %job.doc_id, reason = %e.reason, "early delivery did not complete; the worker delivers from the spool");
    }
    let report = result.is_ok().then(|| job.md5_hex.clone());
    if ends.outcome.send(report).is_ok() {
        if result.is_ok() {
            tracing::info!(recording = %job.doc_id, account = %job.account_id, bytes = job.bytes, "recording delivered (early)");
        }
        return;
    }
    // The ingest stopped waiting and commits the job: once it has, the job is ours to remove.
    if result.is_ok() && ends.committed.await.is_ok() {
        match state.spool.done(&job.id).await {
            Ok(()) => {
                tracing::info!(recording = %job.doc_id, account = %job.account_id, bytes = job.bytes, "recording delivered (early, after the answer)")
            }
            Err(e) => tracing::error!(job = %job.id, error = %e, "spool update failed"),
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
