//! `kazoo-rec record`: a proxy in front of a real KAZOO that writes the traffic as a compat
//! fixture, so an operator can capture what their KAZOO answers and replay it against this
//! service (`kazoo-rec replay`).
//!
//! Recorded values that differ per server or per run are generalised so the fixture
//! replays anywhere: a login's `auth_token` becomes a capture and later uses of the token a
//! variable; an id a create answers with becomes a capture and later uses (paths, bodies) a
//! variable; `request_id`, `timestamp`, `node`, `revision` and private-looking values are
//! not asserted; `user_auth` credentials become the variable `{{credentials}}` (pass it with
//! `--var credentials=<md5>` when replaying), so no password hash lands in the file.

use serde_json::{json, Map, Value};

/// One proxied exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_content_type: String,
    pub response_body: Vec<u8>,
}

/// Builds the fixture, step by step.
#[derive(Debug, Default)]
pub struct Recorder {
    description: String,
    steps: Vec<Value>,
    /// Literal value → variable name, replaced in later requests.
    vars: Vec<(String, String)>,
    tokens: usize,
    ids: usize,
    /// Keys of the current response's `data` to capture (set while building it).
    pending_captures: Vec<(String, String)>,
}

const KEPT_REQUEST_HEADERS: [&str; 4] = ["content-type", "accept", "range", "if-match"];
const VOLATILE: [&str; 5] = ["request_id", "timestamp", "node", "revision", "auth_token"];

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Recorder {
    pub fn new(description: impl Into<String>) -> Self {
        Recorder {
            description: description.into(),
            ..Default::default()
        }
    }

    /// Replace known literals with their variables.
    fn templated(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (literal, var) in &self.vars {
            if !literal.is_empty() && out.contains(literal.as_str()) {
                out = out.replace(literal.as_str(), &format!("{{{{{var}}}}}"));
            }
        }
        out
    }

    fn templated_json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.templated(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.templated_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| {
                        let v = if k == "credentials" {
                            json!("{{credentials}}")
                        } else {
                            self.templated_json(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The expectation for a recorded JSON response.
    fn expectation(&mut self, method: &str, status: u16, body: &Value) -> Value {
        let Value::Object(env) = body else {
            return self.generalised(body);
        };
        let mut out = Map::new();
        for (k, v) in env {
            if k == "auth_token" {
                if let Some(t) = v.as_str() {
                    if !self.vars.iter().any(|(l, _)| l == t) {
                        self.tokens += 1;
                        let name = format!("token_{}", self.tokens);
                        out.insert(k.clone(), json!(format!("{{{{capture:{name}}}}}")));
                        self.vars.push((t.to_string(), name));
                    }
                }
                continue;
            }
            if VOLATILE.contains(&k.as_str()) {
                continue;
            }
            // The account and user a login answers with: later paths name them.
            if k == "data" && (200..300).contains(&status) {
                for key in ["account_id", "owner_id"] {
                    if let Some(val) = v.get(key).and_then(Value::as_str) {
                        if !self.vars.iter().any(|(l, _)| l == val) {
                            let n = self.vars.len() + 1;
                            self.vars.push((val.to_string(), format!("{key}_{n}")));
                            self.pending_captures
                                .push((key.to_string(), format!("{key}_{n}")));
                        }
                    }
                }
            }
            if k == "data" && method == "PUT" && (200..300).contains(&status) {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    if !self.vars.iter().any(|(l, _)| l == id) {
                        self.ids += 1;
                        let name = format!("id_{}", self.ids);
                        let mut d = self.generalised(v);
                        d["id"] = json!(format!("{{{{capture:{name}}}}}"));
                        self.vars.push((id.to_string(), name));
                        out.insert(k.clone(), d);
                        continue;
                    }
                }
            }
            let mut g = self.generalised(v);
            for (key, var) in std::mem::take(&mut self.pending_captures) {
                if k == "data" && g.get(&key).is_some() {
                    g[&key] = json!(format!("{{{{capture:{var}}}}}"));
                }
            }
            out.insert(k.clone(), g);
        }
        Value::Object(out)
    }

    /// A response value as a pattern: known literals become variables; values that differ
    /// per server (ids, times, private fields) are checked by type only.
    fn generalised(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                if let Some((_, var)) = self.vars.iter().find(|(l, _)| l == s) {
                    json!(format!("{{{{{var}}}}}"))
                } else if is_hex32(s) {
                    json!("{{regex:^[0-9a-f]{32}$}}")
                } else {
                    Value::String(s.replace("{{", "{ {"))
                }
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.generalised(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(k, _)| {
                        !k.starts_with("pvt_") && !k.starts_with('_') || k.as_str() == "_read_only"
                    })
                    .map(|(k, v)| {
                        let timeish = matches!(k.as_str(), "created" | "modified" | "timestamp")
                            || k.ends_with("_time")
                            || k.ends_with("_timestamp");
                        let p = if timeish && v.is_number() {
                            json!("{{type:number}}")
                        } else if k == "id"
                            && v.is_string()
                            && !self
                                .vars
                                .iter()
                                .any(|(l, _)| Some(l.as_str()) == v.as_str())
                        {
                            json!("{{type:string}}")
                        } else {
                            self.generalised(v)
                        };
                        (k.clone(), p)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Add one exchange as a step.
    pub fn push(&mut self, x: &Exchange) {
        let mut request = Map::new();
        request.insert("method".into(), json!(x.method));
        request.insert("path".into(), json!(self.templated(&x.path)));
        let mut query = Map::new();
        for (k, v) in &x.query {
            if k == "_" {
                continue; // jQuery's cache buster
            }
            query.insert(k.clone(), json!(self.templated(v)));
        }
        if !query.is_empty() {
            request.insert("query".into(), Value::Object(query));
        }
        let mut headers = Map::new();
        let mut is_json_request = false;
        for (k, v) in &x.request_headers {
            let k = k.to_ascii_lowercase();
            if k == "x-auth-token" {
                headers.insert(k, json!(self.templated(v)));
            } else if KEPT_REQUEST_HEADERS.contains(&k.as_str()) {
                is_json_request |= k == "content-type" && v.contains("json");
                headers.insert(k, json!(v));
            }
        }
        if !headers.is_empty() {
            request.insert("headers".into(), Value::Object(headers));
        }
        if !x.request_body.is_empty() {
            match serde_json::from_slice::<Value>(&x.request_body) {
                Ok(v) if is_json_request || !x.request_body.is_empty() => {
                    request.insert("body".into(), self.templated_json(&v));
                }
                _ => {
                    request.insert(
                        "raw_body".into(),
                        json!(self.templated(&String::from_utf8_lossy(&x.request_body))),
                    );
                }
            }
        }
        let mut expect = Map::new();
        expect.insert("status".into(), json!(x.status));
        if !x.response_content_type.is_empty() {
            let ct = x
                .response_content_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            expect.insert(
                "headers".into(),
                json!({ "content-type": format!("{{{{regex:^{}}}}}", regex_escape(ct)) }),
            );
        }
        if x.response_content_type.contains("json") {
            if let Ok(body) = serde_json::from_slice::<Value>(&x.response_body) {
                let pattern = self.expectation(&x.method, x.status, &body);
                expect.insert("body".into(), pattern);
            }
        }
        let name = format!("{} {}", x.method, request["path"].as_str().unwrap_or(""));
        self.steps
            .push(json!({"name": name, "request": request, "expect": expect}));
    }

    pub fn fixture(&self) -> Value {
        json!({"description": self.description, "steps": self.steps})
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
        status: u16,
        resp: Value,
    ) -> Exchange {
        Exchange {
            method: method.into(),
            path: path.into(),
            query: vec![
                ("_".into(), "123".into()),
                ("paginate".into(), "false".into()),
            ],
            request_headers: token
                .map(|t| {
                    vec![
                        ("X-Auth-Token".to_string(), t.to_string()),
                        ("content-type".into(), "application/json".into()),
                    ]
                })
                .unwrap_or_default(),
            request_body: if body.is_null() {
                vec![]
            } else {
                body.to_string().into_bytes()
            },
            status,
            response_content_type: "application/json".into(),
            response_body: resp.to_string().into_bytes(),
        }
    }

    #[test]
    fn tokens_and_ids_become_variables() {
        let a = "a".repeat(32);
        let mut r = Recorder::new("t");
        r.push(&x(
            "PUT",
            "/v2/user_auth",
            None,
            json!({"data": {"credentials": "secret-md5", "account_name": "m"}}),
            201,
            json!({"auth_token": "tok.en.1", "request_id": "r", "data": {"account_id": a}}),
        ));
        r.push(&x("PUT", &format!("/v2/accounts/{a}/users"), Some("tok.en.1"), json!({"data": {"first_name": "x"}}), 201,
                  json!({"data": {"id": "u1u1", "first_name": "x", "pvt_x": 1}, "revision": "1-a", "timestamp": "t"})));
        r.push(&x(
            "GET",
            &format!("/v2/accounts/{a}/users/u1u1"),
            Some("tok.en.1"),
            Value::Null,
            200,
            json!({"data": {"id": "u1u1", "created": 63800000000i64}}),
        ));
        let f = r.fixture();
        let steps = f["steps"].as_array().unwrap();
        assert_eq!(
            steps[0]["request"]["body"]["data"]["credentials"],
            "{{credentials}}"
        );
        assert_eq!(
            steps[0]["expect"]["body"]["auth_token"],
            "{{capture:token_1}}"
        );
        assert!(steps[0]["expect"]["body"].get("request_id").is_none());
        assert_eq!(
            steps[0]["expect"]["body"]["data"]["account_id"],
            "{{capture:account_id_2}}"
        );
        assert_eq!(
            steps[1]["request"]["path"],
            "/v2/accounts/{{account_id_2}}/users"
        );
        assert_eq!(
            steps[1]["request"]["headers"]["x-auth-token"],
            "{{token_1}}"
        );
        assert_eq!(steps[1]["expect"]["body"]["data"]["id"], "{{capture:id_1}}");
        assert!(steps[1]["expect"]["body"]["data"].get("pvt_x").is_none());
        assert_eq!(
            steps[2]["request"]["path"],
            "/v2/accounts/{{account_id_2}}/users/{{id_1}}"
        );
        assert_eq!(steps[2]["request"]["query"], json!({"paginate": "false"}));
        assert_eq!(steps[2]["expect"]["body"]["data"]["id"], "{{id_1}}");
        assert_eq!(
            steps[2]["expect"]["body"]["data"]["created"],
            "{{type:number}}"
        );
        assert_eq!(
            steps[2]["expect"]["headers"]["content-type"],
            "{{regex:^application/json}}"
        );
        // the result is a fixture our runner accepts
        crate::replay::parse_fixture(&f.to_string()).unwrap();
    }
}
