//! `cdrs` (`cb_cdrs.erl`): call detail records from the monthly databases. The list (and
//! `interaction`, one row per call) are normalised rows (see [`crate::cdr`]); a single CDR
//! and a call's legs are the stored documents' public fields, which is what Monster UI's
//! call detail dialog shows. Lists are answered in one envelope rather than KAZOO's chunked
//! stream (the same rows and `next_start_key`).

use super::envelope::{Paging, Reply};
use super::error::{ApiError, ApiResult};
use super::listing;
use super::recordings::{months_between, time_range};
use super::request::Ctx;
use crate::couch::ViewOpts;
use crate::domain::json::public_fields;
use crate::domain::paging::filters_from_query;
use crate::domain::time;
use serde_json::{json, Value};

fn utc_offset(ctx: &Ctx) -> ApiResult<i64> {
    match ctx.query("utc_offset") {
        None => Ok(0),
        Some(v) => v.trim().parse::<i64>().map_err(|_| ApiError::Response {
            code: 404,
            message: "utc_offset must be a number".into(),
            data: json!({}),
        }),
    }
}

fn caller_is_reseller(ctx: &Ctx) -> bool {
    ctx.auth().is_ok_and(|a| a.account.is_reseller())
}

/// `GET /v2/accounts/{A}/cdrs`: a CDR sits in its call's month but is keyed by when it was
/// stored, so pages cross months by merging (see [`listing::load_months_merged`]).
pub async fn list_cdrs(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let params = listing::page_params(&ctx)?;
    let offset = utc_offset(&ctx)?;
    let reseller = caller_is_reseller(&ctx);
    let (from, to) = time_range(&ctx.query, time::now_gregorian())?;
    let filters = filters_from_query(&ctx.query, true);
    let mut months = months_between(from, to);
    if params.descending {
        months.reverse();
    }
    let (lo, hi) = (json!([from]), json!([to, {}]));
    let map = move |r: crate::couch::Row| {
        r.doc
            .as_ref()
            .map(|d| crate::cdr::normalize_row(d, reseller, offset))
    };
    let (items, next) = listing::load_months_merged(
        &ctx,
        &account,
        &months,
        ("cdrs", "crossbar_listing"),
        (lo, hi),
        &params,
        &filters,
        &map,
        true,
    )
    .await?;
    let paging = params.page_size.map(|_| Paging {
        page_size: items.len(),
        start_key: params.start_key.clone(),
        next_start_key: next,
    });
    Ok(Reply::list(items, paging))
}

/// The month database of an id or interaction prefixed `YYYYMM-`.
fn modb_of_cdr_id(account: &crate::domain::ids::AccountId, id: &str) -> Option<String> {
    let b = id.as_bytes();
    if b.len() < 8 || b[6] != b'-' || !b[..6].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (y, m) = (id[..4].parse().ok()?, id[4..6].parse().ok()?);
    (1..=12).contains(&m).then(|| account.modb(y, m))
}

async fn load_cdr(ctx: &Ctx, db: &str, id: &str) -> ApiResult<Option<Value>> {
    if !crate::domain::ids::is_acceptable_doc_id(id) {
        return Ok(None);
    }
    match ctx.state.couch.get(db, id).await {
        Ok(d) => Ok(d.filter(is_live_cdr)),
        Err(crate::couch::CouchError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A CDR document not soft-deleted (a modb also holds recordings, and CDRs that were put
/// there by mistake under another type).
fn is_live_cdr(d: &Value) -> bool {
    d.get("pvt_type").and_then(Value::as_str) == Some("cdr")
        && !d
            .get("pvt_deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false)
}

fn with_id(doc: &Value) -> Value {
    let mut out = public_fields(doc);
    out["id"] = doc.get("_id").cloned().unwrap_or(Value::Null);
    out
}

/// `GET /v2/accounts/{A}/cdrs/{YYYYMM-call_id}`.
pub async fn get_cdr(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let id = ctx.id(0).to_string();
    let db = modb_of_cdr_id(&account, &id).ok_or_else(|| ApiError::Response {
        code: 404,
        message: "could not find cdr with supplied id".into(),
        data: json!({}),
    })?;
    let doc = load_cdr(&ctx, &db, &id)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    Ok(Reply::doc(with_id(&doc), super::docs::rev(&doc)))
}

/// `GET /v2/accounts/{A}/cdrs/legs/{id}`: every leg of the call, `id` being a CDR id
/// (`YYYYMM-…`) or an interaction id (`<11-digit gregorian seconds>-<key>`).
pub async fn get_legs(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let id = ctx.id(0).to_string();
    let interaction = if let Some(db) = modb_of_cdr_id(&account, &id) {
        let doc = load_cdr(&ctx, &db, &id)
            .await?
            .ok_or_else(|| ApiError::Response {
                code: 404,
                message: "could not find legs for supplied id".into(),
                data: json!({}),
            })?;
        doc.get("interaction_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::response_bad_identifier("undefined"))?
    } else {
        id.clone()
    };
    let seconds = interaction
        .split_once('-')
        .filter(|(t, _)| t.len() == 11)
        .and_then(|(t, _)| t.parse::<i64>().ok())
        .ok_or_else(|| ApiError::response_bad_identifier(&id))?;
    let (y, m) = time::year_month(time::gregorian_to_unix(seconds));
    let db = account.modb(y, m);
    let ascending = ctx.query("ascending") == Some("true");
    let (lo, hi) = (json!([interaction]), json!([interaction, {}]));
    let opts = ViewOpts {
        start_key: Some(if ascending { lo.clone() } else { hi.clone() }),
        end_key: Some(if ascending { hi } else { lo }),
        descending: !ascending,
        include_docs: true,
        ..Default::default()
    };
    let rows = match ctx
        .state
        .couch
        .view(&db, "interactions", "interaction_listing_by_id", &opts)
        .await
    {
        Ok(rows) => rows,
        Err(crate::couch::CouchError::NotFound) => vec![],
        Err(e) => return Err(e.into()),
    };
    let legs: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.doc.as_ref())
        .map(with_id)
        .collect();
    let n = legs.len();
    Ok(Reply::list(
        legs,
        Some(Paging {
            page_size: n,
            ..Default::default()
        }),
    ))
}

/// `GET /v2/accounts/{A}/cdrs/interaction`: one normalised row per call (its first leg),
/// paged like crossbar's other modb listings (`page_size`, `start_key`/`next_start_key`;
/// KAZOO's `interaction_listing` grouped at level 2, without filters).
pub async fn list_interactions(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let params = listing::page_params(&ctx)?;
    let offset = utc_offset(&ctx)?;
    let reseller = caller_is_reseller(&ctx);
    let (from, to) = time_range(&ctx.query, time::now_gregorian())?;
    let mut months = months_between(from, to);
    let (lo, hi) = (json!([from]), json!([to, {}]));
    let (first, end) = if params.descending {
        months.reverse();
        (hi, lo)
    } else {
        (lo, hi)
    };
    // a client's end key replaces the range's (crossbar_view's `ranged_start_end_keys`)
    let end = params.end_key.clone().unwrap_or(end);
    // As in crossbar_view, the client's start key applies to every month. A key handed out
    // is a group's `[time, key]`; the rows under it are `[time, key, leg time]`, which sort
    // after it, so going down they are only reached from `[time, key, {}]`.
    let start = match params.start_key.clone() {
        Some(Value::Array(mut k)) if params.descending && k.len() == 2 => {
            k.push(json!({}));
            Value::Array(k)
        }
        Some(k) => k,
        None => first,
    };
    let mut items = vec![];
    let mut rows_taken = 0;
    let mut next = None;
    for (y, mo) in months {
        let db = account.modb(y, mo);
        let opts = ViewOpts {
            start_key: Some(start.clone()),
            end_key: Some(end.clone()),
            descending: params.descending,
            reduce: Some(true),
            group_level: Some(2),
            // one more than the page needs: its key is the next page's start
            limit: params.page_size.map(|p| (p - rows_taken) as u64 + 1),
            ..Default::default()
        };
        let rows = match ctx
            .state
            .couch
            // (a month's database made without our views gets them, as in the other lists)
            .view_adding(
                &db,
                "interactions",
                "interaction_listing",
                &opts,
                crate::couch::views::docs_for_db(&db),
            )
            .await
        {
            Ok(rows) => rows,
            Err(crate::couch::CouchError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut ids = vec![];
        for r in rows {
            if params.page_size == Some(rows_taken) {
                next = Some(r.key);
                break;
            }
            rows_taken += 1;
            if let Some(id) = r.value.get("id").and_then(Value::as_str) {
                ids.push(id.to_string());
            }
        }
        // each call's first leg, loaded together (KAZOO's `open_docs`), in view order
        let ids: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| crate::domain::ids::is_acceptable_doc_id(id))
            .collect();
        let docs = match ctx.state.couch.open_docs(&db, &ids).await {
            Ok(docs) => docs,
            Err(crate::couch::CouchError::NotFound) => vec![],
            Err(e) => return Err(e.into()),
        };
        items.extend(
            docs.iter()
                .filter(|d| is_live_cdr(d))
                .map(|d| crate::cdr::normalize_row(d, reseller, offset)),
        );
        if next.is_some() {
            break;
        }
    }
    let paging = params.page_size.map(|_| Paging {
        page_size: items.len(),
        start_key: params.start_key.clone(),
        next_start_key: next,
    });
    Ok(Reply::list(items, paging))
}
