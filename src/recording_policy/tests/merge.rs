//! `any` expansion, the account.endpoint → user → device merge, `{}` and the
//! legacy `record_call` attribute.

use serde_json::{json, Value};

use super::super::{decide, effective_endpoint, expand, Level, Network};
use super::{account, all_on, cell_enabled, device, leg, on, only, plain_account, summary, user};

use Network::{Offnet, Onnet};

/// (name, settings, expected enabled for in.on, in.off, out.on, out.off).
type ExpandCase = (&'static str, Value, [Option<bool>; 4]);

#[test]
fn any_expansion_table() {
    let f = Some(false);
    let t = Some(true);
    let cases: Vec<ExpandCase> = vec![
        (
            "empty object: all four cells false",
            json!({}),
            [f, f, f, f],
        ),
        (
            "non-object input behaves like {}",
            json!("yes"),
            [f, f, f, f],
        ),
        (
            "any.any.enabled: all four true",
            json!({"any": {"any": {"enabled": true}}}),
            [t, t, t, t],
        ),
        (
            "top-level any.enabled alone is a direction-level key: nothing enabled",
            json!({"any": {"enabled": true}}),
            [f, f, f, f],
        ),
        (
            "any.offnet: both directions offnet",
            json!({"any": {"offnet": {"enabled": true}}}),
            [f, t, f, t],
        ),
        (
            "inbound.any: both inbound cells",
            json!({"inbound": {"any": {"enabled": true}}}),
            [t, t, f, f],
        ),
        (
            "inbound.any on, inbound.offnet explicitly off",
            json!({"inbound": {"any": {"enabled": true}, "offnet": {"enabled": false}}}),
            [t, f, f, f],
        ),
        (
            "direction overrides any: any.any on, outbound.any off",
            json!({"any": {"any": {"enabled": true}}, "outbound": {"any": {"enabled": false}}}),
            [t, t, f, f],
        ),
        (
            "network-level any without enabled leaves cells without enabled",
            json!({"inbound": {"any": {"url": "http://x/"}}}),
            [None, None, f, f],
        ),
        (
            "non-object direction is treated as missing",
            json!({"inbound": true, "any": {"onnet": {"enabled": true}}}),
            [t, f, t, f],
        ),
        (
            "null enabled is dropped, the cell falls back to the implicit false",
            json!({"outbound": {"offnet": {"enabled": null}}}),
            [f, f, f, f],
        ),
    ];
    for (name, settings, expected) in cases {
        let expanded = expand(&settings);
        let got = [
            cell_enabled(&expanded, "inbound", "onnet"),
            cell_enabled(&expanded, "inbound", "offnet"),
            cell_enabled(&expanded, "outbound", "onnet"),
            cell_enabled(&expanded, "outbound", "offnet"),
        ];
        assert_eq!(got, expected, "{name}: {expanded}");
        assert!(expanded.get("any").is_none(), "{name}: any removed");
    }
}

#[test]
fn any_expansion_merges_parameters_key_by_key() {
    let settings = json!({
        "any": {"offnet": {"enabled": true, "url": "http://rec/", "format": "wav"}, "any": {"time_limit": 600}},
        "outbound": {"offnet": {"format": "mp3"}}
    });
    let expanded = expand(&settings);
    assert_eq!(
        expanded["outbound"]["offnet"],
        json!({"time_limit": 600, "enabled": true, "url": "http://rec/", "format": "mp3"})
    );
    assert_eq!(expanded["inbound"]["offnet"]["format"], json!("wav"));
    assert_eq!(expanded["inbound"]["onnet"], json!({"time_limit": 600}));
}

#[test]
fn empty_network_object_replaces_the_any_network_object() {
    // kz_json:merge/2: an empty right-hand object replaces the left one.
    let expanded = expand(&json!({"any": {"onnet": {"enabled": true}}, "inbound": {"onnet": {}}}));
    assert_eq!(expanded["inbound"]["onnet"], json!({"enabled": false}));
    assert_eq!(expanded["outbound"]["onnet"], json!({"enabled": true}));
}

#[test]
fn device_with_only_inbound_offnet_switches_off_users_outbound() {
    let acct = plain_account();
    let u = user("u1", Some(all_on()));
    let d = device("d1", Some("u1"), Some(on("inbound", "offnet")));
    let eff = effective_endpoint(&acct, Some(&u), Some(&d));
    assert_eq!(cell_enabled(&eff, "inbound", "offnet"), Some(true));
    assert_eq!(cell_enabled(&eff, "inbound", "onnet"), Some(false));
    assert_eq!(cell_enabled(&eff, "outbound", "onnet"), Some(false));
    assert_eq!(cell_enabled(&eff, "outbound", "offnet"), Some(false));

    // And in a call: the user's outbound recording does not happen.
    let mut call = leg(acct, Onnet, Offnet);
    call.caller_device = Some(d);
    call.caller_user = Some(u);
    assert!(decide(&call).recordings.is_empty());
}

#[test]
fn device_wins_enabled_but_parameters_merge_key_by_key() {
    let acct = account(
        json!({"endpoint": {"any": {"any": {"record_min_sec": 5, "url": "http://acct/"}}}}),
    );
    let u = user(
        "u1",
        Some(
            json!({"outbound": {"offnet": {"enabled": true, "url": "http://user/", "format": "wav"}}}),
        ),
    );
    let d = device(
        "d1",
        Some("u1"),
        Some(json!({"outbound": {"offnet": {"enabled": true, "time_limit": 900}}})),
    );
    let mut call = leg(acct, Onnet, Offnet);
    call.caller_device = Some(d);
    call.caller_user = Some(u);
    let decision = decide(&call);
    let rec = only(&decision, Level::CallerEndpoint, "merge");
    assert_eq!(rec.params["url"], json!("http://user/"));
    assert_eq!(rec.params["format"], json!("wav"));
    assert_eq!(rec.params["time_limit"], json!(900));
    assert_eq!(rec.params["record_min_sec"], json!(5));
    assert_eq!(rec.source, "device d1 call_recording.outbound.offnet");
    assert_eq!(rec.owner_id.as_deref(), Some("u1"));
}

#[test]
fn device_explicitly_off_beats_user_on() {
    let u = user("u1", Some(on("outbound", "onnet")));
    let d = device(
        "d1",
        Some("u1"),
        Some(json!({"outbound": {"onnet": {"enabled": false}}})),
    );
    let eff = effective_endpoint(&plain_account(), Some(&u), Some(&d));
    assert_eq!(cell_enabled(&eff, "outbound", "onnet"), Some(false));
}

#[test]
fn device_undefined_uses_user_then_account_endpoint() {
    let acct = account(json!({"endpoint": on("inbound", "offnet")}));
    let u = user("u1", Some(on("outbound", "onnet")));
    let d = device("d1", Some("u1"), None);
    let eff = effective_endpoint(&acct, Some(&u), Some(&d));
    // The user's doc is non-empty, so after expansion it decides all four cells.
    assert_eq!(cell_enabled(&eff, "outbound", "onnet"), Some(true));
    assert_eq!(cell_enabled(&eff, "inbound", "offnet"), Some(false));
    // Without a user, the account's endpoint default applies.
    let eff = effective_endpoint(&acct, None, Some(&d));
    assert_eq!(cell_enabled(&eff, "inbound", "offnet"), Some(true));
}

#[test]
fn nothing_configured_gives_empty_effective_settings() {
    let eff = effective_endpoint(
        &plain_account(),
        Some(&user("u1", None)),
        Some(&device("d1", None, None)),
    );
    assert_eq!(eff, json!({}));
}

#[test]
fn empty_object_is_treated_as_absent() {
    let acct = account(json!({"endpoint": on("outbound", "offnet")}));
    let cases = [
        (
            "device {} keeps the user's settings",
            Some(on("inbound", "onnet")),
            json!({}),
            ("inbound", "onnet"),
        ),
        (
            "device {} and user {} keep account.endpoint",
            Some(json!({})),
            json!({}),
            ("outbound", "offnet"),
        ),
        (
            "device {} and no user call_recording",
            None,
            json!({}),
            ("outbound", "offnet"),
        ),
    ];
    for (name, user_cr, device_cr, (dir, net)) in cases {
        let u = user("u1", user_cr);
        let d = device("d1", Some("u1"), Some(device_cr));
        let eff = effective_endpoint(&acct, Some(&u), Some(&d));
        assert_eq!(cell_enabled(&eff, dir, net), Some(true), "{name}: {eff}");
    }
}

#[test]
fn empty_object_does_not_fall_back_to_legacy_record_call() {
    // 4.3: call_recording {} is "present but empty": legacy is only read when
    // the key is missing.
    let mut d = device("d1", None, Some(json!({})));
    d["record_call"] = json!(true);
    assert_eq!(
        effective_endpoint(&plain_account(), None, Some(&d)),
        json!({})
    );
}

#[test]
fn account_rule_is_independent_of_endpoints() {
    let acct = account(json!({"account": on("inbound", "onnet")}));
    let mut call = leg(acct, Onnet, Onnet);
    call.caller_user = Some(user("u1", Some(super::all_off())));
    call.caller_device = Some(device("d1", Some("u1"), Some(super::all_off())));
    call.callee_endpoints = vec![(device("d2", None, Some(super::all_off())), None)];
    let decision = decide(&call);
    assert_eq!(
        summary(&decision),
        vec![(Level::Account, "inbound from onnet to account".to_owned())]
    );
    // And account.account never leaks into endpoint settings.
    let eff = effective_endpoint(&call.account, None, call.caller_device.as_ref());
    assert_eq!(cell_enabled(&eff, "inbound", "onnet"), Some(false));
}

/// (name, device `record_call`, expected enabled, expected params subset).
#[test]
fn legacy_record_call_table() {
    let cases: Vec<(&str, Value, bool, Value)> = vec![
        (
            "boolean true",
            json!(true),
            true,
            json!({"format": "mp3", "time_limit": 10800}),
        ),
        ("string \"true\"", json!("true"), true, json!({})),
        (
            "object with record_call true",
            json!({"record_call": true, "url": "http://legacy/", "format": "wav", "time_limit": 600}),
            true,
            json!({"url": "http://legacy/", "format": "wav", "time_limit": 600}),
        ),
        (
            "object without record_call",
            json!({"url": "http://legacy/"}),
            false,
            json!({}),
        ),
        (
            "object with record_call false",
            json!({"record_call": false}),
            false,
            json!({}),
        ),
        ("boolean false", json!(false), false, json!({})),
        ("empty object", json!({}), false, json!({})),
        ("number", json!(1), false, json!({})),
    ];
    for (name, record_call, enabled, params) in cases {
        let mut d = device("d1", None, None);
        d["record_call"] = record_call;
        let mut call = leg(plain_account(), Onnet, Offnet);
        call.caller_device = Some(d);
        let decision = decide(&call);
        if !enabled {
            assert!(
                decision.recordings.is_empty(),
                "{name}: {:?}",
                summary(&decision)
            );
            continue;
        }
        let rec = only(&decision, Level::CallerEndpoint, name);
        assert_eq!(rec.source, "device d1 record_call", "{name}");
        for (k, v) in params.as_object().into_iter().flatten() {
            assert_eq!(&rec.params[k], v, "{name}: {k}");
        }
    }
}

#[test]
fn legacy_enables_all_four_cells_and_yields_to_call_recording() {
    let mut u = user("u1", None);
    u["record_call"] = json!(true);
    let eff = effective_endpoint(&plain_account(), Some(&u), None);
    for (dir, net) in [
        ("inbound", "onnet"),
        ("inbound", "offnet"),
        ("outbound", "onnet"),
        ("outbound", "offnet"),
    ] {
        assert_eq!(cell_enabled(&eff, dir, net), Some(true), "{dir} {net}");
    }
    // A non-empty call_recording wins over record_call on the same doc.
    u["call_recording"] = super::all_off();
    let eff = effective_endpoint(&plain_account(), Some(&u), None);
    assert_eq!(cell_enabled(&eff, "outbound", "offnet"), Some(false));
    // A device's call_recording beats the user's legacy flag.
    if let Some(m) = u.as_object_mut() {
        m.remove("call_recording");
    }
    let d = device("d1", Some("u1"), Some(on("inbound", "offnet")));
    let eff = effective_endpoint(&plain_account(), Some(&u), Some(&d));
    assert_eq!(cell_enabled(&eff, "outbound", "offnet"), Some(false));
    assert_eq!(cell_enabled(&eff, "inbound", "offnet"), Some(true));
}

#[test]
fn null_call_recording_falls_back_to_legacy() {
    let mut d = device("d1", None, Some(Value::Null));
    d["record_call"] = json!(true);
    let eff = effective_endpoint(&plain_account(), None, Some(&d));
    assert_eq!(cell_enabled(&eff, "inbound", "offnet"), Some(true));
}

#[test]
fn sources_name_the_deciding_key() {
    let cases = [
        (
            "direct cell",
            json!({"outbound": {"offnet": {"enabled": true}}}),
            "user u1 call_recording.outbound.offnet",
        ),
        (
            "direction any",
            json!({"outbound": {"any": {"enabled": true}}}),
            "user u1 call_recording.outbound.any",
        ),
        (
            "top any network",
            json!({"any": {"offnet": {"enabled": true}}}),
            "user u1 call_recording.any.offnet",
        ),
        (
            "top any any",
            json!({"any": {"any": {"enabled": true}}}),
            "user u1 call_recording.any.any",
        ),
    ];
    for (name, cr, source) in cases {
        let mut call = leg(plain_account(), Onnet, Offnet);
        call.caller_user = Some(user("u1", Some(cr)));
        call.caller_device = Some(device("d1", Some("u1"), None));
        let decision = decide(&call);
        assert_eq!(
            only(&decision, Level::CallerEndpoint, name).source,
            source,
            "{name}"
        );
    }
    let mut call = leg(
        account(json!({"endpoint": on("outbound", "offnet")})),
        Onnet,
        Offnet,
    );
    call.caller_device = Some(device("d1", None, None));
    let decision = decide(&call);
    let expected = format!(
        "account {} call_recording.endpoint.outbound.offnet",
        super::ACCOUNT_ID
    );
    assert_eq!(
        only(&decision, Level::CallerEndpoint, "account.endpoint").source,
        expected
    );
}
