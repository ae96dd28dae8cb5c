//! The one error type of the API, mapped to crossbar's error envelope.
//!
//! crossbar has two error families and clients see the difference:
//! - *system errors* (`cb_context:add_system_error`): `message` is the atom name
//!   (`invalid_credentials`), `data.message` the human text;
//! - *responses* (`crossbar_util:response`): `message` is the text (`invalid credentials`),
//!   `data` is `{}` or a list such as `[id]`.
//!
//! Validation errors are always 400 `validation error` with the dotted-path data object.
//! Lower layers are translated on purpose (`From<CouchError>`); anything unexpected becomes a
//! generic 500 whose detail goes to the log only.

use crate::couch::CouchError;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400 `validation error`; data keyed by dotted field path, then validator.
    Validation(Map<String, Value>),
    /// `cb_context:add_system_error`: message is the error atom.
    System {
        code: u16,
        error: &'static str,
        data: Value,
    },
    /// `crossbar_util:response('error', Msg, Code, Data)`: message is the text.
    Response {
        code: u16,
        message: String,
        data: Value,
    },
    /// A status without a body, as cowboy sends it (415, 406, 304, 412).
    Bare(u16),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn code(&self) -> u16 {
        match self {
            ApiError::Validation(_) => 400,
            ApiError::System { code, .. } | ApiError::Response { code, .. } => *code,
            ApiError::Bare(code) => *code,
        }
    }

    /// One validation error, e.g. `validation("username", "unique", json!({...}))`.
    pub fn validation(path: &str, validator: &str, body: Value) -> ApiError {
        let mut inner = Map::new();
        inner.insert(validator.to_string(), body);
        let mut map = Map::new();
        map.insert(path.to_string(), Value::Object(inner));
        ApiError::Validation(map)
    }

    fn system(code: u16, error: &'static str, message: &str) -> ApiError {
        ApiError::System {
            code,
            error,
            data: json!({ "message": message }),
        }
    }

    pub fn invalid_credentials() -> ApiError {
        Self::system(401, "invalid_credentials", "invalid credentials")
    }

    /// `crossbar_util:response_401`: expired or unknown tokens, failed logins.
    pub fn response_401() -> ApiError {
        ApiError::Response {
            code: 401,
            message: "invalid credentials".into(),
            data: json!({}),
        }
    }

    pub fn forbidden() -> ApiError {
        Self::system(403, "forbidden", "forbidden")
    }

    /// Unknown path.
    pub fn not_found() -> ApiError {
        Self::system(404, "not_found", "not found")
    }

    /// `add_system_error(bad_identifier, [{cause, Id}])`.
    pub fn bad_identifier(cause: &str) -> ApiError {
        ApiError::System {
            code: 404,
            error: "bad_identifier",
            data: json!({ "cause": cause, "message": "bad identifier" }),
        }
    }

    /// `crossbar_util:response_bad_identifier`: data is a list with the id.
    pub fn response_bad_identifier(id: &str) -> ApiError {
        ApiError::Response {
            code: 404,
            message: "bad identifier".into(),
            data: json!([id]),
        }
    }

    pub fn invalid_method() -> ApiError {
        Self::system(405, "invalid_method", "method not allowed")
    }

    pub fn faulty_request(message: &str) -> ApiError {
        Self::system(404, "faulty_request", message)
    }

    pub fn conflict() -> ApiError {
        Self::system(409, "datastore_conflict", "conflicting documents")
    }

    pub fn too_many_requests() -> ApiError {
        Self::system(429, "too_many_requests", "too many requests")
    }

    pub fn datastore_unreachable() -> ApiError {
        Self::system(503, "datastore_unreachable", "datastore timeout")
    }

    pub fn datastore_fault() -> ApiError {
        Self::system(503, "datastore_fault", "datastore fatal error")
    }

    pub fn unspecified_fault() -> ApiError {
        Self::system(500, "unspecified_fault", "unspecified fault")
    }

    /// Invalid JSON body (`api_util:stop_on_invalid_envelope`).
    pub fn invalid_json(message: &str) -> ApiError {
        Self::validation(
            "json",
            "invalid",
            json!({ "message": message, "target": "body" }),
        )
    }

    /// The human `message` and the `data` of the envelope.
    pub fn message_and_data(&self) -> (String, Value) {
        match self {
            ApiError::Validation(map) => ("validation error".into(), Value::Object(map.clone())),
            ApiError::System { error, data, .. } => ((*error).to_string(), data.clone()),
            ApiError::Response { message, data, .. } => (message.clone(), data.clone()),
            ApiError::Bare(_) => (String::new(), Value::Null),
        }
    }

    /// Merge another validation error into this one (several checks report together).
    pub fn merge(self, other: ApiError) -> ApiError {
        match (self, other) {
            (ApiError::Validation(mut a), ApiError::Validation(b)) => {
                for (k, v) in b {
                    match (a.get_mut(&k), v) {
                        (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                        (_, v) => {
                            a.insert(k, v);
                        }
                    }
                }
                ApiError::Validation(a)
            }
            (a, _) => a,
        }
    }
}

impl From<CouchError> for ApiError {
    fn from(e: CouchError) -> Self {
        match e {
            CouchError::NotFound => ApiError::System {
                code: 503,
                error: "datastore_missing",
                data: json!({"message": "data collection missing: database not found"}),
            },
            CouchError::Conflict => ApiError::conflict(),
            CouchError::Unreachable(detail) => {
                tracing::error!(%detail, "datastore unreachable");
                ApiError::datastore_unreachable()
            }
            CouchError::Other { status, message } => {
                tracing::error!(status, %message, "datastore error");
                ApiError::datastore_fault()
            }
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %e, "unexpected error");
        ApiError::unspecified_fault()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_and_response_families_differ() {
        let (m, d) = ApiError::invalid_credentials().message_and_data();
        assert_eq!(
            (m.as_str(), d),
            (
                "invalid_credentials",
                json!({"message": "invalid credentials"})
            )
        );
        let (m, d) = ApiError::response_401().message_and_data();
        assert_eq!((m.as_str(), d), ("invalid credentials", json!({})));
        let (m, d) = ApiError::response_bad_identifier("x").message_and_data();
        assert_eq!((m.as_str(), d), ("bad identifier", json!(["x"])));
    }

    #[test]
    fn validation_errors_merge() {
        let a = ApiError::validation("name", "required", json!({"message": "m"}));
        let b = ApiError::validation("name", "unique", json!({"message": "u"}));
        let ApiError::Validation(map) = a.merge(b) else {
            panic!()
        };
        assert_eq!(
            Value::Object(map),
            json!({"name": {"required": {"message": "m"}, "unique": {"message": "u"}}})
        );
    }
}
