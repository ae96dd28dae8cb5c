//! The authorization matrix (hardening issue): every route of `routes()` with `{A}` in its
//! path, for every verb it has, called by eight kinds of caller. Built from the route table,
//! so a new route is covered (and must fit the expectations below) as soon as it is added.
//!
//! ```text
//! master
//! └── P                 parent_admin's account
//!     ├── T_refused     target of the refused callers
//!     │   └── C         child_admin's account (a child acting on its parent)
//!     ├── S             sibling_admin's account
//!     ├── T_same        target of same_admin (its own admin)
//!     ├── T_parent      target of parent_admin (KAZOO's account tree: allowed)
//!     └── T_user        target of user (a priv_level user of T_user)
//! ```
//!
//! Expected, as KAZOO (`cb_simple_authz`, `early_authenticate`) and our README's
//! "priv_level user" policy say:
//! - expired, revoked or no token: 401;
//! - a valid token of an account outside the path account's ancestry (child, sibling): 403;
//! - same_admin and parent_admin: auth passes (any status but 401/403, no 5xx), except the
//!   checks that refuse one's own account (`siblings`, the apps_store blacklist): 403;
//! - user: 403 on listing, creating and deleting users, on other users' documents and
//!   recordings, on the admin-only endpoints (rec_ext, apps_store install/update/uninstall,
//!   api_key reset) and on the own-account refusals above; everything else passes.
//!
//! The essential property is checked on the data too: every batch of refused requests runs
//! between two snapshots of everything the target account owns in CouchDB (its database,
//! its MODB, its `accounts` doc, its descendants, its `system_data` docs), which must match.
//! The table of counts is printed with `--nocapture`; `AUTHZ_MATRIX_VERBOSE=1` also prints
//! every request and its answer.

use crate::helpers::*;
use futures_util::stream::{self, StreamExt};
use kazoo_rec::couch::{CouchError, ViewOpts, ACCOUNTS_DB, SYSTEM_DATA_DB};
use kazoo_rec::domain::ids::{self, AccountId};
use kazoo_rec::retention::{AUDIT_PREFIX, SETTINGS_PREFIX};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Token lifetime of the second app that mints the expired token.
const SHORT_EXPIRY_S: i64 = 3;
/// Requests in flight in a batch (CI has 2 cores).
const PARALLEL: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Caller {
    SameAdmin,
    ChildAdmin,
    ParentAdmin,
    SiblingAdmin,
    User,
    Expired,
    Revoked,
    NoToken,
}

impl Caller {
    const ALL: [Caller; 8] = [
        Caller::SameAdmin,
        Caller::ParentAdmin,
        Caller::User,
        Caller::ChildAdmin,
        Caller::SiblingAdmin,
        Caller::Expired,
        Caller::Revoked,
        Caller::NoToken,
    ];

    fn label(self) -> &'static str {
        match self {
            Caller::SameAdmin => "same_admin",
            Caller::ChildAdmin => "child_admin",
            Caller::ParentAdmin => "parent_admin",
            Caller::SiblingAdmin => "sibling_admin",
            Caller::User => "user",
            Caller::Expired => "expired",
            Caller::Revoked => "revoked",
            Caller::NoToken => "no_token",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Authentication and authorization pass: anything but 401/403 (and no 5xx).
    Allowed,
    /// 403.
    Forbidden,
    /// 401.
    Unauthenticated,
}

/// Routes that refuse the caller's own account (only an ancestor may use them).
fn ancestor_only(route: &str) -> bool {
    route == "accounts/{A}/siblings" || route == "accounts/{A}/apps_store/blacklist"
}

/// Endpoints for account admins only.
fn admin_only(method: &str, route: &str) -> bool {
    route.starts_with("accounts/{A}/rec_ext/")
        || (route == "accounts/{A}/apps_store/{P}" && method != "GET")
        || route == "accounts/{A}/api_key"
}

/// The README's users policy for a `user` caller; `own` = `{U}` is the caller itself.
fn users_policy_refuses(method: &str, route: &str, own: bool) -> bool {
    match route {
        "accounts/{A}/users" => true,
        "accounts/{A}/users/{U}" => method == "DELETE" || !own,
        "accounts/{A}/users/{U}/recordings" => !own,
        _ => false,
    }
}

fn expectation(caller: Caller, method: &str, route: &str, own: bool) -> Expect {
    match caller {
        Caller::Expired | Caller::Revoked | Caller::NoToken => Expect::Unauthenticated,
        Caller::ChildAdmin | Caller::SiblingAdmin => Expect::Forbidden,
        Caller::ParentAdmin => Expect::Allowed,
        Caller::SameAdmin if ancestor_only(route) => Expect::Forbidden,
        Caller::SameAdmin => Expect::Allowed,
        Caller::User
            if ancestor_only(route)
                || admin_only(method, route)
                || users_policy_refuses(method, route, own) =>
        {
            Expect::Forbidden
        }
        Caller::User => Expect::Allowed,
    }
}

/// An account the matrix acts on, with ids that exist in it.
struct World {
    account: String,
    /// A user of the account who is not the caller.
    other_user: String,
    /// The caller's own user (the `user` caller only).
    own_user: Option<String>,
    device: String,
    callflow: String,
    queue: String,
}

enum Body {
    None,
    Json(Value),
    Upload(&'static str, &'static [u8]),
}

struct Case {
    caller: Caller,
    method: Method,
    route: &'static str,
    path: String,
    body: Body,
    expect: Expect,
}

struct Outcome {
    case: Case,
    status: u16,
    text: String,
}

/// A plausible US number, unique enough for callflow `numbers`.
fn number() -> String {
    let n = u32::from_str_radix(&ids::rand_hex(4), 16).unwrap_or(0) % 10_000_000;
    format!("+1555{n:07}")
}

/// The concrete path: `{A}` is the world's account, the other captures ids of its documents
/// (by the noun before them), else a dummy 32-hex id.
fn fill(route: &str, w: &World, user: &str, app_id: &str) -> String {
    let segs: Vec<&str> = route.split('/').collect();
    let filled: Vec<String> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if *s == "{A}" {
                return w.account.clone();
            }
            if !s.starts_with('{') {
                return s.to_string();
            }
            let noun = if i > 0 { segs[i - 1] } else { "" };
            match noun {
                "users" => user.to_string(),
                "devices" => w.device.clone(),
                "callflows" => w.callflow.clone(),
                "queues" => w.queue.clone(),
                "apps_store" => app_id.to_string(),
                "screenshot" => "0".to_string(),
                _ => ids::new_id(),
            }
        })
        .collect();
    format!("/v2/{}", filled.join("/"))
}

/// A minimal plausible body for a write, by the route's last literal segment.
fn body_for(method: &str, route: &str, w: &World, app_id: &str) -> Body {
    if method == "GET" || method == "DELETE" {
        return Body::None;
    }
    let n = uniq();
    let noun = route
        .rsplit('/')
        .find(|s| !s.starts_with('{'))
        .unwrap_or_default();
    Body::Json(match noun {
        "logo" | "icon" => return Body::Upload("image/png", b"\x89PNG\r\n\x1a\nauthz-matrix"),
        "welcome" => return Body::Upload("text/html", b"<p>authz matrix</p>"),
        "accounts" if method == "PUT" => json!({"name": format!("authz child {n}")}),
        "accounts" => json!({"name": format!("authz renamed {n}")}),
        "users" => json!({"first_name": "Matrix", "last_name": format!("User {n}")}),
        "devices" => json!({"name": format!("matrix device {n}")}),
        "callflows" if method == "PATCH" => json!({"name": format!("matrix flow {n}")}),
        "callflows" => json!({"name": format!("matrix flow {n}"), "numbers": [number()],
                              "flow": {"module": "record_call", "data": {}}}),
        "roster" => json!([w.other_user]),
        "queues" => json!({"name": format!("matrix queue {n}")}),
        "metaflows" => json!({"binding_digit": "*",
            "numbers": {"9": {"module": "record_call", "data": {"action": "toggle"}}}}),
        "whitelabel" => json!({"company_name": "Matrix Co", "domain": format!("{n}.matrix.test")}),
        "blacklist" => json!({"blacklist": [app_id]}),
        "apps_store" => json!({"allowed_users": "all", "users": []}),
        "retention" => json!({"couch_days": 30}),
        _ => json!({}),
    })
}

/// Every `{A}` route × verb for one caller on one world (routes with `{U}` twice for the
/// `user` caller: its own id and another user's).
fn cases_for(caller: Caller, w: &World, app_id: &str) -> Vec<Case> {
    let mut out = vec![];
    for r in kazoo_rec::api::routes() {
        if !r.path.split('/').any(|s| s == "{A}") {
            continue;
        }
        let method = Method::from_bytes(r.method.as_str().as_bytes()).expect("an HTTP verb");
        let mut users = vec![(w.other_user.as_str(), false)];
        if let (true, Some(own)) = (r.path.contains("{U}"), &w.own_user) {
            users.push((own.as_str(), true));
        }
        for (user, own) in users {
            out.push(Case {
                caller,
                method: method.clone(),
                route: r.path,
                path: fill(r.path, w, user, app_id),
                body: body_for(method.as_str(), r.path, w, app_id),
                expect: expectation(caller, method.as_str(), r.path, own),
            });
        }
    }
    out
}

async fn send(app: &TestApp, c: &Case, token: Option<&str>) -> Resp {
    match &c.body {
        Body::None => app.call(c.method.clone(), &c.path, token, None).await,
        Body::Json(v) => {
            app.call(c.method.clone(), &c.path, token, Some(v.clone()))
                .await
        }
        Body::Upload(ct, bytes) => {
            let mut headers = vec![("content-type", *ct)];
            if let Some(t) = token {
                headers.push(("x-auth-token", t));
            }
            app.raw(c.method.clone(), &c.path, &headers, Some(bytes.to_vec()))
                .await
        }
    }
}

async fn run_parallel(
    app: &TestApp,
    tokens: &HashMap<Caller, Option<String>>,
    cases: Vec<Case>,
) -> Vec<Outcome> {
    stream::iter(cases)
        .map(|case| async move {
            let r = send(app, &case, tokens[&case.caller].as_deref()).await;
            Outcome {
                case,
                status: r.status,
                text: r.text,
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await
}

type Snapshot = BTreeMap<String, String>;

/// `_rev` of everything the account owns in CouchDB.
async fn snapshot(app: &TestApp, account: &str) -> Snapshot {
    let id = AccountId::parse(account).expect("an account id");
    let couch = app.couch();
    let rev = |d: &Value| d["_rev"].as_str().unwrap_or("?").to_string();
    let mut snap = Snapshot::new();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    for db in [id.db(), id.modb(y, m)] {
        match couch.all_docs(&db, &ViewOpts::default()).await {
            Ok(rows) => {
                for d in rows.into_iter().filter_map(|r| r.doc) {
                    let doc_id = d["_id"].as_str().unwrap_or("?").to_string();
                    snap.insert(format!("{db}/{doc_id}"), rev(&d));
                }
            }
            Err(CouchError::NotFound) => {
                snap.insert(db, "absent".into());
            }
            Err(e) => panic!("snapshot of {db}: {e}"),
        }
    }
    for (db, doc_id) in [
        (ACCOUNTS_DB, account.to_string()),
        (SYSTEM_DATA_DB, account.to_string()),
        (SYSTEM_DATA_DB, format!("{SETTINGS_PREFIX}{account}")),
    ] {
        let doc = couch.get(db, &doc_id).await.expect("couch get");
        snap.insert(
            format!("{db}/{doc_id}"),
            doc.as_ref().map(rev).unwrap_or_else(|| "absent".into()),
        );
    }
    let audits = ViewOpts {
        start_key: Some(json!(format!("{AUDIT_PREFIX}{account}"))),
        end_key: Some(json!(format!("{AUDIT_PREFIX}{account}\u{fff0}"))),
        ..Default::default()
    };
    let rows = couch
        .all_docs(SYSTEM_DATA_DB, &audits)
        .await
        .expect("audits");
    for d in rows.into_iter().filter_map(|r| r.doc) {
        let doc_id = d["_id"].as_str().unwrap_or("?").to_string();
        snap.insert(format!("{SYSTEM_DATA_DB}/{doc_id}"), rev(&d));
    }
    let descendants = ViewOpts {
        start_key: Some(json!([account])),
        end_key: Some(json!([account, {}])),
        include_docs: true,
        ..Default::default()
    };
    let rows = couch
        .view(
            ACCOUNTS_DB,
            "accounts",
            "listing_by_descendants",
            &descendants,
        )
        .await
        .expect("descendants");
    for r in rows {
        let doc_id = r.id.clone().unwrap_or_default();
        let v = r.doc.as_ref().map(rev).unwrap_or_default();
        snap.insert(format!("descendant/{doc_id}"), v);
    }
    snap
}

fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = vec![];
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("{k} removed")),
            Some(w) if w != v => out.push(format!("{k} changed ({v} -> {w})")),
            _ => {}
        }
    }
    for k in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push(format!("{k} added"));
    }
    out
}

/// Refused requests, between two snapshots of the target account that must be equal.
async fn refused_batch(
    app: &TestApp,
    tokens: &HashMap<Caller, Option<String>>,
    account: &str,
    cases: Vec<Case>,
    findings: &mut Vec<String>,
) -> Vec<Outcome> {
    let Some(first) = cases.first() else {
        return vec![];
    };
    let who = first.caller.label();
    let before = snapshot(app, account).await;
    let out = run_parallel(app, tokens, cases).await;
    let after = snapshot(app, account).await;
    for d in diff(&before, &after) {
        findings.push(format!(
            "DATA CHANGED by refused requests of {who} on {account}: {d}"
        ));
    }
    out
}

/// An allowed caller on its own world: first the requests it must be refused (between
/// snapshots), then the others one at a time in table order, deletes last and the account
/// itself at the very end. Also returns what the writes before the deletes changed, to
/// show that the snapshots see writes.
async fn allowed_world(
    app: &TestApp,
    tokens: &HashMap<Caller, Option<String>>,
    caller: Caller,
    w: &World,
    app_id: &str,
) -> (Vec<Outcome>, Vec<String>, Vec<String>) {
    let (refused, mut allowed): (Vec<Case>, Vec<Case>) = cases_for(caller, w, app_id)
        .into_iter()
        .partition(|c| c.expect != Expect::Allowed);
    let mut findings = vec![];
    let mut out = refused_batch(app, tokens, &w.account, refused, &mut findings).await;
    // Deletes after the rest, sub-resources before their parent, the account itself last.
    allowed.sort_by_key(|c| match (c.method == Method::DELETE, c.route) {
        (false, _) => (0, 0),
        (true, "accounts/{A}") => (2, 0),
        (true, r) => (1, usize::MAX - r.split('/').count()),
    });
    let token = tokens[&caller].as_deref();
    let before = snapshot(app, &w.account).await;
    let mut seen_writes = None;
    for case in allowed {
        if case.method == Method::DELETE && seen_writes.is_none() {
            seen_writes = Some(diff(&before, &snapshot(app, &w.account).await));
        }
        if case.method == Method::DELETE && case.route == "accounts/{A}" {
            // `PUT accounts/{A}` made a child; remove it so that the account can go.
            let children: Vec<String> = out
                .iter()
                .filter(|o| o.case.method == Method::PUT && o.case.route == "accounts/{A}")
                .filter_map(|o| serde_json::from_str::<Value>(&o.text).ok())
                .filter_map(|v| v["data"]["id"].as_str().map(str::to_string))
                .collect();
            for child in children {
                let path = format!("/v2/accounts/{child}");
                let r = app.call(Method::DELETE, &path, token, None).await;
                assert_eq!(r.status, 200, "removing {path}: {}", r.text);
            }
        }
        let r = send(app, &case, token).await;
        out.push(Outcome {
            case,
            status: r.status,
            text: r.text,
        });
    }
    (out, findings, seen_writes.unwrap_or_default())
}

/// `message` and `data` of an answer (not its token), or the start of a non-JSON body.
fn summary(text: &str, max: usize) -> String {
    let out = match serde_json::from_str::<Value>(text) {
        Ok(v) if v.is_object() => format!("{} {}", v["message"], v["data"]),
        _ => text.to_string(),
    };
    out.chars().take(max).collect()
}

fn verdict(o: &Outcome) -> Option<String> {
    let s = o.status;
    let ok = match o.case.expect {
        Expect::Allowed => !matches!(s, 401 | 403) && s < 500,
        Expect::Forbidden => s == 403,
        Expect::Unauthenticated => s == 401,
    };
    let body = summary(&o.text, 300);
    (!ok).then(|| {
        format!(
            "{} {} (route {}) as {}: expected {:?}, got {s}: {body}",
            o.case.method,
            o.case.path,
            o.case.route,
            o.case.caller.label(),
            o.case.expect
        )
    })
}

/// Users, a device, a callflow and a queue in `account`, made by the master admin.
async fn seed(app: &TestApp, root: &str, account: String, own_user: Option<String>) -> World {
    let other_user = app
        .insert_user(&account, &format!("victim{}", uniq()), "pw-victim", "user")
        .await;
    let base = format!("/v2/accounts/{account}");
    let create = |noun: &'static str, data: Value| {
        let path = format!("{base}/{noun}");
        async move {
            let r = app.call(Method::PUT, &path, Some(root), Some(data)).await;
            assert_eq!(r.status, 201, "seeding {path}: {}", r.text);
            r.body["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let (device, callflow, queue) = tokio::join!(
        create(
            "devices",
            json!({"name": "seed device", "owner_id": other_user})
        ),
        create(
            "callflows",
            json!({"name": "seed flow", "numbers": [number()],
                   "flow": {"module": "record_call", "data": {}}})
        ),
        create("queues", json!({"name": "seed queue"})),
    );
    World {
        account,
        other_user,
        own_user,
        device,
        callflow,
        queue,
    }
}

/// A valid token works on its own account (so a 403 below is about the target, not the token).
async fn assert_token_works(app: &TestApp, token: &str, account: &str) {
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{account}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "control request: {}", r.text);
}

#[tokio::test]
async fn authorization_matrix_over_every_account_route() {
    let started = Instant::now();
    let app = spawn_app().await;
    let mut short = settings();
    short.token_expiry_s = SHORT_EXPIRY_S;
    let short_app = spawn_with(short).await;
    let root = app.admin_token().await;

    // --- the account tree
    let (p, _, p_admin) = app.account_with_admin(None).await;
    let (t_r, t_r_name, _) = app.account_with_admin(Some(&p)).await;
    // The expired token first, so that it has expired by the time the refused world runs.
    let expired = short_app
        .login("boss", "pw-boss", json!({"account_name": t_r_name}))
        .await;
    let expires_at = Instant::now() + Duration::from_secs(SHORT_EXPIRY_S as u64);
    assert_token_works(&app, &expired, &t_r).await;
    let ((c, _, c_admin), (s, _, s_admin), (t_s, _, t_s_admin), (t_p, _, _), (t_u, t_u_name, _)) = tokio::join!(
        app.account_with_admin(Some(&t_r)),
        app.account_with_admin(Some(&p)),
        app.account_with_admin(Some(&p)),
        app.account_with_admin(Some(&p)),
        app.account_with_admin(Some(&p)),
    );
    let revoked = app
        .login("boss", "pw-boss", json!({"account_name": t_r_name}))
        .await;
    assert_token_works(&app, &revoked, &t_r).await;
    let r = app
        .call(Method::DELETE, "/v2/token_auth", Some(&revoked), None)
        .await;
    assert_eq!(r.status, 200, "revoke: {}", r.text);
    let worker = app.insert_user(&t_u, "worker", "pw-worker", "user").await;
    let user_token = app
        .login("worker", "pw-worker", json!({"account_name": t_u_name}))
        .await;
    for (token, account) in [
        (&p_admin, &p),
        (&c_admin, &c),
        (&s_admin, &s),
        (&t_s_admin, &t_s),
        (&user_token, &t_u),
    ] {
        assert_token_works(&app, token, account).await;
    }

    // An app of the master account, unpublished so no other test sees it in a list, for
    // `apps_store/{P}` (installing an unknown app is a 403 of its own).
    let app_id = ids::new_id();
    let master = AccountId::parse(&app.master_id).unwrap();
    let mut app_doc = json!({"_id": app_id, "pvt_type": "app", "name": format!("authz-matrix-{}", uniq()),
                             "published": false, "pvt_account_id": app.master_id});
    app.couch().save(&master.db(), &mut app_doc).await.unwrap();

    let (w_r, w_s, w_p, w_u) = tokio::join!(
        seed(&app, &root, t_r.clone(), None),
        seed(&app, &root, t_s.clone(), None),
        seed(&app, &root, t_p.clone(), None),
        seed(&app, &root, t_u.clone(), Some(worker)),
    );
    let setup = started.elapsed();

    let tokens: HashMap<Caller, Option<String>> = [
        (Caller::SameAdmin, Some(t_s_admin)),
        (Caller::ChildAdmin, Some(c_admin)),
        (Caller::ParentAdmin, Some(p_admin)),
        (Caller::SiblingAdmin, Some(s_admin)),
        (Caller::User, Some(user_token)),
        (Caller::Expired, Some(expired)),
        (Caller::Revoked, Some(revoked)),
        (Caller::NoToken, None),
    ]
    .into_iter()
    .collect();

    // --- allowed callers, each on its own world (they write and finally delete it)
    let (same, parent, user) = tokio::join!(
        allowed_world(&app, &tokens, Caller::SameAdmin, &w_s, &app_id),
        allowed_world(&app, &tokens, Caller::ParentAdmin, &w_p, &app_id),
        allowed_world(&app, &tokens, Caller::User, &w_u, &app_id),
    );
    let mut outcomes = vec![];
    let mut findings = vec![];
    // The snapshots are not blind: the allowed writes show up in every place they look.
    // (For the `user` caller only its account database: what else it may write is policy.)
    let areas = |w: &World, all: bool| {
        let a = &w.account;
        let mut v = vec![format!("{}/", AccountId::parse(a).unwrap().db())];
        if all {
            v.extend([
                format!("{ACCOUNTS_DB}/{a} "),
                format!("{SYSTEM_DATA_DB}/{a} "),
                format!("{SYSTEM_DATA_DB}/{SETTINGS_PREFIX}{a} "),
                format!("{SYSTEM_DATA_DB}/{AUDIT_PREFIX}{a}-"),
                "descendant/".to_string(),
            ]);
        }
        v
    };
    for ((o, f, seen), expected) in [
        (same, areas(&w_s, true)),
        (parent, areas(&w_p, true)),
        (user, areas(&w_u, false)),
    ] {
        for area in expected {
            assert!(
                seen.iter().any(|d| d.starts_with(&area)),
                "the snapshot did not see the allowed writes in {area}: {seen:#?}"
            );
        }
        outcomes.extend(o);
        findings.extend(f);
    }

    // --- refused callers, all on T_refused, one kind at a time between snapshots
    let now = Instant::now();
    if now < expires_at {
        tokio::time::sleep(expires_at - now + Duration::from_millis(200)).await;
    }
    for caller in [
        Caller::ChildAdmin,
        Caller::SiblingAdmin,
        Caller::Expired,
        Caller::Revoked,
        Caller::NoToken,
    ] {
        let cases = cases_for(caller, &w_r, &app_id);
        outcomes.extend(refused_batch(&app, &tokens, &t_r, cases, &mut findings).await);
    }
    // T_refused still works for its own admin's (fresh) token: the refusals were not an
    // accident of a broken account.
    let fresh = app
        .login("boss", "pw-boss", json!({"account_name": t_r_name}))
        .await;
    assert_token_works(&app, &fresh, &t_r).await;

    // Retire the app document.
    if let Some(mut doc) = app.couch().get(&master.db(), &app_id).await.unwrap() {
        doc["pvt_deleted"] = json!(true);
        app.couch().save(&master.db(), &mut doc).await.unwrap();
    }

    // --- verdicts and the table
    let routes_covered = kazoo_rec::api::routes()
        .iter()
        .filter(|r| r.path.split('/').any(|s| s == "{A}"))
        .count();
    assert!(routes_covered > 50, "the route table shrank?");
    // `AUTHZ_MATRIX_VERBOSE=1`: every request and its answer.
    if std::env::var_os("AUTHZ_MATRIX_VERBOSE").is_some() {
        for o in &outcomes {
            let body = summary(&o.text, 120);
            println!(
                "{:<13} {:<6} {:<45} {} {body}",
                o.case.caller.label(),
                o.case.method.as_str(),
                o.case.route,
                o.status
            );
        }
    }
    let mut mismatches: Vec<String> = outcomes.iter().filter_map(verdict).collect();
    mismatches.sort();
    println!(
        "\nauthz matrix: {routes_covered} route×verb pairs with {{A}}, {} requests, setup {:.1}s, total {:.1}s",
        outcomes.len(),
        setup.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<14} {:>6} {:>8} {:>8} {:>8} {:>11} {:>11}",
        "caller", "cases", "allowed", "401", "403", "exp.refuse", "mismatches"
    );
    for caller in Caller::ALL {
        let mine: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.case.caller == caller)
            .collect();
        let count = |f: &dyn Fn(&Outcome) -> bool| mine.iter().filter(|o| f(o)).count();
        println!(
            "{:<14} {:>6} {:>8} {:>8} {:>8} {:>11} {:>11}",
            caller.label(),
            mine.len(),
            count(&|o| !matches!(o.status, 401 | 403)),
            count(&|o| o.status == 401),
            count(&|o| o.status == 403),
            count(&|o| o.case.expect != Expect::Allowed),
            count(&|o| verdict(o).is_some()),
        );
        assert!(!mine.is_empty(), "no cases for {}", caller.label());
    }
    findings.extend(mismatches);
    assert!(
        findings.is_empty(),
        "{} authorization findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
