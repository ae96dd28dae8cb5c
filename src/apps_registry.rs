//! The Monster UI app registry, as KAZOO keeps it: one `app` document per app in the master
//! account's database (`crossbar_maintenance:init_app` writes them from an app's
//! `metadata/app.json`, with its icon and screenshots as attachments), and per account an
//! `apps_store` document saying which apps are installed for whom
//! (`{"apps": {<app id>: {allowed_users, users, name}}, "blacklist": [<app id>]}`).
//!
//! Which apps an account sees follows `cb_apps_util:allowed_apps/2`, without service plans
//! (this service has none): the master's apps, the account's installs merged in, the
//! blacklist an ancestor set unpublishing, and every app published for the master account.

use crate::couch::{Couch, CouchResult, ViewOpts};
use crate::domain::ids::AccountId;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

pub const APPS_STORE_ID: &str = "apps_store";

/// The master account's app documents, in view order (by name).
pub async fn master_apps(couch: &Couch, master: &AccountId) -> CouchResult<Vec<Value>> {
    let opts = ViewOpts {
        include_docs: true,
        ..Default::default()
    };
    // An account database made before the view existed gets our design docs once.
    let rows = couch
        .view_adding(
            &master.db(),
            "apps_store",
            "crossbar_listing",
            &opts,
            crate::couch::views::account_db_docs(),
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| r.doc).collect())
}

pub async fn apps_store_doc(couch: &Couch, account: &AccountId) -> CouchResult<Option<Value>> {
    couch.get(&account.db(), APPS_STORE_ID).await
}

/// Apply an account's `apps_store` document and the master rule to the master's apps.
pub fn allowed_apps(
    master_apps: Vec<Value>,
    store: Option<&Value>,
    is_master_account: bool,
) -> Vec<Value> {
    let installs = store.and_then(|s| s.get("apps")).and_then(Value::as_object);
    let blacklist: Vec<&str> = store
        .and_then(|s| s.get("blacklist"))
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    master_apps
        .into_iter()
        .map(|mut app| {
            let id = app
                .get("_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            app["authority"] = json!("master_account");
            if let Some(entry) = installs.and_then(|i| i.get(&id)).and_then(Value::as_object) {
                for (k, v) in entry {
                    if matches!(k.as_str(), "allowed_users" | "users" | "name") {
                        app[k] = v.clone();
                    }
                }
                app["authority"] = json!("app_store");
            }
            if blacklist.contains(&id.as_str()) {
                app["published"] = json!(false);
            }
            if is_master_account {
                app["published"] = json!(true);
                app["authority"] = json!("super_admin");
            }
            app
        })
        .collect()
}

pub fn is_published(app: &Value) -> bool {
    app.get("published")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

pub fn app_id(app: &Value) -> &str {
    app.get("_id").and_then(Value::as_str).unwrap_or_default()
}

/// A list entry (`cb_apps_store:normalize_apps_result`): absent keys are left out; `users`,
/// `tags` and `masqueradable` have defaults.
pub fn list_entry(app: &Value) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(app_id(app)));
    for k in ["name", "i18n"] {
        if let Some(v) = app.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert(
        "tags".into(),
        app.get("tags").cloned().unwrap_or_else(|| json!([])),
    );
    for k in ["api_url", "source_url"] {
        if let Some(v) = app.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(a) = app.get("pvt_account_id") {
        out.insert("account_id".into(), a.clone());
    }
    out.insert(
        "users".into(),
        app.get("users").cloned().unwrap_or_else(|| json!([])),
    );
    if let Some(v) = app.get("allowed_users") {
        out.insert("allowed_users".into(), v.clone());
    }
    out.insert(
        "masqueradable".into(),
        app.get("masqueradable").cloned().unwrap_or(json!(true)),
    );
    for k in ["phase", "extends"] {
        if let Some(v) = app.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// Whether a user may use an installed app (`cb_apps_util:is_authorized`).
pub fn user_may_use(app: &Value, user_id: &str, is_admin: bool) -> bool {
    match app.get("allowed_users").and_then(Value::as_str) {
        Some("all") => true,
        Some("admins") => is_admin,
        Some("specific") => app
            .get("users")
            .and_then(Value::as_array)
            .is_some_and(|us| {
                us.iter()
                    .any(|u| u.get("id").and_then(Value::as_str) == Some(user_id))
            }),
        _ => false,
    }
}

/// The `apps` list of a login answer (KAZOO 4.3's launcher): installed apps the user may use.
pub fn login_apps(apps: &[Value], user_id: &str, is_admin: bool, language: &str) -> Value {
    let list: Vec<Value> = apps
        .iter()
        .filter(|a| is_published(a) && user_may_use(a, user_id, is_admin))
        .map(|a| {
            let i18n = a.get("i18n");
            let label = i18n
                .and_then(|i| i.get(language).or_else(|| i.get("en-US")))
                .and_then(|l| l.get("label"))
                .cloned()
                .unwrap_or(Value::Null);
            let mut o = json!({"id": app_id(a), "name": a.get("name"), "label": label});
            for k in ["api_url", "source_url"] {
                if let Some(v) = a.get(k) {
                    o[k] = v.clone();
                }
            }
            o
        })
        .collect();
    Value::Array(list)
}

/// A Monster UI app found on disk: its `metadata/app.json` and the folder around it.
#[derive(Debug)]
pub struct AppSource {
    pub dir: PathBuf,
    pub metadata: Value,
}

/// Every `metadata/app.json` under `root` (`crossbar_maintenance:find_apps`).
pub fn find_apps(root: &Path) -> anyhow::Result<Vec<AppSource>> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let candidate = dir.join("metadata").join("app.json");
        if candidate.is_file() {
            let text = std::fs::read_to_string(&candidate)?;
            let metadata: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", candidate.display()))?;
            out.push(AppSource { dir, metadata });
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let skip = p
                .file_name()
                .is_some_and(|n| n == "node_modules" || n.to_string_lossy().starts_with('.'));
            if p.is_dir() && !skip {
                stack.push(p);
            }
        }
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

/// The app document's public part from `app.json` (`crossbar_maintenance:create_app`):
/// everything but `source_url`; `api_url` set to the given one, or removed.
pub fn app_doc_from_metadata(metadata: &Value, api_url: Option<&str>) -> Value {
    let mut doc = metadata.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("source_url");
        o.retain(|k, _| !k.starts_with('_'));
        match api_url {
            Some(u) => {
                o.insert("api_url".into(), json!(u));
            }
            None => {
                o.remove("api_url");
            }
        }
    }
    doc
}

/// The keys `crossbar_maintenance:refresh_app` updates on an existing app document.
pub const REFRESH_KEYS: [&str; 11] = [
    "name",
    "i18n",
    "tags",
    "author",
    "version",
    "license",
    "price",
    "icon",
    "screenshots",
    "api_url",
    "phase",
];

/// The image files of an app: (attachment name, path) for the icon and each screenshot.
pub fn image_files(app: &AppSource) -> Vec<(String, PathBuf)> {
    let meta = &app.metadata;
    let mut out = vec![];
    if let Some(icon) = meta.get("icon").and_then(Value::as_str) {
        out.push((icon.to_string(), app.dir.join("metadata/icon").join(icon)));
    }
    for s in meta
        .get("screenshots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        out.push((s.to_string(), app.dir.join("metadata/screenshots").join(s)));
    }
    out.retain(|(name, _)| crate::domain::ids::is_acceptable_doc_id(name));
    out
}

/// What registering one app did.
#[derive(Debug)]
pub struct Registered {
    pub id: String,
    pub name: String,
    pub created: bool,
    pub images: usize,
}

/// The master account id, as bootstrapping recorded it (`system_config/accounts`).
pub async fn master_account(couch: &Couch) -> anyhow::Result<AccountId> {
    let doc = couch
        .get(crate::couch::SYSTEM_CONFIG_DB, "accounts")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no master account yet: start the service once first"))?;
    doc.pointer("/default/master_account_id")
        .and_then(Value::as_str)
        .and_then(AccountId::parse)
        .ok_or_else(|| anyhow::anyhow!("system_config/accounts has no master_account_id"))
}

/// `crossbar_maintenance:init_app/2` + `refresh_app`: create the app document in the
/// master account (or refresh the existing one of that name) and (re)attach its images.
pub async fn register(
    couch: &Couch,
    schemas: &crate::schema::SchemaSet,
    master: &AccountId,
    app: &AppSource,
    api_url: Option<&str>,
) -> anyhow::Result<Registered> {
    let mut check = app.metadata.clone();
    if let Err(errors) = schemas.validate("app", &mut check) {
        anyhow::bail!(
            "{}: metadata/app.json is not a valid app: {}",
            app.dir.display(),
            Value::Object(errors)
        );
    }
    let name = app
        .metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let wanted = app_doc_from_metadata(&app.metadata, api_url);
    let existing = master_apps(couch, master)
        .await?
        .into_iter()
        .find(|a| a.get("name").and_then(Value::as_str) == Some(name.as_str()));
    let db = master.db();
    let created = existing.is_none();
    let mut doc = match existing {
        Some(mut doc) => {
            for k in REFRESH_KEYS {
                match wanted.get(k) {
                    Some(v) => doc[k] = v.clone(),
                    None => {
                        if let Some(o) = doc.as_object_mut() {
                            o.remove(k);
                        }
                    }
                }
            }
            // Images are re-added below.
            if let Some(o) = doc.as_object_mut() {
                o.remove("_attachments");
            }
            doc
        }
        None => {
            let mut doc = wanted;
            doc["_id"] = json!(crate::domain::ids::new_id());
            doc
        }
    };
    let now = crate::domain::time::now_gregorian();
    let ctx = crate::couch::pvt::WriteCtx {
        account_id: Some(master.to_string()),
        encoded_db: Some(master.encoded_db()),
        request_id: crate::domain::ids::new_id(),
        auth_account_id: None,
        auth_user_id: None,
    };
    crate::couch::pvt::stamp(&mut doc, &ctx, "app", now);
    couch.save(&db, &mut doc).await?;
    let id = doc["_id"].as_str().unwrap_or_default().to_string();
    let mut rev = doc["_rev"].as_str().unwrap_or_default().to_string();
    let mut images = 0;
    for (att, path) in image_files(app) {
        let Ok(bytes) = tokio::fs::read(&path).await else {
            tracing::warn!(file = %path.display(), "app image missing, skipped");
            continue;
        };
        let body: crate::couch::AttachmentStream =
            Box::pin(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
            }));
        let ct = crate::api::binary::content_type_for_name(&att);
        rev = couch.put_attachment(&db, &id, &rev, &att, ct, body).await?;
        images += 1;
    }
    Ok(Registered {
        id,
        name,
        created,
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, name: &str) -> Value {
        json!({"_id": id, "name": name, "i18n": {"en-US": {"label": name}}, "pvt_account_id": "m"})
    }

    #[test]
    fn installs_blacklist_and_master() {
        let store = json!({"apps": {"a1": {"allowed_users": "specific", "users": [{"id": "u1"}], "name": "recordings"}}, "blacklist": ["a2"]});
        let apps = allowed_apps(
            vec![app("a1", "recordings"), app("a2", "voip")],
            Some(&store),
            false,
        );
        assert_eq!(apps[0]["authority"], "app_store");
        assert!(is_published(&apps[0]) && !is_published(&apps[1]));
        assert!(user_may_use(&apps[0], "u1", false) && !user_may_use(&apps[0], "u2", true));
        let e = list_entry(&apps[0]);
        assert_eq!(e["allowed_users"], "specific");
        assert_eq!(
            (
                e["masqueradable"].as_bool(),
                e["tags"].as_array().map(Vec::len)
            ),
            (Some(true), Some(0))
        );
        assert_eq!(e["account_id"], "m");
        let master = allowed_apps(vec![app("a2", "voip")], Some(&store), true);
        assert!(is_published(&master[0]));
        assert_eq!(master[0]["authority"], "super_admin");
        let login = login_apps(&apps, "u1", false, "fr-FR");
        assert_eq!(
            login,
            json!([{"id": "a1", "name": "recordings", "label": "recordings"}])
        );
    }

    #[test]
    fn doc_from_metadata() {
        let meta = json!({"name": "recordings", "source_url": "x", "api_url": "http://old/v2", "icon": "i.png", "screenshots": ["s1.png"]});
        let doc = app_doc_from_metadata(&meta, Some("http://api:8000/v2"));
        assert_eq!(doc["api_url"], "http://api:8000/v2");
        assert!(doc.get("source_url").is_none());
        assert!(app_doc_from_metadata(&meta, None).get("api_url").is_none());
        let src = AppSource {
            dir: PathBuf::from("/apps/rec"),
            metadata: meta,
        };
        let files = image_files(&src);
        assert_eq!(
            files[0],
            (
                "i.png".to_string(),
                PathBuf::from("/apps/rec/metadata/icon/i.png")
            )
        );
        assert_eq!(
            files[1].1,
            PathBuf::from("/apps/rec/metadata/screenshots/s1.png")
        );
    }
}
