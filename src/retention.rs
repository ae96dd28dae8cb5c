//! Recording retention (our extension; KAZOO has no policy): per account, delete recordings
//! older than N days, with separate ages for audio kept in CouchDB and audio on the account's
//! storage (S3, HTTP). A recording past its age is soft-deleted as the recordings API
//! deletes (`pvt_deleted`), its CouchDB attachment or external object removed so the space
//! is freed. Audio at a per-call URL destination (an operator's own server) is not ours to
//! delete and is reported, not touched. Every run leaves an audit document.
//!
//! Settings: `system_data/rec_ext_retention-<account id>` `{couch_days, storage_days}`;
//! audits: `system_data/rec_ext_retention_audit-<account id>-<gregorian seconds>`.

use crate::couch::{Couch, ViewOpts, SYSTEM_DATA_DB};
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::storage::{Handler, HandlerCache};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const SETTINGS_PREFIX: &str = "rec_ext_retention-";
pub const AUDIT_PREFIX: &str = "rec_ext_retention_audit-";
/// How far back a run looks for monthly databases.
const LOOKBACK_MONTHS: u32 = 120;
const BATCH: u64 = 200;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    /// Days to keep recordings whose audio is a CouchDB attachment; None = forever.
    pub couch_days: Option<u32>,
    /// Days to keep recordings whose audio is on the account's storage; None = forever.
    pub storage_days: Option<u32>,
}

impl Policy {
    pub fn is_off(&self) -> bool {
        self.couch_days.is_none() && self.storage_days.is_none()
    }
}

/// Where a recording's audio is.
#[derive(Debug, Clone, PartialEq)]
pub enum Holding {
    Couch,
    /// On the storage handler `handler_id` at `location`.
    Storage {
        handler_id: String,
        location: Value,
    },
    /// At a per-call URL, or through a handler we cannot address.
    Elsewhere(String),
}

pub fn holding(doc: &Value) -> Holding {
    if let Some(atts) = doc.get("pvt_attachments").and_then(Value::as_object) {
        for a in atts.values() {
            let Some(h) = a.get("handler") else { continue };
            match h.get("kazoo_rec") {
                Some(ours)
                    if ours.get("handler_id").and_then(Value::as_str) != Some("overridden") =>
                {
                    return Holding::Storage {
                        handler_id: ours
                            .get("handler_id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        location: ours.get("location").cloned().unwrap_or(Value::Null),
                    }
                }
                Some(ours) => {
                    let url = ours
                        .pointer("/location/url")
                        .and_then(Value::as_str)
                        .unwrap_or("a URL");
                    return Holding::Elsewhere(format!("per-call destination {url}"));
                }
                None => return Holding::Elsewhere("a handler written by KAZOO".into()),
            }
        }
    }
    Holding::Couch
}

/// Is this recording past its age? `created` and `now` in gregorian seconds.
pub fn expired(policy: &Policy, holding: &Holding, created: i64, now: i64) -> bool {
    let days = match holding {
        Holding::Couch => policy.couch_days,
        Holding::Storage { .. } | Holding::Elsewhere(_) => policy.storage_days,
    };
    days.is_some_and(|d| created < now - i64::from(d) * 86_400)
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub account_id: String,
    pub dry_run: bool,
    pub ran_at: i64,
    pub policy: Policy,
    pub examined: u64,
    /// Recordings deleted (or, in a dry run, that would be): `{id, db, held_in, bytes}`.
    pub deleted: Vec<Value>,
    /// Past their age but left alone, with the reason.
    pub left_alone: Vec<Value>,
    pub errors: Vec<Value>,
}

fn audio_bytes(doc: &Value) -> u64 {
    ["_attachments", "pvt_attachments"]
        .iter()
        .filter_map(|k| doc.get(*k).and_then(Value::as_object))
        .flat_map(|a| a.values())
        .filter_map(|a| a.get("length").and_then(Value::as_u64))
        .sum()
}

pub async fn load_policy(couch: &Couch, account: &AccountId) -> anyhow::Result<Policy> {
    let doc = couch
        .get(SYSTEM_DATA_DB, &format!("{SETTINGS_PREFIX}{account}"))
        .await?;
    Ok(doc
        .and_then(|d| serde_json::from_value(d).ok())
        .unwrap_or_default())
}

/// Apply the policy to one account. `now` is gregorian seconds (a parameter, so tests can
/// move the clock).
pub async fn run_account(
    couch: &Couch,
    account: &AccountId,
    policy: &Policy,
    now: i64,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let mut report = Report {
        account_id: account.to_string(),
        dry_run,
        ran_at: now,
        policy: policy.clone(),
        ..Default::default()
    };
    if policy.is_off() {
        return Ok(report);
    }
    let storage = couch.get(SYSTEM_DATA_DB, account.as_str()).await?;
    let destinations = Destinations::new(storage.as_ref());
    // The youngest age decides which months can hold anything expired.
    let min_days = [policy.couch_days, policy.storage_days]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0);
    let cutoff = now - i64::from(min_days) * 86_400;
    let newest = time::year_month(time::gregorian_to_unix(cutoff));
    for db in couch
        .existing_modbs(account, newest, LOOKBACK_MONTHS)
        .await?
    {
        sweep_month(couch, &db, &destinations, policy, now, cutoff, &mut report).await?;
    }
    Ok(report)
}

/// The account's storage destinations (`attachments.<id>` of its storage document), each
/// built once per run: one S3 client and its connections per destination, not one per
/// deleted recording.
struct Destinations<'a> {
    storage: Option<&'a Value>,
    built: HandlerCache,
}

impl<'a> Destinations<'a> {
    fn new(storage: Option<&'a Value>) -> Self {
        Destinations {
            storage,
            built: HandlerCache::default(),
        }
    }

    fn handler(&self, handler_id: &str) -> Result<Handler, String> {
        let entry = self
            .storage
            .and_then(|s| s.get("attachments")?.get(handler_id))
            .ok_or_else(|| format!("storage handler {handler_id} is no longer configured"))?;
        self.built.get(entry).map_err(|e| e.to_string())
    }
}

async fn sweep_month(
    couch: &Couch,
    db: &str,
    destinations: &Destinations<'_>,
    policy: &Policy,
    now: i64,
    cutoff: i64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut start = json!([0]);
    let mut last_id: Option<String> = None;
    loop {
        let opts = ViewOpts {
            start_key: Some(start.clone()),
            end_key: Some(json!([cutoff, {}])),
            include_docs: true,
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
        let n = rows.len();
        for row in &rows {
            if row.id.is_some() && row.id == last_id {
                continue;
            }
            last_id = row.id.clone();
            start = row.key.clone();
            let Some(doc) = row.doc.clone() else { continue };
            report.examined += 1;
            apply(couch, db, destinations, policy, now, doc, report).await;
        }
        if (n as u64) <= BATCH {
            return Ok(());
        }
    }
}

async fn apply(
    couch: &Couch,
    db: &str,
    destinations: &Destinations<'_>,
    policy: &Policy,
    now: i64,
    mut doc: Value,
    report: &mut Report,
) {
    let id = doc
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let created = doc
        .get("pvt_created")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    let held = holding(&doc);
    if !expired(policy, &held, created, now) {
        return;
    }
    let (held_in, object) = match &held {
        Holding::Couch => ("couchdb".to_string(), None),
        Holding::Storage {
            handler_id,
            location,
        } => (
            format!("storage {handler_id}"),
            Some((handler_id, location)),
        ),
        Holding::Elsewhere(why) => {
            report
                .left_alone
                .push(json!({"id": id, "db": db, "reason": format!("audio at {why}")}));
            return;
        }
    };
    let entry = json!({"id": id, "db": db, "held_in": held_in, "bytes": audio_bytes(&doc), "created": created});
    if report.dry_run {
        report.deleted.push(entry);
        return;
    }
    // The external object first: a document is never marked deleted while its audio stays.
    if let Some((handler_id, location)) = object {
        let deleted = match destinations.handler(handler_id) {
            Ok(h) => h.delete(location).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = deleted {
            report.errors.push(json!({"id": id, "db": db, "error": e}));
            return;
        }
    }
    if let Some(o) = doc.as_object_mut() {
        o.remove("_attachments");
        o.insert("pvt_deleted".into(), json!(true));
        o.insert("pvt_modified".into(), json!(now));
        o.insert(
            "pvt_retention".into(),
            json!({"deleted_at": now, "held_in": held_in}),
        );
    }
    match couch.save(db, &mut doc).await {
        Ok(()) => report.deleted.push(entry),
        Err(e) => report
            .errors
            .push(json!({"id": id, "db": db, "error": e.to_string()})),
    }
}

/// Keep the run's audit document.
pub async fn save_audit(couch: &Couch, report: &Report) -> anyhow::Result<String> {
    let id = format!(
        "{AUDIT_PREFIX}{}-{}-{}",
        report.account_id,
        report.ran_at,
        crate::domain::ids::rand_hex(2)
    );
    let mut doc = serde_json::to_value(report)?;
    doc["_id"] = json!(id);
    doc["pvt_type"] = json!("rec_ext_retention_audit");
    couch.save(SYSTEM_DATA_DB, &mut doc).await?;
    Ok(id)
}

/// The background job: every account with a policy, then sleep `interval`.
pub async fn run_forever(couch: Couch, interval: std::time::Duration) {
    loop {
        if let Err(e) = run_all(&couch, time::now_gregorian()).await {
            tracing::error!(error = %e, "retention run failed");
        }
        tokio::time::sleep(interval).await;
    }
}

pub async fn run_all(couch: &Couch, now: i64) -> anyhow::Result<usize> {
    let opts = ViewOpts {
        start_key: Some(json!(SETTINGS_PREFIX)),
        end_key: Some(json!(format!("{SETTINGS_PREFIX}\u{fff0}"))),
        ..Default::default()
    };
    let mut runs = 0;
    for row in couch.all_docs(SYSTEM_DATA_DB, &opts).await? {
        let Some(doc) = row.doc else { continue };
        let account = row
            .id
            .as_deref()
            .and_then(|id| id.strip_prefix(SETTINGS_PREFIX))
            .and_then(AccountId::parse);
        let (Some(account), Ok(policy)) = (account, serde_json::from_value::<Policy>(doc)) else {
            continue;
        };
        if policy.is_off() {
            continue;
        }
        let report = run_account(couch, &account, &policy, now, false).await?;
        if !report.deleted.is_empty() || !report.errors.is_empty() {
            tracing::info!(account = %account, deleted = report.deleted.len(), errors = report.errors.len(), "retention applied");
        }
        save_audit(couch, &report).await?;
        runs += 1;
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_by_where_the_audio_is() {
        let policy = Policy {
            couch_days: Some(30),
            storage_days: None,
        };
        let now = 64_000_000_000;
        let day = 86_400;
        assert!(expired(&policy, &Holding::Couch, now - 31 * day, now));
        assert!(!expired(&policy, &Holding::Couch, now - 29 * day, now));
        let s3 = Holding::Storage {
            handler_id: "h".into(),
            location: Value::Null,
        };
        assert!(
            !expired(&policy, &s3, now - 3000 * day, now),
            "storage kept forever"
        );
        assert!(Policy::default().is_off());
    }

    #[test]
    fn a_run_builds_each_destination_once() {
        let settings = json!({"bucket": "b", "key": "k", "secret": "s", "host": "127.0.0.1"});
        let storage = json!({"attachments": {
            "h1": {"handler": "s3", "settings": settings},
            "h/2": {"handler": "s3", "settings": settings},
            "bad": {"handler": "s3", "settings": {}},
        }});
        let d = Destinations::new(Some(&storage));
        let s3 = |id: &str| match d.handler(id).unwrap() {
            Handler::S3(s) => s,
            other => panic!("{other:?}"),
        };
        assert!(s3("h1").shares_client(&s3("h1")));
        // an id is a key, not a path
        assert!(matches!(d.handler("h/2"), Ok(Handler::S3(_))));
        assert!(d
            .handler("gone")
            .unwrap_err()
            .contains("no longer configured"));
        assert!(d.handler("bad").is_err());
        assert!(Destinations::new(None).handler("h1").is_err());
    }

    #[test]
    fn holdings() {
        assert_eq!(
            holding(&json!({"_attachments": {"a.mp3": {}}})),
            Holding::Couch
        );
        let s3 = json!({"pvt_attachments": {"a.mp3": {"handler": {"kazoo_rec": {"handler_id": "h1", "kind": "s3", "location": {"key": "k"}}}}}});
        assert_eq!(
            holding(&s3),
            Holding::Storage {
                handler_id: "h1".into(),
                location: json!({"key": "k"})
            }
        );
        let url = json!({"pvt_attachments": {"a.mp3": {"handler": {"kazoo_rec": {"handler_id": "overridden", "location": {"url": "https://x/y"}}}}}});
        assert!(matches!(holding(&url), Holding::Elsewhere(_)));
        let kazoo = json!({"pvt_attachments": {"a.mp3": {"handler": {"s3": {}}}}});
        assert!(matches!(holding(&kazoo), Holding::Elsewhere(_)));
    }
}
