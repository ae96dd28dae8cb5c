//! Moving an account's stored recordings from CouchDB attachments to the account's storage
//! handler for `call_recording` (S3 first): `kazoo-rec migrate-recordings`.
//!
//! Per recording: stream the attachment to the handler, check the MD5 the handler computed
//! against CouchDB's digest of the attachment, then in one document revision drop the
//! attachment and record KAZOO-style `pvt_attachments` pointing at the object. So an
//! interrupted run leaves every recording either untouched or fully moved; the object key
//! is derived from the document, so a rerun overwrites an orphaned upload instead of adding
//! one (idempotent, resumable).

use crate::couch::{Couch, ViewOpts, SYSTEM_DATA_DB};
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::storage::{Handler, ObjectMeta, PathContext};
use base64::Engine;
use futures_util::TryStreamExt;
use serde_json::{json, Value};

const LOOKBACK_MONTHS: u32 = 120;
const BATCH: u64 = 100;

/// The account's `call_recording` storage: (handler id, handler, folder path).
pub async fn target(
    couch: &Couch,
    account: &AccountId,
) -> anyhow::Result<(String, Handler, Option<String>)> {
    let storage = couch
        .get(SYSTEM_DATA_DB, account.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {account} has no storage document: configure one first (PUT /v2/accounts/{{A}}/storage)"))?;
    let plan = storage.pointer("/plan/modb/types/call_recording/attachments");
    let handler_id = plan
        .and_then(|a| a.get("handler"))
        .or_else(|| storage.pointer("/plan/modb/attachments/handler"))
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the storage plan has no handler for call_recording"))?
        .to_string();
    let entry = storage
        .pointer(&format!("/attachments/{handler_id}"))
        .ok_or_else(|| anyhow::anyhow!("storage handler {handler_id} is not configured"))?;
    let handler = Handler::from_attachment(entry)?;
    if let Handler::Other { kind } = &handler {
        anyhow::bail!("this service cannot write to {kind} storage");
    }
    let folder = plan
        .and_then(|a| a.pointer("/params/folder_path"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok((handler_id, handler, folder))
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub examined: u64,
    pub migrated: u64,
    pub bytes: u64,
    /// Recordings already on storage (a previous run, or delivered there).
    pub already: u64,
    pub failed: Vec<(String, String)>,
}

/// What happened to one recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Migrated { bytes: u64 },
    WouldMigrate { bytes: u64 },
    Already,
    Failed(String),
}

/// CouchDB's attachment digest (`md5-<base64>`) as lower-case hex.
pub fn digest_hex(digest: &str) -> Option<String> {
    let b64 = digest.strip_prefix("md5-")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(hex::encode(raw))
}

/// The monthly databases of the account that exist, newest first.
pub async fn months(couch: &Couch, account: &AccountId) -> anyhow::Result<Vec<String>> {
    let now = time::year_month(time::now_unix());
    Ok(couch.existing_modbs(account, now, LOOKBACK_MONTHS).await?)
}

/// Count the recordings of a month (for the progress bar's length).
pub async fn count(couch: &Couch, db: &str) -> anyhow::Result<u64> {
    let opts = ViewOpts::default();
    match couch
        .view(db, "recordings", "crossbar_listing", &opts)
        .await
    {
        Ok(rows) => Ok(rows.len() as u64),
        Err(crate::couch::CouchError::NotFound) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Migrate (or, with `dry_run`, assess) every recording of one monthly database, calling
/// `progress` after each.
#[allow(clippy::too_many_arguments)]
pub async fn migrate_month(
    couch: &Couch,
    account: &AccountId,
    db: &str,
    target: &(String, Handler, Option<String>),
    dry_run: bool,
    summary: &mut Summary,
    progress: &(dyn Fn(&str, &Outcome) + Sync),
) -> anyhow::Result<()> {
    let mut start = json!([0]);
    let mut last: Option<String> = None;
    loop {
        let opts = ViewOpts {
            start_key: Some(start.clone()),
            end_key: Some(json!([i64::MAX, {}])),
            limit: Some(BATCH + 1),
            ..Default::default()
        };
        let rows = match couch
            .view(db, "recordings", "crossbar_listing", &opts)
            .await
        {
            Ok(r) => r,
            Err(crate::couch::CouchError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let n = rows.len() as u64;
        for row in rows {
            if row.id.is_some() && row.id == last {
                continue;
            }
            last = row.id.clone();
            start = row.key.clone();
            let Some(id) = row.id else { continue };
            summary.examined += 1;
            let outcome = match one(couch, account, db, &id, target, dry_run).await {
                Ok(o) => o,
                Err(e) => Outcome::Failed(e.to_string()),
            };
            match &outcome {
                Outcome::Migrated { bytes } | Outcome::WouldMigrate { bytes } => {
                    summary.migrated += 1;
                    summary.bytes += bytes;
                }
                Outcome::Already => summary.already += 1,
                Outcome::Failed(e) => summary.failed.push((id.clone(), e.clone())),
            }
            progress(&id, &outcome);
        }
        if n <= BATCH {
            return Ok(());
        }
    }
}

async fn one(
    couch: &Couch,
    account: &AccountId,
    db: &str,
    id: &str,
    (handler_id, handler, folder): &(String, Handler, Option<String>),
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let Some(doc) = couch.get(db, id).await? else {
        return Ok(Outcome::Already);
    };
    let Some(atts) = doc.get("_attachments").and_then(Value::as_object).cloned() else {
        return Ok(Outcome::Already);
    };
    let total: u64 = atts
        .values()
        .filter_map(|a| a.get("length").and_then(Value::as_u64))
        .sum();
    if dry_run {
        return Ok(Outcome::WouldMigrate { bytes: total });
    }
    let month = id.split('-').next().unwrap_or_default();
    let mut stubs = serde_json::Map::new();
    for (name, meta) in &atts {
        let want = meta
            .get("digest")
            .and_then(Value::as_str)
            .and_then(digest_hex)
            .ok_or_else(|| anyhow::anyhow!("attachment {name} has no md5 digest"))?;
        let read = couch
            .get_attachment(db, id, name, None)
            .await?
            .ok_or_else(|| anyhow::anyhow!("attachment {name} vanished"))?;
        let ctx = PathContext {
            account_id: account.to_string(),
            db: format!("{}-{month}", account.encoded_db()),
            doc_id: id.to_string(),
            attachment: name.clone(),
            doc: crate::domain::json::public_fields(&doc),
            folder_path: folder.clone(),
        };
        let body: crate::storage::ByteStream = Box::pin(read.body.map_err(std::io::Error::other));
        let stored = handler
            .put(
                &ctx,
                ObjectMeta {
                    content_type: read.content_type.clone(),
                    length: read.total,
                },
                body,
            )
            .await?;
        if stored.md5_hex != want {
            // Never drop the CouchDB copy of something that did not arrive intact.
            anyhow::bail!(
                "checksum mismatch for {name}: CouchDB {want}, storage {}",
                stored.md5_hex
            );
        }
        stubs.insert(
            name.clone(),
            json!({"content_type": read.content_type, "length": stored.bytes, "stub": false,
                   "handler": {"kazoo_rec": {"handler_id": handler_id, "kind": handler.kind(), "location": stored.location}},
                   "metadata": {"etag": stored.etag}}),
        );
    }
    // One revision: the attachments go, the pointers come. A concurrent change means a rerun.
    let mut doc = doc;
    for (name, stub) in stubs {
        doc["pvt_attachments"][&name] = stub;
    }
    if let Some(o) = doc.as_object_mut() {
        o.remove("_attachments");
        o.insert("pvt_modified".into(), json!(time::now_gregorian()));
    }
    couch.save(db, &mut doc).await?;
    Ok(Outcome::Migrated { bytes: total })
}

#[cfg(test)]
mod tests {
    #[test]
    fn couch_digests() {
        // md5("abc") = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(
            super::digest_hex("md5-kAFQmDzST7DWlj99KOF/cg==").as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(super::digest_hex("sha-xyz"), None);
    }
}
