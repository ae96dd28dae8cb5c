//! `GET /v2/rec_ext/openapi.json` (our extension): an OpenAPI 3.0 description of what this
//! service serves, built from the route table and the schemas we validate with, so it can
//! never drift from the code. It exists for tooling (schemathesis fuzzing, client
//! generators); KAZOO publishes its own description separately, and the shared endpoints
//! keep KAZOO's paths and bodies.

use super::envelope::Reply;
use super::error::ApiResult;
use super::request::Ctx;
use super::{routes, Access};
use serde_json::{json, Map, Value};

pub async fn get(_ctx: Ctx) -> ApiResult<Reply> {
    Ok(Reply::Bytes {
        content_type: "application/json".into(),
        body: serde_json::to_vec(&document()).unwrap_or_default(),
        headers: vec![],
    })
}

/// The whole description.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in routes() {
        let (path, params) = openapi_path(route.path);
        let entry = paths
            .entry(path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path items are objects");
        let method = route.method.as_str().to_ascii_lowercase();
        entry.insert(method.clone(), operation(&route, &method, &params));
    }
    for (path, op) in media_server_paths() {
        paths.insert(path.into(), op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "kazoo-rec: KAZOO crossbar v2 (call recording subset) and rec_ext",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "auth_token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "media_server": {"type": "http", "scheme": "basic"},
            },
        },
    })
}

/// `accounts/{A}/users/{U}` → (`/v2/accounts/{ACCOUNT_ID}/users/{U}`, path parameters).
fn openapi_path(route: &str) -> (String, Vec<String>) {
    let mut params = vec![];
    let segments: Vec<String> = route
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("A") => {
                    params.push("ACCOUNT_ID".to_string());
                    "{ACCOUNT_ID}".to_string()
                }
                Some(name) => {
                    params.push(name.to_string());
                    s.to_string()
                }
                None => s.to_string(),
            },
        )
        .collect();
    (format!("/v2/{}", segments.join("/")), params)
}

/// The schema a write to this path is validated with, by its resource (the last literal
/// segment that names one).
fn body_schema(route: &str) -> Option<&'static str> {
    let resource = route.split('/').rfind(|s| !s.starts_with('{'))?;
    Some(match resource {
        "accounts" => "accounts",
        "users" => "users",
        "devices" => "devices",
        "callflows" => "callflows",
        "storage" => "storage",
        "queues" => "queues",
        "whitelabel" => "whitelabel",
        "user_auth" => "user_auth",
        "api_auth" => "api_auth",
        "apps_store" => "app",
        _ => return None,
    })
}

fn operation(route: &super::Route, method: &str, params: &[String]) -> Value {
    let mut parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if method == "get" {
        // crossbar's paging, filters and ranges; strings so that bad values are tried too
        for q in [
            "page_size",
            "start_key",
            "paginate",
            "created_from",
            "created_to",
            "filter_name",
            "has_key",
            "key_missing",
            "search",
            "group_by",
            "accept",
        ] {
            parameters.push(
                json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
            );
        }
    }
    let mut op = json!({
        "operationId": format!("{method} {}", route.path),
        "parameters": parameters,
        "responses": {"default": {"description": "crossbar's envelope (`status`, `data`, `error`, `message`)"}},
    });
    if route.access == Access::Token {
        op["security"] = json!([{"auth_token": []}]);
    } else {
        op["security"] = json!([]);
    }
    if matches!(method, "put" | "post" | "patch") {
        let data = match body_schema(route.path) {
            Some(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
            None => json!({"type": "object"}),
        };
        op["requestBody"] = json!({
            "required": false,
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"data": data},
            }}},
        });
    }
    op
}

/// The media-server endpoints (not crossbar's: basic credentials, raw audio).
fn media_server_paths() -> Vec<(&'static str, Value)> {
    let account =
        json!({"name": "account_id", "in": "path", "required": true, "schema": {"type": "string"}});
    let security = json!([{"media_server": []}]);
    let ok = json!({"default": {"description": "crossbar-style envelope"}});
    vec![
        (
            "/rec_ext/ingest/{account_id}",
            json!({"put": {
                "operationId": "ingest a recording",
                "security": security,
                "parameters": [account,
                    {"name": "X-Recording-Metadata", "in": "header", "required": false,
                     "schema": {"$ref": "#/components/schemas/call_recording"}}],
                "requestBody": {"content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": ok,
            }}),
        ),
        (
            "/rec_ext/decide/{account_id}",
            json!({"post": {
                "operationId": "recording decision",
                "security": security,
                "parameters": [account],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": ok,
            }}),
        ),
        (
            "/rec_ext/cdr/{account_id}",
            json!({"put": {
                "operationId": "store a CDR",
                "security": security,
                "parameters": [account],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": ok,
            }}),
        ),
    ]
}

/// Our schemas as OpenAPI components: `$ref: "name"` becomes a component reference, and the
/// draft-04 `id`/`$schema` keys (which would re-base references) are dropped.
fn component_schemas() -> Map<String, Value> {
    crate::schema::embedded_raw()
        .map(|(name, mut schema)| {
            if let Some(o) = schema.as_object_mut() {
                o.remove("_id");
                o.remove("$schema");
                o.remove("id");
            }
            rewrite_refs(&mut schema);
            (name, schema)
        })
        .collect()
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                if !r.starts_with('#') {
                    *r = format!("#/components/schemas/{r}");
                }
            }
            o.values_mut().for_each(rewrite_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_once_with_its_parameters() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(ops, routes().len() + media_server_paths().len());
        let user = &paths["/v2/accounts/{ACCOUNT_ID}/users/{U}"]["get"];
        let names: Vec<&str> = user["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ACCOUNT_ID", "U"]);
        assert_eq!(user["security"], json!([{"auth_token": []}]));
        assert_eq!(paths["/v2/user_auth"]["put"]["security"], json!([]));
    }

    #[test]
    fn write_bodies_reference_the_schema_we_validate_with() {
        let doc = document();
        let body = &doc["paths"]["/v2/accounts/{ACCOUNT_ID}/users"]["put"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["properties"]["data"]["$ref"],
            "#/components/schemas/users"
        );
    }

    #[test]
    fn every_reference_resolves_to_a_component() {
        let doc = document();
        let components = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = vec![];
        fn collect(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        out.push(r.clone());
                    }
                    o.values().for_each(|v| collect(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
        collect(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
            assert!(components.contains_key(name), "unresolved {r}");
        }
    }
}
