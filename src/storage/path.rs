//! Object names from handler settings: KAZOO's `kz_att_util:format_url`, byte for byte.
//!
//! A handler's `field_list` is a list of `{"arg": account_id|db|id|attachment}`,
//! `{"field": <public doc field>}`, `{"const": "…"}` and `{"group": [...]}` items. Each item is
//! rendered (args and fields percent-encoded with OTP's `http_uri:encode`, consts verbatim,
//! groups joined with nothing), missing values are dropped, and the rest are joined with
//! `field_separator` (default `/`). A folder prefix comes first: `path`, else
//! `folder_base_path` joined with the plan's `params.folder_path`.
//!
//! The `db` arg is the MODB name URL-decoded and encoded again, so S3's default key holds a
//! literal `%2F`: `account%2Fxx%2Fyy%2F<rest>-YYYYMM/YYYYMM-<hex>_<name>.mp3`.

use serde_json::{Map, Value};

use super::StorageError;

/// The values a handler's `field_list` refers to, for one object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathContext {
    /// The account id (KAZOO's `pvt_account_id`); empty renders as `unknown_account`.
    pub account_id: String,
    /// Encoded MODB name, `account%2Fxx%2Fyy%2F…-YYYYMM` (a decoded name works too).
    pub db: String,
    pub doc_id: String,
    /// Attachment name, e.g. `call_recording_<call_id>.mp3`.
    pub attachment: String,
    /// The metadata doc; only its public fields (no `_*`, no `pvt_*`) are used.
    pub doc: Value,
    /// The storage plan's `params.folder_path`, if any.
    pub folder_path: Option<String>,
}

/// One `field_list` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `{"arg": "account_id" | "db" | "id" | "attachment"}`.
    Arg(String),
    /// `{"field": name}`: a top-level public field of the metadata doc.
    Doc(String),
    /// `{"const": text}` (or a bare string), copied verbatim.
    Const(String),
    /// `{"group": [...]}`, rendered with an empty separator.
    Group(Vec<Field>),
}

const ARGS: [&str; 4] = ["account_id", "db", "id", "attachment"];

/// The naming settings every handler shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathFormat {
    pub field_list: Option<Vec<Field>>,
    pub field_separator: Option<String>,
    pub folder_base_path: Option<String>,
    /// Undocumented `path` setting: replaces the folder prefix entirely.
    pub path: Option<String>,
}

impl PathFormat {
    /// Read `field_list`, `field_separator`, `folder_base_path` and `path` from settings.
    pub fn parse(settings: &Map<String, Value>) -> Result<Self, StorageError> {
        let field_list = match settings.get("field_list") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(parse_fields(items, "settings.field_list")?),
            Some(_) => {
                return Err(StorageError::invalid(
                    "settings.field_list",
                    "must be a list",
                ))
            }
        };
        Ok(PathFormat {
            field_list,
            field_separator: opt_string(settings, "field_separator")?,
            folder_base_path: opt_string(settings, "folder_base_path")?,
            path: opt_string(settings, "path")?,
        })
    }

    /// The object name for `ctx`, with `defaults` when no `field_list` is set.
    pub fn render(&self, ctx: &PathContext, defaults: &[Field]) -> String {
        let fields = self.field_list.as_deref().unwrap_or(defaults);
        let sep = self.field_separator.as_deref().unwrap_or("/");
        let base = render_fields(fields, ctx, sep);
        match self.folder(ctx) {
            None => base,
            Some(folder) => format!("{}/{}", folder.trim_end_matches('/'), base),
        }
    }

    fn folder(&self, ctx: &PathContext) -> Option<String> {
        if let Some(p) = &self.path {
            return Some(p.clone());
        }
        match (&self.folder_base_path, &ctx.folder_path) {
            (None, None) => None,
            (Some(b), None) => Some(b.clone()),
            (None, Some(o)) => Some(o.clone()),
            (Some(b), Some(o)) => Some(erl_filename_join(b, o)),
        }
    }
}

/// S3's default fields: `[{arg:db}, {group:[{arg:id},{const:"_"},{arg:attachment}]}]`.
pub fn s3_default_fields() -> Vec<Field> {
    vec![
        Field::Arg("db".into()),
        Field::Group(vec![
            Field::Arg("id".into()),
            Field::Const("_".into()),
            Field::Arg("attachment".into()),
        ]),
    ]
}

/// The HTTP handler's (and KAZOO's generic) default: `account_id/owner_id/id/attachment`.
pub fn http_default_fields() -> Vec<Field> {
    vec![
        Field::Arg("account_id".into()),
        Field::Doc("owner_id".into()),
        Field::Arg("id".into()),
        Field::Arg("attachment".into()),
    ]
}

fn opt_string(settings: &Map<String, Value>, key: &str) -> Result<Option<String>, StorageError> {
    match settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(StorageError::invalid(
            &format!("settings.{key}"),
            "must be a string",
        )),
    }
}

fn parse_fields(items: &[Value], field: &str) -> Result<Vec<Field>, StorageError> {
    items.iter().map(|item| parse_field(item, field)).collect()
}

fn parse_field(item: &Value, field: &str) -> Result<Field, StorageError> {
    let bad = |m: &str| StorageError::invalid(field, m.to_string());
    let obj = match item {
        Value::String(s) => return Ok(Field::Const(s.clone())),
        Value::Object(o) => o,
        _ => return Err(bad("items must be objects")),
    };
    // The order KAZOO's clauses match in, should an object carry several keys.
    if let Some(v) = obj.get("group") {
        let inner = v.as_array().ok_or_else(|| bad("group must be a list"))?;
        return Ok(Field::Group(parse_fields(inner, field)?));
    }
    let text = |k: &str| -> Result<Option<String>, StorageError> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("{k} must be a string"))),
        }
    };
    if let Some(a) = text("arg")? {
        if !ARGS.contains(&a.as_str()) {
            return Err(bad(&format!("arg must be one of {}", ARGS.join(", "))));
        }
        return Ok(Field::Arg(a));
    }
    if let Some(f) = text("field")? {
        return Ok(Field::Doc(f));
    }
    if let Some(c) = text("const")? {
        return Ok(Field::Const(c));
    }
    Err(bad("items need one of arg, field, const, group"))
}

fn render_fields(fields: &[Field], ctx: &PathContext, sep: &str) -> String {
    let parts: Vec<String> = fields.iter().filter_map(|f| render_field(f, ctx)).collect();
    parts.join(sep)
}

fn render_field(field: &Field, ctx: &PathContext) -> Option<String> {
    match field {
        Field::Group(inner) => Some(render_fields(inner, ctx, "")),
        Field::Const(c) => Some(c.clone()),
        Field::Arg(a) => {
            let v = match a.as_str() {
                "attachment" => ctx.attachment.clone(),
                "id" => ctx.doc_id.clone(),
                "account_id" if ctx.account_id.is_empty() => "unknown_account".to_string(),
                "account_id" => ctx.account_id.clone(),
                "db" => http_uri_decode(&ctx.db),
                _ => return None,
            };
            Some(http_uri_encode(&v))
        }
        Field::Doc(name) => {
            if name.starts_with('_') || name.starts_with("pvt_") {
                return None; // only public fields are reachable
            }
            let v = match ctx.doc.get(name)? {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some(http_uri_encode(&v))
        }
    }
}

/// OTP's `http_uri:encode/1`: only its "reserved" set (and `%`, space) is escaped, upper-case
/// hex; everything else, UTF-8 included, passes through.
pub fn http_uri_encode(s: &str) -> String {
    const RESERVED: &[u8] = b";:@&=+,/?#[]<>\"{}|\\'^% ";
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && RESERVED.contains(&(c as u8)) {
            out.push_str(&format!("%{:X}", c as u8));
        } else {
            out.push(c);
        }
    }
    out
}

/// `http_uri:decode/1`: `%XX` sequences decoded, nothing else changed.
pub fn http_uri_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Erlang's `filename:join/2` for the cases folder paths meet: an absolute second part wins,
/// repeated `/` collapse and a trailing `/` goes.
fn erl_filename_join(a: &str, b: &str) -> String {
    let joined = if b.starts_with('/') || a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    };
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

impl PathContext {
    /// The context KAZOO's settings probe uses: a random `<hex>_test_credentials_file.txt` on a
    /// fresh doc in the account's current MODB (or `system_data` for system plans).
    pub fn probe(account_id: Option<&str>) -> Self {
        let random = random_hex(16);
        let (account, db) = match account_id {
            Some(a) => (a.to_string(), modb_name(a, current_year_month())),
            None => (String::new(), "system_data".to_string()),
        };
        PathContext {
            account_id: account,
            db,
            doc_id: random_hex(16),
            attachment: format!("{random}_test_credentials_file.txt"),
            doc: serde_json::json!({}),
            folder_path: None,
        }
    }
}

/// The encoded MODB name: `account%2Fxx%2Fyy%2F<rest>-YYYYMM`.
pub fn modb_name(account_id: &str, (year, month): (i64, u32)) -> String {
    let (a, rest) = account_id.split_at(account_id.len().min(2));
    let (b, c) = rest.split_at(rest.len().min(2));
    format!("account%2F{a}%2F{b}%2F{c}-{year:04}{month:02}")
}

fn random_hex(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(buf)
}

/// Current UTC (year, month), from the civil-from-days algorithm (no date crate needed).
fn current_year_month() -> (i64, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    year_month_from_days((secs / 86_400) as i64)
}

fn year_month_from_days(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
