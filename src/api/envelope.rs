//! Crossbar's response envelope and headers (`api_util:create_resp_envelope`).

use super::error::ApiError;
use crate::domain::paging::encode_start_key;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde_json::{Map, Value};

/// What a handler answers.
pub enum Reply {
    Json(Box<JsonReply>),
    /// Raw bytes with their own content type (small binaries such as icons).
    Bytes {
        content_type: String,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// A streamed binary (audio), never held whole in memory.
    Stream {
        status: u16,
        content_type: String,
        headers: Vec<(String, String)>,
        body: crate::couch::AttachmentStream,
    },
}

#[derive(Debug, Default)]
pub struct JsonReply {
    pub status: u16,
    pub data: Value,
    /// The document's `_rev`: the envelope `revision` and the `ETag` on GET.
    pub revision: Option<String>,
    /// `location` header for successful creates.
    pub location: Option<String>,
    pub paging: Option<Paging>,
    /// A token minted by this request (user_auth, api_auth) replaces the request's one.
    pub auth_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct Paging {
    pub page_size: usize,
    pub start_key: Option<Value>,
    pub next_start_key: Option<Value>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Json(j) => j.fmt(f),
            Reply::Bytes { content_type, .. } => write!(f, "Bytes({content_type})"),
            Reply::Stream {
                status,
                content_type,
                ..
            } => write!(f, "Stream({status}, {content_type})"),
        }
    }
}

impl Reply {
    pub fn json(j: JsonReply) -> Reply {
        Reply::Json(Box::new(j))
    }

    pub fn ok(data: Value) -> Reply {
        Reply::json(JsonReply {
            status: 200,
            data,
            ..Default::default()
        })
    }

    pub fn doc(data: Value, rev: Option<String>) -> Reply {
        Reply::json(JsonReply {
            status: 200,
            data,
            revision: rev,
            ..Default::default()
        })
    }

    pub fn created(data: Value, rev: Option<String>, location: String) -> Reply {
        Reply::json(JsonReply {
            status: 201,
            data,
            revision: rev,
            location: Some(location),
            ..Default::default()
        })
    }

    pub fn list(data: Vec<Value>, paging: Option<Paging>) -> Reply {
        Reply::json(JsonReply {
            status: 200,
            data: Value::Array(data),
            paging,
            ..Default::default()
        })
    }
}

/// Per-request values every envelope carries.
pub struct EnvelopeCtx<'a> {
    pub request_id: &'a str,
    pub auth_token: Option<&'a str>,
    pub authenticated: bool,
    pub node: &'a str,
    pub version: &'a str,
    pub pretty: bool,
    pub jsonp: Option<&'a str>,
}

fn base(ctx: &EnvelopeCtx, token: Option<&str>) -> Map<String, Value> {
    let mut env = Map::new();
    env.insert("request_id".into(), ctx.request_id.into());
    if let Some(t) = token {
        env.insert("auth_token".into(), t.into());
    }
    env.insert("node".into(), ctx.node.into());
    // KAZOO master reports its version only to authenticated callers.
    if ctx.authenticated {
        env.insert("version".into(), ctx.version.into());
    }
    env.insert(
        "timestamp".into(),
        crate::domain::time::iso8601_now().into(),
    );
    env
}

pub fn success_body(ctx: &EnvelopeCtx, reply: JsonReply) -> Value {
    let token = reply.auth_token.as_deref().or(ctx.auth_token);
    let mut env = base(ctx, token);
    env.insert("data".into(), reply.data);
    env.insert("status".into(), "success".into());
    if let Some(rev) = &reply.revision {
        env.insert("revision".into(), rev.clone().into());
    }
    if let Some(p) = &reply.paging {
        env.insert("page_size".into(), p.page_size.into());
        if let Some(k) = &p.start_key {
            env.insert("start_key".into(), encode_start_key(k).into());
        }
        if let Some(k) = &p.next_start_key {
            env.insert("next_start_key".into(), encode_start_key(k).into());
        }
    }
    Value::Object(env)
}

pub fn error_body(ctx: &EnvelopeCtx, err: &ApiError) -> Value {
    let mut env = base(ctx, ctx.auth_token);
    let (message, data) = err.message_and_data();
    env.insert("data".into(), data);
    env.insert("error".into(), err.code().to_string().into());
    env.insert("message".into(), message.into());
    env.insert("status".into(), "error".into());
    Value::Object(env)
}

/// Serialise a body with crossbar's content type; `application/json` exactly, because
/// Monster UI compares the header with `===`.
pub fn json_response(
    mut builder: HttpResponseBuilder,
    ctx: &EnvelopeCtx,
    body: &Value,
) -> HttpResponse {
    let text = if ctx.pretty {
        serde_json::to_string_pretty(body)
    } else {
        serde_json::to_string(body)
    }
    .unwrap_or_else(|_| "{}".into());
    if let Some(cb) = ctx.jsonp {
        builder.insert_header(("content-type", "application/javascript"));
        return builder.body(format!("{cb}({text});"));
    }
    builder.insert_header(("content-type", "application/json"));
    builder.body(text)
}

pub fn status(code: u16) -> HttpResponseBuilder {
    HttpResponse::build(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
}
