//! What Monster UI's core and the recording apps call beyond the resources tested
//! elsewhere: whitelabel by domain (before login), the app store and its registry, alerts,
//! limits, the ledger total, call detail records and their legs, and crossbar's answer for
//! a module this service does not have.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn whitelabel_by_domain_before_login() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let domain = format!("Portal-{}.Example.com", uniq());
    let base = format!("/v2/accounts/{acct}/whitelabel");
    // none yet: 404 by domain (Monster UI tolerates it) and on the account
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/whitelabel/{domain}"),
            &[("x-auth-token", "undefined")],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (404, Some("bad_identifier")),
        "{}",
        r.text
    );
    assert_eq!(r.body["data"]["cause"], domain.as_str());
    assert_eq!(
        app.call(Method::GET, &base, Some(&admin), None)
            .await
            .status,
        404
    );

    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"company_name": "Acme", "domain": domain})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["id"], "whitelabel");
    assert_eq!(
        r.body["data"]["hide_powered"], false,
        "schema defaults stored"
    );
    // a second PUT conflicts; another account cannot take the domain
    let again = app
        .call(Method::PUT, &base, Some(&admin), Some(json!({})))
        .await;
    assert_eq!(again.status, 409);
    let (other, _, other_admin) = app.account_with_admin(None).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{other}/whitelabel"),
            Some(&other_admin),
            Some(json!({"domain": domain.to_lowercase()})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["data"]["domain"]["unique"].is_object());

    // by domain, case-insensitive, no token (Monster UI sends the literal "undefined")
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/whitelabel/{}", domain.to_lowercase()),
            &[
                ("x-auth-token", "undefined"),
                ("content-type", "application/json"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["company_name"], "Acme");
    assert_eq!(r.body["data"]["domain"], domain.as_str());

    // the logo: uploaded as base64 (what Monster UI sends), served by domain
    let png = [0x89u8, b'P', b'N', b'G', 13, 10, 26, 10, 1, 2, 3];
    let encoded = format!("data:image/png;base64,{}", {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(png)
    });
    let r = app
        .raw(
            Method::POST,
            &format!("{base}/logo"),
            &[
                ("x-auth-token", &admin),
                ("content-type", "application/x-base64"),
            ],
            Some(encoded.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["data"].get("_attachments").is_none());
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/whitelabel/{domain}/logo"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=logo-"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let got = app
        .client
        .get(format!("{}/v2/whitelabel/{domain}/logo", app.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), &png);
    // no icon yet: crossbar's bad identifier response
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/whitelabel/{domain}/icon"),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, &r.body["data"]), (404, &json!(["icon"])));
    // html is not a logo; neither is a JSON envelope (crossbar: 415)
    let r = app
        .raw(
            Method::POST,
            &format!("{base}/logo"),
            &[("x-auth-token", &admin), ("content-type", "text/html")],
            Some(b"<p>nope</p>".to_vec()),
        )
        .await;
    assert_eq!(r.status, 415);
    let r = app
        .call(
            Method::POST,
            &format!("{base}/logo"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);

    // POST replaces the public part and keeps the logo; DELETE frees the domain
    let r = app
        .call(
            Method::POST,
            &base,
            Some(&admin),
            Some(json!({"company_name": "Acme 2", "domain": domain})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let logo = app
        .raw(
            Method::GET,
            &format!("/v2/whitelabel/{domain}/logo"),
            &[],
            None,
        )
        .await;
    assert_eq!(logo.status, 200);
    let r = app.call(Method::DELETE, &base, Some(&admin), None).await;
    assert_eq!(
        (r.status, &r.body["data"]["_read_only"]["deleted"]),
        (200, &json!(true))
    );
    let r = app
        .raw(Method::GET, &format!("/v2/whitelabel/{domain}"), &[], None)
        .await;
    assert_eq!(r.status, 404);
}

/// A Monster UI app folder like the recording app's: metadata/app.json, icon, screenshot.
fn app_folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("app-{name}-{}", uniq()));
    let meta = dir.join(name).join("metadata");
    std::fs::create_dir_all(meta.join("icon")).unwrap();
    std::fs::create_dir_all(meta.join("screenshots")).unwrap();
    std::fs::write(
        meta.join("app.json"),
        json!({"name": name, "i18n": {"en-US": {"label": format!("{name} label"), "description": "Desc"}},
               "tags": ["reseller"], "icon": "icon.png", "api_url": "http://old.example.com/v2", "source_url": "http://src",
               "author": "Tester", "version": "1.0", "license": "-", "price": 0, "screenshots": ["one.png"], "pvt_type": "app"})
        .to_string(),
    )
    .unwrap();
    std::fs::write(meta.join("icon/icon.png"), b"PNG-icon").unwrap();
    std::fs::write(meta.join("screenshots/one.png"), b"PNG-shot").unwrap();
    dir
}

#[tokio::test]
async fn app_store_register_install_and_launch() {
    let app = spawn_app().await;
    let name = format!("rec{}", uniq());
    let folder = app_folder(&name);
    let master = kazoo_rec::apps_registry::master_account(app.couch())
        .await
        .unwrap();
    let schemas = kazoo_rec::schema::SchemaSet::embedded(Default::default());
    let found = kazoo_rec::apps_registry::find_apps(&folder).unwrap();
    assert_eq!(found.len(), 1);
    let reg = kazoo_rec::apps_registry::register(
        app.couch(),
        &schemas,
        &master,
        &found[0],
        Some(&app.base),
    )
    .await
    .unwrap();
    assert!(reg.created && reg.images == 2);
    // registering again refreshes the same document
    let again = kazoo_rec::apps_registry::register(
        app.couch(),
        &schemas,
        &master,
        &found[0],
        Some(&app.base),
    )
    .await
    .unwrap();
    assert_eq!((again.id.as_str(), again.created), (reg.id.as_str(), false));
    let id = reg.id;

    let (acct, name_of_acct, admin) = app.account_with_admin(None).await;
    let list = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/apps_store"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let entry = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .cloned()
        .expect("the registered app is listed");
    assert_eq!(entry["name"], name.as_str());
    assert_eq!(entry["api_url"], app.base.as_str());
    assert!(entry.get("source_url").is_none(), "source_url is not kept");
    assert!(entry.get("allowed_users").is_none(), "not installed yet");
    assert_eq!(entry["users"], json!([]));

    // install for all users, as Monster UI's app store sends it
    let path = format!("/v2/accounts/{acct}/apps_store/{id}");
    let body = json!({"allowed_users": "all", "users": [], "ui_metadata": {"ui": "monster-ui"}});
    let r = app
        .call(Method::PUT, &path, Some(&admin), Some(body.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["name"], name.as_str());
    let dup = app.call(Method::PUT, &path, Some(&admin), Some(body)).await;
    assert_eq!(
        (dup.status, dup.body["message"].as_str()),
        (400, Some("Application already installed"))
    );
    let r = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(
        (r.status, &r.body["data"]["allowed_users"]),
        (200, &json!("all"))
    );
    assert_eq!(r.body["data"]["authority"], "app_store");
    assert_eq!(r.body["data"]["author"], "Tester");

    // the login answer lists it for the launcher (KAZOO 4.3's Monster UI reads it there)
    let creds = md5_hex("boss:pw-boss");
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": creds, "account_name": name_of_acct})),
        )
        .await;
    let apps = r.body["data"]["apps"].as_array().unwrap();
    assert!(
        apps.iter()
            .any(|a| a["id"] == id.as_str() && a["label"] == format!("{name} label").as_str()),
        "{apps:?}"
    );

    // icon and screenshot: with a token under the account, and without one
    let r = app
        .raw(
            Method::GET,
            &format!("{path}/icon?auth_token={admin}"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(r.text.as_bytes(), b"PNG-icon");
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/apps_store/{id}/screenshot/0"),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.text.as_bytes()), (200, &b"PNG-shot"[..]));
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/apps_store/{id}/screenshot/1"),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, &r.body["data"]), (404, &json!(["screenshot/1"])));
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/apps_store/{}/icon", "f".repeat(32)),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // the blacklist is an ancestor's business: 403 on one's own account; the master sets it
    let bl = format!("/v2/accounts/{acct}/apps_store/blacklist");
    assert_eq!(
        app.call(Method::GET, &bl, Some(&admin), None).await.status,
        403
    );
    let root = app.admin_token().await;
    let r = app
        .call(
            Method::POST,
            &bl,
            Some(&root),
            Some(json!({"blacklist": [id]})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["blacklist"]),
        (200, &json!([id]))
    );
    let list = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/apps_store"),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        !list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str()),
        "blacklisted apps are hidden"
    );
    app.call(
        Method::POST,
        &bl,
        Some(&root),
        Some(json!({"blacklist": []})),
    )
    .await;

    // update and uninstall
    let r = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"allowed_users": "admins"})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["allowed_users"]),
        (200, &json!("admins"))
    );
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!((r.status, &r.body["data"]), (200, &json!({})));
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (400, Some("Application is not installed"))
    );
    let _ = std::fs::remove_dir_all(folder);
}

#[tokio::test]
async fn core_boot_calls_alerts_limits_ledgers_and_unknown_modules() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let get = |p: String| {
        let admin = admin.clone();
        let app = &app;
        async move { app.call(Method::GET, &p, Some(&admin), None).await }
    };
    let r = get(format!("/v2/accounts/{acct}/alerts")).await;
    assert_eq!(
        (r.status, &r.body["data"], &r.body["page_size"]),
        (200, &json!([]), &json!(0)),
        "{}",
        r.text
    );
    let r = get(format!("/v2/accounts/{acct}/limits")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["id"], "limits");
    assert_eq!(r.body["data"]["allow_prepay"], true);
    let r = get(format!("/v2/accounts/{acct}/ledgers/total")).await;
    assert_eq!(
        (r.status, r.body["data"]["amount"].as_f64()),
        (200, Some(0.0)),
        "{}",
        r.text
    );
    // a module we do not have: crossbar's 404, with or without a token
    let r = get(format!("/v2/accounts/{acct}/external_numbers")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (404, Some("not_found"))
    );
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{acct}/external_numbers"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn post_cdr(app: &TestApp, acct: &str, event: Value) -> (u16, Value) {
    let r = app
        .raw(
            Method::PUT,
            &format!("/rec_ext/cdr/{acct}"),
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(&event).unwrap()),
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn cdrs_from_the_media_server_shown_in_call_details() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let now = kazoo_rec::domain::time::now_gregorian();
    let interaction = format!("{}-5ca1ab1e", now - 60);
    let leg_of = |interaction: &str, call_id: &str, direction: &str, created_us: i64| {
        json!({"Call-ID": call_id, "Call-Direction": direction, "Timestamp": now, "Duration-Seconds": 40,
               "Billing-Seconds": 35, "Caller-ID-Number": "+14155550100", "Caller-ID-Name": "Alice",
               "Callee-ID-Number": "1001", "Request": "1001@r.example.com", "To": "1001@r.example.com",
               "From": "+14155550100@r.example.com", "From-Uri": "+14155550100@10.0.0.5", "Hangup-Cause": "NORMAL_CLEARING",
               "Channel-Created-Time": created_us,
               "Custom-Channel-Vars": {"Account-ID": acct, "Owner-ID": "u1", "Call-Interaction-ID": interaction,
                                       "Media-Recordings": ["202411-r1"]}})
    };
    let leg = |call_id: &str, direction: &str, created_us: i64| {
        leg_of(&interaction, call_id, direction, created_us)
    };
    let a_id = format!("a-{}", uniq());
    let b_id = format!("b-{}", uniq());
    let (s, body) = post_cdr(&app, &acct, leg(&a_id, "inbound", 1_000_000)).await;
    assert_eq!(s, 201, "{body}");
    let cdr_id = body["data"]["id"].as_str().unwrap().to_string();
    assert!(cdr_id.ends_with(&a_id) && cdr_id.as_bytes()[6] == b'-');
    let (s, _) = post_cdr(
        &app,
        &acct,
        json!({"data": leg(&b_id, "outbound", 2_000_000)}),
    )
    .await;
    assert_eq!(s, 201);
    // a retry of the same leg: the first write wins
    let (s, body) = post_cdr(&app, &acct, leg(&a_id, "inbound", 1_000_000)).await;
    assert_eq!((s, &body["data"]["stored"]), (200, &json!(false)));
    let (s, _) = post_cdr(&app, &acct, json!({"Call-Direction": "inbound"})).await;
    assert_eq!(s, 400);

    // the call detail dialog: the stored document by id
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs/{cdr_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["id"], cdr_id.as_str());
    assert_eq!(r.body["data"]["call_id"], a_id.as_str());
    assert_eq!(r.body["data"]["custom_channel_vars"]["owner_id"], "u1");
    assert!(r.body["data"].get("pvt_type").is_none());
    // a bare call id (no YYYYMM- prefix) and an unknown one
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs/{a_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (404, Some("could not find cdr with supplied id"))
    );
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs/202001-nope"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // both legs by interaction id and by either leg's CDR id, earliest last (descending)
    for key in [interaction.clone(), cdr_id.clone()] {
        let r = app
            .call(
                Method::GET,
                &format!("/v2/accounts/{acct}/cdrs/legs/{key}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let legs = r.body["data"].as_array().unwrap();
        let ids: Vec<&str> = legs
            .iter()
            .map(|l| l["call_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![b_id.as_str(), a_id.as_str()]);
    }

    // the list: normalised rows
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let a = rows.iter().find(|x| x["call_id"] == a_id.as_str()).unwrap();
    assert_eq!(a["duration_seconds"], 40);
    assert_eq!(a["dialed_number"], "1001");
    assert_eq!(a["calling_from"], "+14155550100");
    assert_eq!(a["media_recordings"], json!(["202411-r1"]));
    assert_eq!(a["timestamp"], (now - 40).to_string().as_str());
    // one row per call
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs/interaction"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["call_id"],
        a_id.as_str(),
        "the first leg stands for the call"
    );
    // a later call: two rows, the newest first, its documents loaded in one request
    let later = format!("{}-0ddba11", now - 30);
    let c_id = format!("c-{}", uniq());
    let (s, _) = post_cdr(&app, &acct, leg_of(&later, &c_id, "inbound", 3_000_000)).await;
    assert_eq!(s, 201);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/cdrs/interaction"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(calls, vec![c_id.as_str(), a_id.as_str()]);
}

/// Page through a CDR list one row at a time, following `next_start_key`.
async fn call_ids_paged(app: &TestApp, admin: &str, path: &str) -> Vec<String> {
    let mut ids = vec![];
    let mut next: Option<Value> = None;
    for _ in 0..10 {
        let mut url = format!("{path}&page_size=1");
        if let Some(k) = &next {
            // (an opaque string, as KAZOO's modb listings hand it out, sent back as is)
            let k = k.as_str().map_or_else(|| k.to_string(), str::to_string);
            let k = percent_encoding::utf8_percent_encode(&k, percent_encoding::NON_ALPHANUMERIC);
            url.push_str(&format!("&start_key={k}"));
        }
        let r = app.call(Method::GET, &url, Some(admin), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for row in r.body["data"].as_array().unwrap() {
            ids.push(row["call_id"].as_str().unwrap().to_string());
        }
        match r.body.get("next_start_key") {
            Some(k) if !k.is_null() => next = Some(k.clone()),
            _ => return ids,
        }
    }
    panic!("still paging after 10 pages: {ids:?}");
}

#[tokio::test]
async fn cdr_pages_cross_months_without_repeats() {
    use kazoo_rec::domain::time;
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let now = time::now_gregorian();
    // the first second of this month, as gregorian seconds
    let to_unix = time::gregorian_to_unix(now);
    let month_start = now - (to_unix - month_start_unix(to_unix));
    let call = |interaction: String, call_id: &str| {
        json!({"Call-ID": call_id, "Call-Direction": "inbound", "Timestamp": now, "Duration-Seconds": 5,
               "Caller-ID-Number": "+14155550100", "Callee-ID-Number": "1001",
               "Custom-Channel-Vars": {"Account-ID": acct, "Call-Interaction-ID": interaction}})
    };
    // A call of last month, two of this month, then (a second later, as a CDR posted late)
    // another of last month: the CDR list is keyed by when each was stored, so going down
    // it runs last month, this month, last month again.
    let tag = uniq();
    let mut expected = vec![];
    for (i, t) in [month_start - 200, now - 60, now - 30, month_start - 100]
        .into_iter()
        .enumerate()
    {
        if i == 3 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let id = format!("m{i}-{tag}");
        let (s, body) = post_cdr(&app, &acct, call(format!("{t}-k{i}{tag}"), &id)).await;
        assert_eq!(s, 201, "{body}");
        expected.push(id);
    }
    expected.sort();
    let range = format!("created_from={}&created_to={}", now - 2_681_000, now + 10);
    for list in ["cdrs", "cdrs/interaction"] {
        for order in ["", "&ascending=true"] {
            let path = format!("/v2/accounts/{acct}/{list}?{range}{order}");
            let mut got = call_ids_paged(&app, &admin, &path).await;
            got.sort();
            assert_eq!(got, expected, "{list}{order}: every call once");
        }
        // a client's end key ends the range: the third row's key keeps three rows
        let path = format!("/v2/accounts/{acct}/{list}?{range}");
        let r = app
            .call(
                Method::GET,
                &format!("{path}&page_size=2"),
                Some(&admin),
                None,
            )
            .await;
        let third = r.body["next_start_key"].as_str().unwrap().to_string();
        let r = app
            .call(
                Method::GET,
                &format!("{path}&end_key={third}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.body["data"].as_array().unwrap().len(),
            3,
            "{list}: {}",
            r.text
        );
    }
}

/// A start key from outside the range (garbage, or another list's) is an empty page or the
/// range from its start, never a datastore fault (real CouchDB answers 400 to a range that
/// runs backwards; pouchdb answers no rows).
#[tokio::test]
async fn a_start_key_past_the_range_is_an_empty_page() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    // this month's database, with a call in it
    let now = kazoo_rec::domain::time::now_gregorian();
    let call = json!({"Call-ID": format!("s-{}", uniq()), "Call-Direction": "inbound", "Timestamp": now,
                      "Duration-Seconds": 5, "Custom-Channel-Vars": {"Account-ID": acct}});
    assert_eq!(post_cdr(&app, &acct, call).await.0, 201);
    for list in [
        "cdrs",
        "cdrs/interaction",
        "recordings",
        "att_handlers_errors",
    ] {
        for key in ["abc", "5", "%5B%5D", "g2wAAAABYQVq"] {
            for order in ["", "&ascending=true"] {
                let path = format!("/v2/accounts/{acct}/{list}?page_size=5&start_key={key}{order}");
                let r = app.call(Method::GET, &path, Some(&admin), None).await;
                assert_eq!(r.status, 200, "{path}: {}", r.text);
                let rows = r.body["data"].as_array().unwrap().len();
                // these keys sort below every key in range: nothing going down from them,
                // everything going up (the one call, in the lists that show calls)
                let want = usize::from(!order.is_empty() && list.starts_with("cdrs"));
                assert_eq!(rows, want, "{path}: {}", r.text);
            }
        }
    }
}
