//! The one CouchDB layer: connection, database names, documents, views and design docs.
//!
//! Everything above this module speaks in real database names (`account/ab/cd/…`) and JSON
//! documents; percent-encoding of names happens only here. It speaks CouchDB's HTTP API
//! with one `reqwest` client: no gzip (a loopback or LAN hop; audio does not compress), idle
//! connections dropped before a server closes them (Node's pouchdb-server closes after 5 s;
//! reusing such a connection fails the request), streamed attachment bodies, and databases
//! created only by [`Couch::create_db`], never as a side effect of a read.

pub mod cache;
mod collate;
pub use collate::collate;
pub mod pvt;
mod setup;
pub mod views;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

/// System databases (names as KAZOO uses them).
pub const ACCOUNTS_DB: &str = "accounts";
pub const SYSTEM_CONFIG_DB: &str = "system_config";
pub const SYSTEM_DATA_DB: &str = "system_data";
pub const TOKEN_AUTH_DB: &str = "token_auth";

#[derive(Debug, thiserror::Error)]
pub enum CouchError {
    #[error("not found")]
    NotFound,
    #[error("document update conflict")]
    Conflict,
    #[error("datastore unreachable: {0}")]
    Unreachable(String),
    #[error("datastore error {status}: {message}")]
    Other { status: u16, message: String },
}

pub type CouchResult<T> = Result<T, CouchError>;

/// Options of a view query, with KAZOO's names.
#[derive(Debug, Clone, Default)]
pub struct ViewOpts {
    pub start_key: Option<Value>,
    pub end_key: Option<Value>,
    pub key: Option<Value>,
    pub keys: Vec<Value>,
    pub descending: bool,
    pub include_docs: bool,
    pub limit: Option<u64>,
    pub reduce: Option<bool>,
    pub group_level: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: Option<String>,
    pub key: Value,
    pub value: Value,
    pub doc: Option<Value>,
}

#[derive(Clone)]
pub struct Couch {
    http: reqwest::Client,
    base: String,
    auth: Option<(String, Option<String>)>,
    /// Crossbar's document cache (off unless [`Couch::with_doc_cache`]).
    cache: Option<std::sync::Arc<cache::DocCache>>,
    /// Databases this process set up (created, views in place) a moment ago.
    ready: std::sync::Arc<setup::Ready>,
}

pub fn encode_db_name(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

/// A document id in a URL path (`_design/x` included: CouchDB decodes `%2F`).
fn enc_id(id: &str) -> String {
    utf8_percent_encode(id, NON_ALPHANUMERIC).to_string()
}

/// Ids per `_all_docs` request in [`Couch::open_docs`] (bounded request and answer sizes).
pub const OPEN_DOCS_BATCH: usize = 200;

/// A view answer's rows (reduce rows have no id, `keys` misses have no value).
#[derive(serde::Deserialize)]
struct ViewResult {
    #[serde(default)]
    rows: Vec<ViewRow>,
}

#[derive(serde::Deserialize)]
struct ViewRow {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    key: Value,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    doc: Option<Value>,
}

fn seq_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON answer, with CouchDB's statuses mapped to ours.
/// CouchDB's refusal of a view range whose start lies past its end in the direction asked
/// (`check_range` in couch_mrview_util: 400 `query_parse_error`).
fn is_backwards_range(e: &CouchError) -> bool {
    matches!(e, CouchError::Other { status: 400, message }
        if message.contains("query_parse_error") && message.contains("No rows can match your key range"))
}

async fn json_response<T: serde::de::DeserializeOwned>(
    resp: reqwest::Result<reqwest::Response>,
) -> CouchResult<T> {
    let resp = resp.map_err(|e| CouchError::Unreachable(e.to_string()))?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => {
            let body = resp.bytes().await.map_err(|e| {
                CouchError::Unreachable(if e.is_timeout() {
                    "timed out".into()
                } else {
                    e.to_string()
                })
            })?;
            serde_json::from_slice(&body).map_err(|e| CouchError::Other {
                status,
                message: format!("unexpected answer: {e}"),
            })
        }
        404 => Err(CouchError::NotFound),
        409 => Err(CouchError::Conflict),
        _ => Err(CouchError::Other {
            status,
            message: resp.text().await.unwrap_or_default(),
        }),
    }
}

impl Couch {
    /// `url` may carry credentials (`http://admin:secret@host:5984`).
    pub fn connect(url: &str) -> anyhow::Result<Couch> {
        let mut parsed = url::Url::parse(url)?;
        let user = percent_encoding::percent_decode_str(parsed.username())
            .decode_utf8()?
            .to_string();
        let pass = parsed
            .password()
            .map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8()
                    .map(|s| s.to_string())
            })
            .transpose()?;
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let base = parsed.as_str().trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .pool_idle_timeout(std::time::Duration::from_secs(3))
            .no_gzip()
            .build()?;
        let auth = (!user.is_empty()).then(|| (user.clone(), pass.clone()));
        Ok(Couch {
            http,
            base,
            auth,
            cache: None,
            ready: Default::default(),
        })
    }

    /// Serve [`Couch::get_cached`] from a cache of up to `capacity` documents (0: no cache).
    pub fn with_doc_cache(mut self, capacity: usize) -> Couch {
        self.cache = (capacity > 0).then(|| std::sync::Arc::new(cache::DocCache::new(capacity)));
        self
    }

    /// A document we wrote (a doc without `_id` is new: nothing to drop).
    fn changed(&self, db: &str, id: Option<&str>) {
        if let (Some(c), Some(id)) = (&self.cache, id) {
            c.invalidate(db, id);
        }
    }

    /// A document as crossbar loads it (`kz_datamgr:open_cache_doc`): from the cache when
    /// the database's change feed is live, else from CouchDB (and then kept).
    pub async fn get_cached(&self, db: &str, id: &str) -> CouchResult<Option<Value>> {
        let Some(cache) = &self.cache else {
            return self.get(db, id).await;
        };
        let ticket = match cache.lookup(db, id) {
            Ok(doc) => return Ok(Some(doc)),
            Err((ticket, needs_feed)) => {
                if needs_feed {
                    cache::start_feed(self.clone(), cache.clone(), db.to_string());
                }
                ticket
            }
        };
        let doc = self.get(db, id).await?;
        if let Some(d) = &doc {
            cache.put(ticket, id, d);
        }
        Ok(doc)
    }

    /// The database's current update sequence (opaque: a number on pouchdb, a string on
    /// CouchDB 2+), as `_changes` takes it back.
    pub async fn update_seq(&self, db: &str) -> CouchResult<String> {
        let url = format!("{}/{}", self.base, encode_db_name(db));
        let info: Value =
            json_response(self.json_request(reqwest::Method::GET, &url).send().await).await?;
        Ok(seq_string(&info["update_seq"]))
    }

    /// Ids changed after `since` (waiting up to `wait_ms` for one), and the new sequence;
    /// `Unreachable("timed out")` when nothing changed in time.
    pub async fn changes_since(
        &self,
        db: &str,
        since: &str,
        wait_ms: u64,
    ) -> CouchResult<(Vec<String>, String)> {
        let url = format!("{}/{}/_changes", self.base, encode_db_name(db));
        let resp = self
            .raw(reqwest::Method::GET, &url)
            .query(&[
                ("feed", "longpoll"),
                ("since", since),
                ("timeout", &wait_ms.to_string()),
            ])
            .timeout(std::time::Duration::from_millis(wait_ms + 10_000))
            .send()
            .await;
        if let Err(e) = &resp {
            if e.is_timeout() {
                return Err(CouchError::Unreachable("timed out".into()));
            }
        }
        let body: Value = json_response(resp).await?;
        let ids = body["results"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let last = match &body["last_seq"] {
            Value::Null => since.to_string(),
            v => seq_string(v),
        };
        Ok((ids, last))
    }

    fn db_url(&self, name: &str) -> String {
        format!("{}/{}", self.base, encode_db_name(name))
    }

    pub async fn db_exists(&self, name: &str) -> CouchResult<bool> {
        let resp = self
            .json_request(reqwest::Method::HEAD, &self.db_url(name))
            .send()
            .await
            .map_err(|e| CouchError::Unreachable(e.to_string()))?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(CouchError::Other {
                status: s,
                message: format!("HEAD database: {s}"),
            }),
        }
    }

    /// Create a database; an existing one is fine (412 from CouchDB).
    /// Create the database unless it exists; true when this call created it.
    pub async fn create_db(&self, name: &str) -> CouchResult<bool> {
        let resp = self
            .json_request(reqwest::Method::PUT, &self.db_url(name))
            .send()
            .await
            .map_err(|e| CouchError::Unreachable(e.to_string()))?;
        match resp.status().as_u16() {
            200..=202 => Ok(true),
            412 => Ok(false),
            s => Err(CouchError::Other {
                status: s,
                message: resp.text().await.unwrap_or_default(),
            }),
        }
    }

    pub async fn delete_db(&self, name: &str) -> CouchResult<()> {
        if let Some(c) = &self.cache {
            c.invalidate_db(name);
        }
        self.ready.forget(name);
        let resp = self
            .json_request(reqwest::Method::DELETE, &self.db_url(name))
            .send()
            .await
            .map_err(|e| CouchError::Unreachable(e.to_string()))?;
        // again: a set-up that ran while the DELETE was on its way must not be trusted
        self.ready.forget(name);
        match resp.status().as_u16() {
            200..=202 | 404 => Ok(()),
            s => Err(CouchError::Other {
                status: s,
                message: resp.text().await.unwrap_or_default(),
            }),
        }
    }

    /// A document, or None when it (or its database) does not exist.
    pub async fn get(&self, db: &str, id: &str) -> CouchResult<Option<Value>> {
        let url = format!("{}/{}/{}", self.base, encode_db_name(db), enc_id(id));
        let resp = self.json_request(reqwest::Method::GET, &url).send().await;
        match json_response(resp).await {
            Ok(v) => Ok(Some(v)),
            Err(CouchError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Save `doc` (which must carry `_id`), updating its `_rev`. A stale or missing `_rev`
    /// for an existing id is [`CouchError::Conflict`].
    pub async fn save(&self, db: &str, doc: &mut Value) -> CouchResult<()> {
        let id = doc
            .get("_id")
            .and_then(Value::as_str)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| CouchError::Other {
                status: 400,
                message: "a document to save needs an _id".into(),
            })?
            .to_string();
        self.changed(db, Some(&id));
        let url = format!("{}/{}", self.db_url(db), enc_id(&id));
        let resp = self
            .json_request(reqwest::Method::PUT, &url)
            .json(&*doc)
            .send()
            .await;
        let result: CouchResult<Value> = json_response(resp).await;
        // after the write too: a read that raced it must not be kept
        self.changed(db, Some(&id));
        if matches!(result, Err(CouchError::NotFound)) {
            self.ready.forget(db); // deleted by someone else
        }
        let rev = result?["rev"].as_str().map(str::to_string);
        if let (Some(rev), Some(o)) = (rev, doc.as_object_mut()) {
            o.insert("_rev".into(), Value::String(rev));
        }
        Ok(())
    }

    /// Save many docs at once (`_bulk_docs`); returns per-doc success (and sets the `_id`
    /// and `_rev` of those saved).
    pub async fn save_many(&self, db: &str, docs: &mut [Value]) -> CouchResult<Vec<bool>> {
        let url = format!("{}/_bulk_docs", self.db_url(db));
        let resp = self
            .json_request(reqwest::Method::POST, &url)
            .json(&serde_json::json!({ "docs": &*docs }))
            .send()
            .await;
        let results: CouchResult<Vec<Value>> = json_response(resp).await;
        for d in docs.iter() {
            self.changed(db, d.get("_id").and_then(Value::as_str));
        }
        let results = results?;
        if results.len() != docs.len() {
            return Err(CouchError::Other {
                status: 500,
                message: format!(
                    "_bulk_docs answered {} results for {} docs",
                    results.len(),
                    docs.len()
                ),
            });
        }
        Ok(docs
            .iter_mut()
            .zip(results)
            .map(|(doc, r)| {
                let (Some(id), Some(rev)) = (r["id"].as_str(), r["rev"].as_str()) else {
                    return false;
                };
                if r.get("error").is_some() {
                    return false;
                }
                if let Some(o) = doc.as_object_mut() {
                    o.insert("_id".into(), Value::String(id.into()));
                    o.insert("_rev".into(), Value::String(rev.into()));
                }
                true
            })
            .collect())
    }

    pub async fn view(
        &self,
        db: &str,
        design: &str,
        view: &str,
        opts: &ViewOpts,
    ) -> CouchResult<Vec<Row>> {
        let url = format!(
            "{}/{}/_design/{}/_view/{}",
            self.base,
            encode_db_name(db),
            enc_id(design),
            enc_id(view)
        );
        let mut body = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                body.insert(k.to_string(), v);
            }
        };
        put("start_key", opts.start_key.clone());
        put("end_key", opts.end_key.clone());
        put("key", opts.key.clone());
        put(
            "keys",
            (!opts.keys.is_empty()).then(|| Value::Array(opts.keys.clone())),
        );
        put("descending", opts.descending.then_some(Value::Bool(true)));
        put(
            "include_docs",
            opts.include_docs.then_some(Value::Bool(true)),
        );
        put("limit", opts.limit.map(Value::from));
        put("reduce", opts.reduce.map(Value::Bool));
        put("group_level", opts.group_level.map(Value::from));
        let resp = self
            .json_request(reqwest::Method::POST, &url)
            .json(&body)
            .send()
            .await;
        let result: ViewResult = match json_response(resp).await {
            Ok(r) => r,
            // CouchDB refuses a range whose start lies past its end in the direction asked
            // (400 query_parse_error), where pouchdb answers no rows. No rows it is: a
            // client's start key beyond the range is an empty page, not a datastore fault.
            Err(e) if is_backwards_range(&e) => {
                tracing::debug!(db, design, view, "a key range running backwards: no rows");
                ViewResult { rows: vec![] }
            }
            Err(e) => return Err(e),
        };
        Ok(result
            .rows
            .into_iter()
            .map(|r| Row {
                id: r.id,
                key: r.key,
                value: r.value,
                doc: r.doc,
            })
            .collect())
    }

    /// A view query that first adds `docs` when the view is missing (a database made before
    /// the view existed, or by KAZOO without it), then asks again.
    pub async fn view_adding(
        &self,
        db: &str,
        design: &str,
        view: &str,
        opts: &ViewOpts,
        docs: &[Value],
    ) -> CouchResult<Vec<Row>> {
        match self.view(db, design, view, opts).await {
            // (a missing database stays missing: pouchdb-server would create it on a write)
            Err(CouchError::NotFound) if !docs.is_empty() && self.db_exists(db).await? => {
                self.ensure_design_docs(db, docs).await?;
                self.view(db, design, view, opts).await
            }
            other => other,
        }
    }

    /// The account's monthly databases that exist, newest first, from `newest` back over
    /// `months` months.
    pub async fn existing_modbs(
        &self,
        account: &crate::domain::ids::AccountId,
        newest: (i32, u32),
        months: u32,
    ) -> CouchResult<Vec<String>> {
        let (mut y, mut m) = newest;
        let mut out = vec![];
        for _ in 0..months {
            let db = account.modb(y, m);
            if self.db_exists(&db).await? {
                out.push(db);
            }
            (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        }
        Ok(out)
    }

    /// Every monthly database of the account, whatever its month (`_all_dbs`, narrowed by
    /// key range where the server supports it; pouchdb-server ignores the range and drops
    /// the slashes from names, which `modb_suffix` reads too).
    pub async fn account_modbs(
        &self,
        account: &crate::domain::ids::AccountId,
    ) -> CouchResult<Vec<String>> {
        let prefix = format!("{}-", account.db());
        let range = [
            ("start_key", Value::String(prefix.clone())),
            ("end_key", Value::String(format!("{prefix}\u{fff0}"))),
        ];
        let query: Vec<(&str, String)> = range.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let resp = self
            .json_request(reqwest::Method::GET, &format!("{}/_all_dbs", self.base))
            .query(&query)
            .send()
            .await;
        let names: Vec<String> = json_response(resp).await?;
        Ok(names
            .iter()
            .filter_map(|n| account.modb_suffix(n))
            .map(|suffix| format!("{prefix}{suffix}"))
            .collect())
    }

    /// Whether the document was deleted (CouchDB keeps a tombstone; a document that never
    /// existed, or whose database does not, is not "deleted").
    pub async fn doc_deleted(&self, db: &str, id: &str) -> CouchResult<bool> {
        let rows = self.all_docs_by_keys(db, &[id], false).await?;
        Ok(rows
            .iter()
            .any(|r| r.value.get("deleted").and_then(Value::as_bool) == Some(true)))
    }

    /// The documents with these ids that exist (not deleted), in the order asked: one
    /// `_all_docs` request per [`OPEN_DOCS_BATCH`] ids (KAZOO's `kz_datamgr:open_docs`)
    /// rather than a GET each; none when the database does not exist.
    pub async fn open_docs(&self, db: &str, ids: &[&str]) -> CouchResult<Vec<Value>> {
        let mut docs = Vec::with_capacity(ids.len());
        for batch in ids.chunks(OPEN_DOCS_BATCH) {
            let rows = self.all_docs_by_keys(db, batch, true).await?;
            docs.extend(
                rows.into_iter()
                    .filter_map(|r| r.doc.filter(Value::is_object)),
            );
        }
        Ok(docs)
    }

    /// `_all_docs` rows for these ids (one per id: deleted ones carry `value.deleted`, missing
    /// ones no `id`); none when the database does not exist.
    async fn all_docs_by_keys(
        &self,
        db: &str,
        ids: &[&str],
        include_docs: bool,
    ) -> CouchResult<Vec<ViewRow>> {
        let url = format!("{}/_all_docs?include_docs={include_docs}", self.db_url(db));
        let resp = self
            .json_request(reqwest::Method::POST, &url)
            .json(&serde_json::json!({ "keys": ids }))
            .send()
            .await;
        match json_response::<ViewResult>(resp).await {
            Ok(r) => Ok(r.rows),
            Err(CouchError::NotFound) => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    /// Is the server answering at all (used by readiness checks and start-up waits)?
    pub async fn ping(&self) -> bool {
        self.json_request(reqwest::Method::GET, &format!("{}/", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

impl Couch {
    /// `_all_docs` with the documents (design documents and error rows left out).
    pub async fn all_docs(&self, db: &str, opts: &ViewOpts) -> CouchResult<Vec<Row>> {
        let mut body = serde_json::Map::new();
        body.insert("include_docs".into(), Value::Bool(true));
        for (k, v) in [("start_key", &opts.start_key), ("end_key", &opts.end_key)] {
            if let Some(v) = v.as_ref().filter(|v| v.is_string()) {
                body.insert(k.into(), v.clone());
            }
        }
        if let Some(l) = opts.limit {
            body.insert("limit".into(), Value::from(l));
        }
        let url = format!("{}/_all_docs", self.db_url(db));
        let resp = self
            .json_request(reqwest::Method::POST, &url)
            .json(&body)
            .send()
            .await;
        let result: ViewResult = json_response(resp).await?;
        Ok(result
            .rows
            .into_iter()
            .filter_map(|r| {
                let doc = r.doc?;
                let id = doc.get("_id").and_then(Value::as_str)?.to_string();
                (!id.starts_with('_')).then(|| Row {
                    id: Some(id.clone()),
                    key: Value::String(id),
                    value: Value::Null,
                    doc: Some(doc),
                })
            })
            .collect())
    }
}

/// A streamed attachment body.
pub type AttachmentStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>,
>;

/// An attachment being read: its type, its total length, the range actually served.
pub struct AttachmentRead {
    pub content_type: String,
    pub total: Option<u64>,
    /// `(start, end_inclusive)` when CouchDB served a partial response.
    pub served_range: Option<(u64, u64)>,
    pub body: AttachmentStream,
}

impl Couch {
    fn attachment_url(&self, db: &str, doc_id: &str, name: &str) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!(
            "{}/{}/{}/{}",
            self.base,
            encode_db_name(db),
            enc(doc_id),
            enc(name)
        )
    }

    /// A JSON request, bounded (30 s for the whole exchange).
    fn json_request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.raw(method, url)
            .timeout(std::time::Duration::from_secs(30))
    }

    fn raw(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.auth {
            Some((u, p)) => rb.basic_auth(u, p.as_deref()),
            None => rb,
        }
    }

    /// Stream an attachment out of CouchDB, passing a byte range through when asked;
    /// None when the document or attachment does not exist.
    pub async fn get_attachment(
        &self,
        db: &str,
        doc_id: &str,
        name: &str,
        range: Option<(u64, Option<u64>)>,
    ) -> CouchResult<Option<AttachmentRead>> {
        use futures_util::TryStreamExt;
        let mut rb = self.raw(reqwest::Method::GET, &self.attachment_url(db, doc_id, name));
        if let Some((start, end)) = range {
            let end = end.map(|e| e.to_string()).unwrap_or_default();
            rb = rb.header("range", format!("bytes={start}-{end}"));
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| CouchError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(CouchError::Other {
                status,
                message: resp.text().await.unwrap_or_default(),
            });
        }
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type =
            header("content-type").unwrap_or_else(|| "application/octet-stream".into());
        let (total, served_range) =
            match header("content-range").and_then(|cr| parse_content_range(&cr)) {
                Some((s, e, t)) if status == 206 => (t, Some((s, e))),
                _ => (header("content-length").and_then(|l| l.parse().ok()), None),
            };
        let body = resp.bytes_stream().map_err(std::io::Error::other);
        Ok(Some(AttachmentRead {
            content_type,
            total,
            served_range,
            body: Box::pin(body),
        }))
    }

    /// Upload an attachment from a stream (the document must exist at `rev`); returns the
    /// new revision.
    pub async fn put_attachment(
        &self,
        db: &str,
        doc_id: &str,
        rev: &str,
        name: &str,
        content_type: &str,
        body: AttachmentStream,
    ) -> CouchResult<String> {
        self.changed(db, Some(doc_id));
        let url = format!(
            "{}?rev={}",
            self.attachment_url(db, doc_id, name),
            utf8_percent_encode(rev, NON_ALPHANUMERIC)
        );
        let resp = self
            .raw(reqwest::Method::PUT, &url)
            .header("content-type", content_type)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| CouchError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        self.changed(db, Some(doc_id));
        match status {
            200..=202 => Ok(v
                .get("rev")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()),
            404 => Err(CouchError::NotFound),
            409 => Err(CouchError::Conflict),
            s => Err(CouchError::Other {
                status: s,
                message: v.to_string(),
            }),
        }
    }
}

/// `bytes START-END/TOTAL` → (start, end, total).
pub fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    Some((s.parse().ok()?, e.parse().ok()?, total.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backwards_range_is_told_from_other_refusals() {
        let refusal = |status, message: &str| CouchError::Other {
            status,
            message: message.into(),
        };
        // CouchDB 3's answer, as its own tests expect it
        let backwards = r#"{"error":"query_parse_error","reason":"No rows can match your key range, reverse your start_key and end_key or set descending=true"}"#;
        assert!(is_backwards_range(&refusal(400, backwards)));
        assert!(!is_backwards_range(&refusal(500, backwards)));
        assert!(!is_backwards_range(&refusal(
            400,
            r#"{"error":"query_parse_error","reason":"Invalid value for integer: \"x\""}"#
        )));
        assert!(!is_backwards_range(&CouchError::NotFound));
    }
}
