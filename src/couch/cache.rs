//! A document cache for crossbar's reads, as KAZOO's `kz_datamgr:open_cache_doc`:
//! `crossbar_doc:load` reads documents through a cache that is flushed when a document
//! changes. KAZOO learns of changes from its message bus; we learn of them from each cached
//! database's CouchDB `_changes` feed (long-poll), so a write by KAZOO, by another instance
//! of this service, or by hand is seen within the feed's latency (milliseconds). Our own
//! writes go through [`super::Couch`], which drops the document at once.
//!
//! Correctness rules:
//! - Only a database whose feed is connected ("live") is served from the cache. The feed
//!   starts from the database's `update_seq` read *before* the database turns live, so every
//!   change after that point is seen.
//! - Every invalidation bumps the database's generation; a document read from CouchDB is
//!   kept only if the generation did not move while it was being read (a change that raced
//!   the read wins).
//! - A feed error (CouchDB down, database deleted) empties the database's cache and turns it
//!   off until the feed is back.
//! - Bounded: at most `capacity` documents (the least recently used database is dropped
//!   whole), documents over [`MAX_DOC_BYTES`] are not kept, idle databases stop their feed.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Documents bigger than this (serialised) are read from CouchDB every time.
pub const MAX_DOC_BYTES: usize = 64 * 1024;
/// All cached documents together (serialised sizes): the cache's memory bound.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// A database not read from for this long stops its feed and leaves the cache.
const IDLE: Duration = Duration::from_secs(300);
/// How long CouchDB holds a long-poll open when nothing changes.
const POLL_MS: u64 = 55_000;

#[derive(Default)]
struct DbEntry {
    live: bool,
    generation: u64,
    docs: HashMap<String, (Arc<Value>, usize)>,
    bytes: usize,
    last_used: Option<Instant>,
    feed: Option<tokio::task::AbortHandle>,
}

#[derive(Default)]
struct Inner {
    dbs: HashMap<String, DbEntry>,
}

pub struct DocCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

/// What a caller needs to put a freshly read document back.
#[derive(Debug)]
pub struct Ticket {
    db: String,
    generation: u64,
}

impl DocCache {
    pub fn new(capacity: usize) -> DocCache {
        DocCache {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-updated map that matters: the
        // worst case is a cache miss.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cached document, or a ticket to [`DocCache::put`] the one about to be read. The
    /// bool is true when the database has no feed yet (the caller starts one).
    pub fn lookup(&self, db: &str, id: &str) -> Result<Value, (Ticket, bool)> {
        let mut inner = self.lock();
        let entry = inner.dbs.entry(db.to_string()).or_default();
        entry.last_used = Some(Instant::now());
        if entry.live {
            if let Some((doc, _)) = entry.docs.get(id) {
                return Ok(Value::clone(doc));
            }
        }
        let needs_feed = entry.feed.is_none();
        Err((
            Ticket {
                db: db.to_string(),
                generation: entry.generation,
            },
            needs_feed,
        ))
    }

    /// Keep a document read from CouchDB, unless something changed meanwhile.
    pub fn put(&self, ticket: Ticket, id: &str, doc: &Value) {
        let size = serde_json::to_vec(doc).map_or(usize::MAX, |b| b.len());
        if self.capacity == 0 || size > MAX_DOC_BYTES {
            return;
        }
        let mut inner = self.lock();
        let Some(entry) = inner.dbs.get_mut(&ticket.db) else {
            return;
        };
        if !entry.live || entry.generation != ticket.generation {
            return;
        }
        if let Some((_, old)) = entry
            .docs
            .insert(id.to_string(), (Arc::new(doc.clone()), size))
        {
            entry.bytes -= old;
        }
        entry.bytes += size;
        loop {
            let docs: usize = inner.dbs.values().map(|e| e.docs.len()).sum();
            let bytes: usize = inner.dbs.values().map(|e| e.bytes).sum();
            if docs <= self.capacity && bytes <= MAX_TOTAL_BYTES {
                break;
            }
            if !Self::evict_lru(&mut inner, &ticket.db) {
                break;
            }
        }
    }

    /// Drop the least recently used database (or, when `keep` is the only one, empty it);
    /// false when nothing was left to drop.
    fn evict_lru(inner: &mut Inner, keep: &str) -> bool {
        let victim = inner
            .dbs
            .iter()
            .filter(|(name, e)| name.as_str() != keep && !e.docs.is_empty())
            .min_by_key(|(_, e)| e.last_used)
            .map(|(name, _)| name.clone());
        match victim {
            Some(name) => {
                if let Some(e) = inner.dbs.remove(&name) {
                    if let Some(f) = e.feed {
                        f.abort();
                    }
                }
                true
            }
            // one database alone is over capacity: start it afresh
            None => match inner.dbs.get_mut(keep) {
                Some(e) if !e.docs.is_empty() => {
                    e.docs.clear();
                    e.bytes = 0;
                    true
                }
                _ => false,
            },
        }
    }

    /// A document changed (our write, or the feed said so).
    pub fn invalidate(&self, db: &str, id: &str) {
        let mut inner = self.lock();
        if let Some(entry) = inner.dbs.get_mut(db) {
            entry.generation += 1;
            if let Some((_, size)) = entry.docs.remove(id) {
                entry.bytes -= size;
            }
        }
    }

    /// Everything in a database is suspect (database deleted, feed lost).
    pub fn invalidate_db(&self, db: &str) {
        let mut inner = self.lock();
        if let Some(entry) = inner.dbs.get_mut(db) {
            entry.generation += 1;
            entry.docs.clear();
            entry.bytes = 0;
            entry.live = false;
        }
    }

    fn set_live(&self, db: &str) {
        let mut inner = self.lock();
        if let Some(entry) = inner.dbs.get_mut(db) {
            entry.generation += 1;
            entry.docs.clear();
            entry.bytes = 0;
            entry.live = true;
        }
    }

    /// Record the feed task; false when another one got there first (abort this one).
    fn attach_feed(&self, db: &str, handle: tokio::task::AbortHandle) -> bool {
        let mut inner = self.lock();
        let entry = inner.dbs.entry(db.to_string()).or_default();
        if entry.feed.is_some() {
            return false;
        }
        entry.feed = Some(handle);
        true
    }

    /// The feed's question each round: should it go on? (Idle databases leave.)
    fn keep_feeding(&self, db: &str) -> bool {
        let mut inner = self.lock();
        let idle = inner
            .dbs
            .get(db)
            .is_none_or(|e| e.last_used.is_none_or(|t| t.elapsed() > IDLE));
        if idle {
            inner.dbs.remove(db);
        }
        !idle
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().dbs.values().map(|e| e.docs.len()).sum()
    }
}

/// Start the `_changes` feed of `db` (once per database).
pub fn start_feed(couch: super::Couch, cache: Arc<DocCache>, db: String) {
    let task_cache = cache.clone();
    let task_db = db.clone();
    let task = tokio::spawn(async move { feed(couch, task_cache, task_db).await });
    if !cache.attach_feed(&db, task.abort_handle()) {
        task.abort();
    }
}

async fn feed(couch: super::Couch, cache: Arc<DocCache>, db: String) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if !cache.keep_feeding(&db) {
            return;
        }
        let Ok(mut since) = couch.update_seq(&db).await else {
            cache.invalidate_db(&db);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            continue;
        };
        cache.set_live(&db);
        backoff = Duration::from_millis(200);
        loop {
            match couch.changes_since(&db, &since, POLL_MS).await {
                Ok((ids, last)) => {
                    for id in &ids {
                        cache.invalidate(&db, id);
                    }
                    since = last;
                }
                // nothing changed while CouchDB held the poll open (or it never closed it,
                // as pouchdb-server does): ask again from the same point
                Err(super::CouchError::Unreachable(e)) if e.contains("timed out") => {}
                Err(_) => break,
            }
            if !cache.keep_feeding(&db) {
                return;
            }
        }
        cache.invalidate_db(&db);
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(cache: &DocCache, db: &str) {
        let _ = cache.lookup(db, "x");
        cache.set_live(db);
    }

    #[test]
    fn nothing_is_served_before_the_feed_is_live() {
        let c = DocCache::new(10);
        let (t, needs_feed) = c.lookup("db", "a").unwrap_err();
        assert!(needs_feed);
        c.put(t, "a", &json!({"v": 1}));
        assert!(c.lookup("db", "a").is_err());
    }

    #[test]
    fn a_change_during_the_read_wins() {
        let c = DocCache::new(10);
        live(&c, "db");
        let (t, _) = c.lookup("db", "a").unwrap_err();
        c.invalidate("db", "a"); // the feed saw a write while we were reading
        c.put(t, "a", &json!({"v": 1}));
        assert!(c.lookup("db", "a").is_err());
        let (t, _) = c.lookup("db", "a").unwrap_err();
        c.put(t, "a", &json!({"v": 2}));
        assert_eq!(c.lookup("db", "a").unwrap(), json!({"v": 2}));
        c.invalidate("db", "a");
        assert!(c.lookup("db", "a").is_err());
    }

    #[test]
    fn losing_the_feed_empties_the_database() {
        let c = DocCache::new(10);
        live(&c, "db");
        let (t, _) = c.lookup("db", "a").unwrap_err();
        c.put(t, "a", &json!({}));
        c.invalidate_db("db");
        assert!(c.lookup("db", "a").is_err());
    }

    #[test]
    fn bounded_by_capacity_and_document_size() {
        let c = DocCache::new(3);
        for db in ["d1", "d2"] {
            live(&c, db);
            for id in ["a", "b"] {
                let (t, _) = c.lookup(db, id).unwrap_err();
                c.put(t, id, &json!({"id": id}));
            }
        }
        assert!(c.len() <= 3, "{}", c.len());
        assert!(c.lookup("d2", "b").is_ok(), "the newest stays");
        let big = json!({"x": "y".repeat(MAX_DOC_BYTES)});
        let (t, _) = c.lookup("d2", "big").unwrap_err();
        c.put(t, "big", &big);
        assert!(c.lookup("d2", "big").is_err());
    }
}
