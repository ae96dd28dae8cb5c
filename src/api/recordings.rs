//! Stored recordings (`cb_recordings.erl`): `call_recording` documents in the account's
//! monthly databases, listed across months over `created_from`/`created_to`, read as JSON or
//! played/downloaded as audio (streamed, with HTTP Range), and deleted (soft, as KAZOO).

use super::envelope::{Paging, Reply};
use super::error::{ApiError, ApiResult};
use super::listing;
use super::request::Ctx;
use crate::domain::ids::AccountId;
use crate::domain::json::{into_public_fields, public_fields};
use crate::domain::paging::{filters_from_query, PageParams};
use crate::domain::time;
use serde_json::{json, Value};

/// KAZOO's `crossbar.maximum_range` (31 days + 1 hour), in seconds.
pub const MAXIMUM_RANGE: i64 = 2_682_000;

/// The `created_from`/`created_to` window (gregorian seconds), KAZOO's defaults and checks.
pub fn time_range(query: &[(String, String)], now: i64) -> ApiResult<(i64, i64)> {
    let get = |k: &str| {
        crate::domain::paging::query_get(query, k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
    };
    let to = get("created_to").unwrap_or(now);
    let from = get("created_from").unwrap_or(to - MAXIMUM_RANGE);
    if to < from {
        return Err(ApiError::validation(
            "created_from",
            "date_range",
            json!({"message": format!("created_to {to} is prior to created_from {from}"), "cause": from}),
        ));
    }
    if to - from > MAXIMUM_RANGE {
        return Err(ApiError::validation(
            "created_from",
            "date_range",
            json!({"message": format!("created_to {to} is more than {MAXIMUM_RANGE} seconds from created_from {from}"), "cause": to}),
        ));
    }
    Ok((from, to))
}

/// The months (year, month) a gregorian range touches, oldest first.
pub fn months_between(from: i64, to: i64) -> Vec<(i32, u32)> {
    let (mut y, mut m) = time::year_month(time::gregorian_to_unix(from));
    let end = time::year_month(time::gregorian_to_unix(to));
    let mut out = vec![];
    while (y, m) <= end && out.len() < 1200 {
        out.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Our search extension: `search=<text>` matches names and numbers, case-insensitively.
fn matches_search(doc: &Value, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    [
        "caller_id_name",
        "caller_id_number",
        "callee_id_name",
        "callee_id_number",
        "from",
        "to",
        "name",
    ]
    .iter()
    .filter_map(|k| doc.get(*k).and_then(Value::as_str))
    .any(|v| v.to_lowercase().contains(&needle))
}

/// A recording as crossbar lists it: the public doc plus `_read_only.content_types`.
fn list_item(doc: Value) -> Value {
    let mut types: Vec<String> = ["_attachments", "pvt_attachments"]
        .iter()
        .filter_map(|k| doc.get(*k).and_then(Value::as_object))
        .flat_map(|atts| {
            atts.values().filter_map(|a| {
                a.get("content_type")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        })
        .collect();
    types.sort();
    types.dedup();
    let mut out = into_public_fields(doc);
    out["_read_only"] = json!({"content_types": types});
    out
}

pub async fn list_recordings(ctx: Ctx) -> ApiResult<Reply> {
    list(ctx, None).await
}

/// `GET /users/{U}/recordings`: a `user` token sees only its own.
pub async fn list_user_recordings(ctx: Ctx) -> ApiResult<Reply> {
    let user = ctx.id(0).to_string();
    let auth = ctx.auth()?;
    if auth.owner_id() != Some(user.as_str())
        && super::users_guard::priv_level(&ctx).await? != "admin"
        && !auth.is_superduper()
    {
        return Err(ApiError::forbidden());
    }
    list(ctx, Some(user)).await
}

async fn list(ctx: Ctx, user: Option<String>) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let params = listing::page_params(&ctx)?;
    let (from, mut to) = time_range(&ctx.query, time::now_gregorian())?;
    let mut filters = filters_from_query(&ctx.query, true);
    let search = ctx.query("search").map(str::to_string);
    // `search` needs the documents, so it rides on the filter machinery (include_docs).
    if search.is_some() {
        filters.push(crate::domain::paging::Filter::HasKey("_id".into()));
    }
    let prefix: Vec<Value> = user.iter().map(|u| json!(u)).collect();
    // A start key carries its creation time: going down, no month after its month holds a
    // key before it (a recording is stored after its call starts). Going up, every month of
    // the range stays: an earlier month can hold a recording stored late.
    let key_time = |k: &Value| {
        k.as_array()
            .and_then(|a| a.get(prefix.len()))
            .and_then(Value::as_i64)
    };
    let mut start_key = params.start_key.clone();
    if let Some(t) = start_key.as_ref().and_then(key_time) {
        if params.descending {
            to = to.min(t);
        }
    } else {
        start_key = None;
    }
    let mut months = months_between(from, to);
    if params.descending {
        months.reverse();
    }
    let design_view = if user.is_some() {
        "listing_by_user"
    } else {
        "crossbar_listing"
    };
    let map = |r: crate::couch::Row| {
        let doc = r.doc?;
        if search.as_deref().is_some_and(|s| !matches_search(&doc, s)) {
            return None;
        }
        Some(list_item(doc))
    };
    let mut lo = prefix.clone();
    lo.push(json!(from));
    let mut hi = prefix.clone();
    hi.push(json!(to));
    hi.push(json!({}));
    // Documents are needed for the item anyway (KAZOO lists full docs).
    if filters.is_empty() {
        filters.push(crate::domain::paging::Filter::HasKey("_id".into()));
    }
    let month_params = PageParams {
        start_key,
        ..params.clone()
    };
    let (items, next) = listing::load_months(
        &ctx,
        &account,
        &months,
        ("recordings", design_view),
        (json!(lo), json!(hi)),
        &month_params,
        &filters,
        &map,
        false,
    )
    .await?;
    // Our extension: `group_by=interaction` lists each call once, as its user sees it, with
    // its legs' recordings underneath (paging still counts recordings).
    let items = match ctx.query("group_by") {
        Some("interaction") => crate::call_view::group_by_interaction(items, !params.descending),
        None => items,
        Some(other) => {
            return Err(ApiError::validation(
                "group_by",
                "enum",
                json!({"message": "Value not found in enumerated list of values", "target": ["interaction"], "value": other}),
            ))
        }
    };
    let paging = params.page_size.map(|_| Paging {
        page_size: items.len(),
        start_key: params.start_key.clone(),
        next_start_key: next,
    });
    Ok(Reply::list(items, paging))
}

/// `YYYYMM-…` ids name their month; anything else is crossbar's `bad identifier` [id].
fn recording_db(account: &AccountId, id: &str) -> ApiResult<String> {
    let bad = || ApiError::response_bad_identifier(id);
    let (prefix, rest) = id.split_once('-').ok_or_else(bad)?;
    if prefix.len() != 6
        || !prefix.bytes().all(|b| b.is_ascii_digit())
        || rest.is_empty()
        || !crate::domain::ids::is_acceptable_doc_id(id)
    {
        return Err(bad());
    }
    let year: i32 = prefix[..4].parse().map_err(|_| bad())?;
    let month: u32 = prefix[4..].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(account.modb(year, month))
}

async fn load_recording(ctx: &Ctx) -> ApiResult<(String, Value)> {
    let id = ctx.id(0).to_string();
    let account = ctx.account()?.id.clone();
    let db = recording_db(&account, &id)?;
    let doc = ctx
        .state
        .couch
        .get(&db, &id)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    let ok = doc.get("pvt_type").and_then(Value::as_str) == Some("call_recording")
        && !doc
            .get("pvt_deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    if !ok {
        return Err(ApiError::bad_identifier(&id));
    }
    Ok((db, doc))
}

fn wants_audio(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        let a = a.to_ascii_lowercase();
        a.contains("audio/mpeg")
            || a.contains("audio/mp3")
            || a.contains("audio/x-wav")
            || a.contains("audio/wav")
            || a.contains("audio/*")
    })
}

/// `Range: bytes=a-b` (one range; anything else is ignored and the whole body is served).
pub fn parse_range(h: Option<&str>) -> Option<(u64, Option<u64>)> {
    let spec = h?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (s, e) = spec.split_once('-')?;
    let start: u64 = s.trim().parse().ok()?;
    let end = match e.trim() {
        "" => None,
        v => Some(v.parse().ok()?),
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some((start, end))
}

pub async fn get_recording(ctx: Ctx) -> ApiResult<Reply> {
    let (db, doc) = load_recording(&ctx).await?;
    if !wants_audio(ctx.accept.as_deref()) {
        let rev = super::docs::rev(&doc);
        return Ok(Reply::doc(list_item(doc), rev));
    }
    let id = ctx.id(0).to_string();
    let range = parse_range(ctx.headers.get("range").and_then(|v| v.to_str().ok()));
    let inline = crate::domain::paging::is_true(ctx.query("inline"));
    super::recording_media::stream_first_attachment(&ctx, &db, &id, &doc, range, inline).await
}

/// Soft delete, as KAZOO (the CouchDB attachment stays until a hard delete; audio on
/// external storage is never removed).
pub async fn delete_recording(ctx: Ctx) -> ApiResult<Reply> {
    let (db, mut doc) = load_recording(&ctx).await?;
    let account = ctx.account()?.id.clone();
    if ctx.query("should_soft_delete") == Some("false") {
        doc["_deleted"] = json!(true);
    } else {
        doc["pvt_deleted"] = json!(true);
        let mut wctx = ctx.write_ctx(Some(&account));
        wctx.encoded_db = None;
        crate::couch::pvt::stamp(&mut doc, &wctx, "call_recording", time::now_gregorian());
    }
    ctx.state.couch.save(&db, &mut doc).await?;
    let mut out = public_fields(&doc);
    out["_read_only"] = json!({"deleted": true});
    Ok(Reply::ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn ranges_like_crossbar() {
        let now = 63_900_000_000;
        assert_eq!(
            time_range(&q(&[]), now).unwrap(),
            (now - MAXIMUM_RANGE, now)
        );
        assert_eq!(
            time_range(&q(&[("created_from", "-5"), ("created_to", "x")]), now).unwrap(),
            (now - MAXIMUM_RANGE, now)
        );
        assert!(
            matches!(time_range(&q(&[("created_from", "200"), ("created_to", "100")]), now), Err(ApiError::Validation(m)) if m["created_from"]["date_range"]["message"] == "created_to 100 is prior to created_from 200")
        );
        assert!(matches!(
            time_range(&q(&[("created_from", "1"), ("created_to", "9999999")]), now),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn months_and_ids() {
        let jan31 = 63_871_000_000; // some time in 2024
        let ms = months_between(jan31, jan31 + MAXIMUM_RANGE);
        assert!(ms.len() == 2 || ms.len() == 3);
        let a = AccountId::parse(&"a".repeat(32)).unwrap();
        assert_eq!(recording_db(&a, "202403-abc").unwrap(), a.modb(2024, 3));
        for bad in [
            "abc",
            "2024-03",
            "202413-x",
            "20240-x",
            "202403-",
            "202403-../x",
        ] {
            assert!(recording_db(&a, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn range_headers() {
        assert_eq!(parse_range(Some("bytes=0-99")), Some((0, Some(99))));
        assert_eq!(parse_range(Some("bytes=100-")), Some((100, None)));
        assert_eq!(parse_range(Some("bytes=5-1")), None);
        assert_eq!(parse_range(Some("bytes=0-1,5-6")), None);
        assert_eq!(parse_range(Some("items=0-1")), None);
    }
}
