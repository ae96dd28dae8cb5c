//! Paged view listings as crossbar serves them (`crossbar_view:load`): `page_size`,
//! `start_key`/`next_start_key`, `paginate=false`, descending by default, and filters that
//! test the full document while the returned item stays the view value.

use super::envelope::{Paging, Reply};
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::{Row, ViewOpts};
use crate::domain::paging::{filters_from_query, Filter, PageParams, PagingError};
use serde_json::Value;
use std::collections::HashSet;

/// A view, its key range in ascending order, and how a row becomes a list item.
pub struct ViewQuery<'a> {
    pub db: &'a str,
    pub design: &'a str,
    pub view: &'a str,
    pub start: Option<Value>,
    pub end: Option<Value>,
    pub map: &'a (dyn Fn(Row) -> Option<Value> + Sync),
    /// The mapper needs the documents, not just the view values.
    pub include_docs: bool,
}

pub fn page_params(ctx: &Ctx) -> ApiResult<PageParams> {
    PageParams::from_query(&ctx.query).map_err(|e| match e {
        PagingError::InvalidPageSize => ApiError::faulty_request("invalid page size"),
        PagingError::PageSizeTooSmall => ApiError::faulty_request("page size must be at least 1"),
    })
}

/// The value of a row, the default mapping.
pub fn row_value(r: Row) -> Option<Value> {
    Some(r.value)
}

/// Run a listing and build the reply.
pub async fn load(ctx: &Ctx, q: ViewQuery<'_>) -> ApiResult<Reply> {
    let params = page_params(ctx)?;
    let filters = filters_from_query(&ctx.query, false);
    let (items, next) = load_items(ctx, &q, &params, &filters).await?;
    let paging = params.page_size.map(|_| Paging {
        page_size: items.len(),
        start_key: params.start_key.clone(),
        next_start_key: next,
    });
    Ok(Reply::list(items, paging))
}

/// Items of one page and the key of the next one.
pub async fn load_items(
    ctx: &Ctx,
    q: &ViewQuery<'_>,
    params: &PageParams,
    filters: &[Filter],
) -> ApiResult<(Vec<Value>, Option<Value>)> {
    let (mut start, end) = if params.descending {
        (q.end.clone(), q.start.clone())
    } else {
        (q.start.clone(), q.end.clone())
    };
    if let Some(k) = &params.start_key {
        start = Some(k.clone());
    }
    let end = params.end_key.clone().or(end);
    let want = params.page_size;
    let mut items = Vec::new();
    // Rows already handled at the boundary key, when a batch restarts from that key.
    let mut seen: HashSet<String> = HashSet::new();
    // Filters drop rows after the query, so keep asking until the page is full.
    loop {
        let remaining = want.map(|w| (w - items.len()) as u64 + 1);
        let limit = if filters.is_empty() {
            remaining
        } else {
            remaining.map(|r| r.max(50))
        };
        let opts = ViewOpts {
            start_key: start.clone(),
            end_key: end.clone(),
            descending: params.descending,
            include_docs: q.include_docs || !filters.is_empty(),
            limit,
            ..Default::default()
        };
        // a database KAZOO made, or one re-created without views, gets ours on first use
        let views = crate::couch::views::docs_for_db(q.db);
        let rows = (ctx.state.couch)
            .view_adding(q.db, q.design, q.view, &opts, views)
            .await?;
        let full_batch = limit.is_some_and(|l| rows.len() as u64 >= l);
        let mut progressed = false;
        let mut last_key: Option<Value> = None;
        for row in rows {
            let row_id = row.id.clone().unwrap_or_default();
            if seen.contains(&row_id) {
                continue;
            }
            progressed = true;
            if want.is_some_and(|w| items.len() == w) {
                return Ok((items, Some(row.key)));
            }
            if last_key.as_ref() != Some(&row.key) {
                seen.clear();
                last_key = Some(row.key.clone());
            }
            seen.insert(row_id);
            if filters
                .iter()
                .all(|f| row.doc.as_ref().is_some_and(|d| f.matches(d)))
            {
                if let Some(item) = (q.map)(row) {
                    items.push(item);
                }
            }
        }
        if !full_batch || !progressed {
            return Ok((items, None));
        }
        start = last_key;
    }
}

/// A view queried in each monthly database of a range, month after month in paging order
/// (`months` already ordered), as crossbar_view's `get_results` does: the client's start
/// and end keys apply to every month. A month whose database does not exist is empty.
/// Returns the page and the next start key.
///
/// This assumes a document's key falls in its database's month. One kept in its call's
/// month but stored later (the recording of a call that started before midnight on the
/// 1st) can be passed over or repeated at that boundary, as in KAZOO;
/// [`load_months_merged`] is exact but reads every month for every page.
#[allow(clippy::too_many_arguments)]
pub async fn load_months(
    ctx: &Ctx,
    account: &crate::domain::ids::AccountId,
    months: &[(i32, u32)],
    design_view: (&str, &str),
    bounds: (Value, Value),
    params: &PageParams,
    filters: &[Filter],
    map: &(dyn Fn(Row) -> Option<Value> + Sync),
    include_docs: bool,
) -> ApiResult<(Vec<Value>, Option<Value>)> {
    let mut items = vec![];
    for (y, m) in months {
        let db = account.modb(*y, *m);
        let month_params = PageParams {
            page_size: params.page_size.map(|p| p.saturating_sub(items.len())),
            descending: params.descending,
            start_key: params.start_key.clone(),
            end_key: params.end_key.clone(),
        };
        let q = month_query(&db, design_view, &bounds, map, include_docs);
        let (mut got, more) = month_items(ctx, &q, &month_params, filters).await?;
        items.append(&mut got);
        if more.is_some() {
            return Ok((items, more));
        }
    }
    Ok((items, None))
}

/// The view `design_view` in one month's database, between `bounds`.
fn month_query<'a>(
    db: &'a str,
    design_view: (&'a str, &'a str),
    bounds: &(Value, Value),
    map: &'a (dyn Fn(Row) -> Option<Value> + Sync),
    include_docs: bool,
) -> ViewQuery<'a> {
    ViewQuery {
        db,
        design: design_view.0,
        view: design_view.1,
        start: Some(bounds.0.clone()),
        end: Some(bounds.1.clone()),
        map,
        include_docs,
    }
}

/// One month's rows; a month whose database does not exist has none.
async fn month_items(
    ctx: &Ctx,
    q: &ViewQuery<'_>,
    params: &PageParams,
    filters: &[Filter],
) -> ApiResult<(Vec<Value>, Option<Value>)> {
    match load_items(ctx, q, params, filters).await {
        Err(ApiError::System {
            error: "datastore_missing",
            ..
        }) => Ok((vec![], None)),
        other => other,
    }
}

/// A view queried in each monthly database of a range (`months` in paging order), the
/// client's start and end keys applying to every month as in crossbar_view.
///
/// A document sits in the month of its call but is keyed by when it was stored, so a month's
/// database can hold keys from a later month (a call that ended after midnight on the 1st,
/// a CDR posted late). Reading month after month, as crossbar_view does, would repeat or
/// skip rows at such a boundary; instead every month gives up to a
/// page and one rows and the page is the first of them all by key. Once that many are in
/// hand, a further month is only asked for keys before the last of them, usually none. A
/// month whose database does not exist is empty. Returns the page and the next start key.
#[allow(clippy::too_many_arguments)]
pub async fn load_months_merged(
    ctx: &Ctx,
    account: &crate::domain::ids::AccountId,
    months: &[(i32, u32)],
    design_view: (&str, &str),
    bounds: (Value, Value),
    params: &PageParams,
    filters: &[Filter],
    map: &(dyn Fn(Row) -> Option<Value> + Sync),
    include_docs: bool,
) -> ApiResult<(Vec<Value>, Option<Value>)> {
    // each item travels with its key, for the merge
    let keyed = |r: Row| {
        let key = r.key.clone();
        map(r).map(|item| Value::Array(vec![key, item]))
    };
    let want = params.page_size.map(|p| p + 1);
    let in_order = |a: &(Value, Value), b: &(Value, Value)| {
        let o = crate::couch::collate(&a.0, &b.0);
        if params.descending {
            o.reverse()
        } else {
            o
        }
    };
    let mut rows: Vec<(Value, Value)> = vec![];
    for (y, m) in months {
        let db = account.modb(*y, *m);
        let end_key = match want {
            Some(w) if rows.len() >= w => Some(rows[w - 1].0.clone()),
            _ => params.end_key.clone(),
        };
        let month_params = PageParams {
            page_size: want,
            descending: params.descending,
            start_key: params.start_key.clone(),
            end_key,
        };
        let q = month_query(&db, design_view, &bounds, &keyed, include_docs);
        let (got, _) = month_items(ctx, &q, &month_params, filters).await?;
        rows.extend(got.into_iter().filter_map(|pair| match pair {
            Value::Array(mut kv) if kv.len() == 2 => {
                let item = kv.pop()?;
                Some((kv.pop()?, item))
            }
            _ => None,
        }));
        // (stable: a month's rows with equal keys keep the view's order)
        rows.sort_by(in_order);
        if let Some(w) = want {
            rows.truncate(w);
        }
    }
    let next = match params.page_size {
        Some(p) if rows.len() > p => {
            let key = rows[p].0.clone();
            rows.truncate(p);
            Some(key)
        }
        _ => None,
    };
    Ok((rows.into_iter().map(|(_, item)| item).collect(), next))
}
