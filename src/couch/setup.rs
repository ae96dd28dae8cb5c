//! Setting databases up: created, with our design documents in place.
//!
//! Writers into a database that may not exist yet (a new month's database) call
//! [`Couch::save_in`]. A database this process set up less than [`READY_FOR`] ago is taken as
//! ready, which saves the create and design-document round trips on every recording and CDR
//! written (a recording's answer waits for its document).
//!
//! A database deleted by someone else (KAZOO deleting an account) answers the next write
//! with 404, on CouchDB 3 and pouchdb-server alike; it is then set up again. The time limit
//! covers what a 404 cannot show: a database deleted and re-created by someone else, without
//! our views (a listing that finds a view missing also adds it, [`Couch::view_adding`]).

use super::{Couch, CouchError, CouchResult};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a database set up by this process is trusted to still be there.
pub const READY_FOR: Duration = Duration::from_secs(60);
/// Databases remembered at most (one per account and month written to within `READY_FOR`).
const MAX_REMEMBERED: usize = 4096;

/// The databases set up recently, and a count of forgets: a set-up that raced a deletion
/// (the count moved meanwhile) is not remembered.
#[derive(Default)]
pub struct Ready(Mutex<(HashMap<String, Instant>, u64)>);

impl Ready {
    fn lock(&self) -> MutexGuard<'_, (HashMap<String, Instant>, u64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// None when `db` was set up less than [`READY_FOR`] before `now`; else the forget count
    /// to hand back to [`Ready::remember`].
    fn check(&self, db: &str, now: Instant) -> Option<u64> {
        let g = self.lock();
        match g.0.get(db) {
            Some(t) if now.saturating_duration_since(*t) < READY_FOR => None,
            _ => Some(g.1),
        }
    }

    /// `db` was set up, starting at `since`, unless something was forgotten meanwhile.
    fn remember(&self, db: &str, since: Instant, forgets: u64) {
        let mut g = self.lock();
        if g.1 != forgets {
            return;
        }
        if g.0.len() >= MAX_REMEMBERED {
            g.0.retain(|_, t| since.saturating_duration_since(*t) < READY_FOR);
            if g.0.len() >= MAX_REMEMBERED {
                g.0.clear();
            }
        }
        g.0.insert(db.to_string(), since);
    }

    /// `db` was deleted (or found missing): set it up again before the next write.
    pub fn forget(&self, db: &str) {
        let mut g = self.lock();
        g.0.remove(db);
        g.1 += 1;
    }
}

impl Couch {
    /// Create `db` with the design documents `docs` unless this process did so a moment ago.
    /// A database always gets the same `docs` (its kind's), so the name alone is remembered.
    /// `created` is set when this call created the database, even if setting it up failed
    /// afterwards.
    pub async fn ensure_db(&self, db: &str, docs: &[Value], created: &mut bool) -> CouchResult<()> {
        let since = Instant::now();
        let Some(forgets) = self.ready.check(db, since) else {
            return Ok(());
        };
        *created |= self.create_db(db).await?;
        self.ensure_design_docs(db, docs).await?;
        self.ready.remember(db, since, forgets);
        Ok(())
    }

    /// Save `doc` into `db`, setting the database up first (see [`Couch::ensure_db`]). A
    /// database deleted since it was set up (CouchDB and pouchdb-server answer the write
    /// with 404) is set up again.
    ///
    /// A monthly database this call created is checked against its account afterwards,
    /// whether the write went through or not: an account deleted meanwhile would otherwise
    /// keep a month's database re-created behind the deletion. It is removed again and the
    /// write fails as NotFound. Our deletion lists the monthly databases once more after the
    /// account's database is gone (`api::accounts::delete_account`), so a write racing it
    /// leaves none behind: a writer that checked before the account's database went had
    /// created its database before the second listing. KAZOO's deletion has no second
    /// listing; a write between its listing and the account database's removal can still
    /// leave one. So can a check or a removal that fails (CouchDB unreachable): a check that
    /// fails counts the account as there, never removing a live account's database.
    pub async fn save_in(&self, db: &str, docs: &[Value], doc: &mut Value) -> CouchResult<()> {
        let mut created = false;
        let saved = self.set_up_and_save(db, docs, doc, &mut created).await;
        if created {
            if let Some(account) = crate::domain::ids::modb_account(db) {
                if !self.db_exists(&account.db()).await.unwrap_or(true) {
                    match self.delete_db(db).await {
                        Ok(()) => {
                            tracing::info!(db = %db, "monthly database of a deleted account removed again")
                        }
                        Err(e) => {
                            tracing::warn!(db = %db, error = %e, "could not remove a monthly database re-created for a deleted account")
                        }
                    }
                    return Err(CouchError::NotFound);
                }
            }
        }
        saved
    }

    async fn set_up_and_save(
        &self,
        db: &str,
        docs: &[Value],
        doc: &mut Value,
        created: &mut bool,
    ) -> CouchResult<()> {
        self.ensure_db(db, docs, created).await?;
        match self.save(db, doc).await {
            Err(CouchError::NotFound) => {
                self.ensure_db(db, docs, created).await?;
                self.save(db, doc).await
            }
            other => other,
        }
    }

    /// Create or update design documents so they match `docs` (by `_id`); unchanged ones
    /// are left alone, so this is cheap to call on every start. A design document KAZOO
    /// wrote (one without our `kazoo_rec` marker) is never replaced, only given the views
    /// it lacks: KAZOO and this service share databases, and KAZOO's views are the
    /// reference ours follow. The existing ones are read in one request.
    pub async fn ensure_design_docs(&self, db: &str, docs: &[Value]) -> CouchResult<()> {
        let ids: Vec<&str> = docs
            .iter()
            .filter_map(|d| d.get("_id").and_then(Value::as_str))
            .collect();
        let mut existing = self.docs_by_id(db, &ids).await?;
        for wanted in docs {
            let Some(id) = wanted.get("_id").and_then(Value::as_str) else {
                continue;
            };
            let Some(mut doc) = design_doc_update(existing.remove(id), wanted) else {
                continue;
            };
            match self.save(db, &mut doc).await {
                Ok(()) | Err(CouchError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The documents with these ids that exist (deleted and missing ones left out; none at
    /// all when the database does not exist).
    async fn docs_by_id(&self, db: &str, ids: &[&str]) -> CouchResult<HashMap<String, Value>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self.all_docs_by_keys(db, ids, true).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.id?, r.doc?)))
            .collect())
    }
}

/// What to save for the design document `wanted` given the `existing` one, if anything.
fn design_doc_update(existing: Option<Value>, wanted: &Value) -> Option<Value> {
    let mut doc = wanted.clone();
    doc["kazoo_rec"] = Value::Bool(true);
    let Some(existing) = existing else {
        return Some(doc);
    };
    if existing.get("kazoo_rec").is_some() {
        if existing.get("views") == wanted.get("views") {
            return None;
        }
        if let (Some(rev), Some(obj)) = (existing.get("_rev"), doc.as_object_mut()) {
            obj.insert("_rev".into(), rev.clone());
        }
        return Some(doc);
    }
    // KAZOO's: add the views it lacks, keep everything else
    let mut merged = existing;
    let have = merged.get_mut("views")?.as_object_mut()?;
    let want = wanted.get("views")?.as_object()?;
    let mut added = false;
    for (k, v) in want {
        if !have.contains_key(k) {
            have.insert(k.clone(), v.clone());
            added = true;
        }
    }
    added.then_some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_database_set_up_is_ready_for_a_while() {
        let r = Ready::default();
        let t0 = Instant::now();
        let n = r.check("db", t0).expect("not set up yet");
        r.remember("db", t0, n);
        assert!(r.check("db", t0 + READY_FOR / 2).is_none());
        assert!(
            r.check("db", t0 + READY_FOR).is_some(),
            "checked again later"
        );
        assert!(r.check("other", t0).is_some());
    }

    #[test]
    fn a_deleted_database_is_set_up_again() {
        let r = Ready::default();
        let t0 = Instant::now();
        r.remember("db", t0, r.check("db", t0).unwrap());
        r.forget("db");
        assert!(r.check("db", t0).is_some());
    }

    #[test]
    fn a_set_up_racing_a_deletion_is_not_remembered() {
        let r = Ready::default();
        let t0 = Instant::now();
        let n = r.check("db", t0).unwrap();
        r.forget("db"); // deleted while being set up
        r.remember("db", t0, n);
        assert!(r.check("db", t0).is_some());
    }

    #[test]
    fn the_memory_stays_bounded() {
        let r = Ready::default();
        let t0 = Instant::now();
        for i in 0..MAX_REMEMBERED + 10 {
            r.remember(&format!("db{i}"), t0, 0);
        }
        assert!(r.lock().0.len() <= MAX_REMEMBERED);
    }

    #[test]
    fn design_documents_are_saved_only_when_they_differ() {
        let wanted = json!({"_id": "_design/x", "views": {"a": {"map": "m"}}});
        let new = design_doc_update(None, &wanted).unwrap();
        assert_eq!(new["kazoo_rec"], json!(true));
        let ours = json!({"_id": "_design/x", "_rev": "1-a", "kazoo_rec": true, "views": {"a": {"map": "m"}}});
        assert!(design_doc_update(Some(ours), &wanted).is_none());
        let stale = json!({"_id": "_design/x", "_rev": "1-a", "kazoo_rec": true, "views": {"a": {"map": "old"}}});
        let updated = design_doc_update(Some(stale), &wanted).unwrap();
        assert_eq!(
            (
                updated["_rev"].clone(),
                updated["views"]["a"]["map"].clone()
            ),
            (json!("1-a"), json!("m"))
        );
        // KAZOO's own: never replaced, only given missing views
        let kazoo = json!({"_id": "_design/x", "_rev": "2-b", "language": "javascript", "views": {"b": {"map": "k"}}});
        let merged = design_doc_update(Some(kazoo.clone()), &wanted).unwrap();
        assert_eq!(merged["views"]["b"]["map"], json!("k"));
        assert_eq!(merged["views"]["a"]["map"], json!("m"));
        assert!(merged.get("kazoo_rec").is_none());
        let complete = json!({"_id": "_design/x", "_rev": "2-b", "views": {"a": {"map": "k"}}});
        assert!(design_doc_update(Some(complete), &wanted).is_none());
    }
}
