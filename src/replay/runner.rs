//! Running a parsed scenario against a target over HTTP.
//!
//! Each step's request is built from its templates, sent without following
//! redirects (a redirect is something to assert, not to hide), and its
//! response checked: status, headers, absent headers, body. Every check runs
//! even after one fails so the report shows the whole difference; the
//! scenario then stops, because later steps usually need this step's
//! captures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method};
use serde_json::Value;

use super::fixture::{Fixture, Request, Step};
use super::matcher::{Matching, Mismatch};
use super::report::truncate;
use super::template::{render_json, value_to_text, Template, Vars};

/// How much of a response body a report keeps, for context on failures.
const RESPONSE_EXCERPT_CHARS: usize = 600;

/// Outcome of one fixture file.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    pub path: PathBuf,
    pub description: String,
    /// Set when the scenario could not run at all (unreadable file, invalid
    /// fixture, unusable target).
    pub error: Option<String>,
    /// Steps that ran, in order; the last one is the failure if any.
    pub steps: Vec<StepReport>,
    /// Number of steps in the fixture, including those not run.
    pub total_steps: usize,
}

impl ScenarioReport {
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.steps.len() == self.total_steps
            && self.steps.iter().all(StepReport::passed)
    }

    /// A report for a scenario that could not run.
    pub fn failed(path: PathBuf, error: String) -> Self {
        ScenarioReport {
            path,
            description: String::new(),
            error: Some(error),
            steps: Vec::new(),
            total_steps: 0,
        }
    }
}

/// Outcome of one request/response step.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub name: String,
    /// Method, path and query as sent, e.g. `PUT /v2/accounts/abc/users?x=1`.
    pub request_line: String,
    pub expected_status: Vec<u16>,
    /// None when no response arrived.
    pub status: Option<u16>,
    pub mismatches: Vec<Mismatch>,
    /// A request that could not be built or sent, or a broken pattern.
    pub error: Option<String>,
    /// Start of the response body, kept to explain failures.
    pub response_excerpt: String,
    pub elapsed: Duration,
}

impl StepReport {
    pub fn status_ok(&self) -> bool {
        self.status
            .is_some_and(|s| self.expected_status.contains(&s))
    }

    pub fn passed(&self) -> bool {
        self.error.is_none() && self.status_ok() && self.mismatches.is_empty()
    }
}

/// The HTTP client used for replays: no redirects, 30 s timeouts.
pub fn client() -> Result<Client, String> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {}", error_chain(&e)))
}

/// Run all steps of `fixture` in order, stopping at the first failure.
pub async fn run_fixture(
    client: &Client,
    target: &str,
    fixture: &Fixture,
    mut vars: Vars,
) -> Vec<StepReport> {
    let mut reports = Vec::new();
    for step in &fixture.steps {
        let (report, captures) = run_step(client, target, step, &vars).await;
        let passed = report.passed();
        reports.push(report);
        if !passed {
            break;
        }
        vars.extend(captures);
    }
    reports
}

async fn run_step(client: &Client, target: &str, step: &Step, vars: &Vars) -> (StepReport, Vars) {
    let mut report = StepReport {
        name: step.name.clone(),
        request_line: format!("{} {}", step.request.method, step.request.path),
        expected_status: step.expect.status.clone(),
        status: None,
        mismatches: Vec::new(),
        error: None,
        response_excerpt: String::new(),
        elapsed: Duration::ZERO,
    };
    let request = match build_request(client, target, &step.request, vars) {
        Ok(request) => request,
        Err(e) => {
            report.error = Some(e);
            return (report, Vars::new());
        }
    };
    let url = request.url();
    report.request_line = match url.query() {
        Some(q) => format!("{} {}?{q}", request.method(), url.path()),
        None => format!("{} {}", request.method(), url.path()),
    };

    let started = Instant::now();
    let response = client.execute(request).await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            report.elapsed = started.elapsed();
            report.error = Some(format!("request failed: {}", error_chain(&e)));
            return (report, Vars::new());
        }
    };
    report.status = Some(response.status().as_u16());
    let headers = response.headers().clone();
    let bytes = response.bytes().await;
    report.elapsed = started.elapsed();
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            report.error = Some(format!(
                "reading the response body failed: {}",
                error_chain(&e)
            ));
            return (report, Vars::new());
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    report.response_excerpt = truncate(&text, RESPONSE_EXCERPT_CHARS);

    let mut matching = Matching::new(vars);
    if let Err(e) = check_response(&mut matching, step, &headers, &bytes) {
        report.error = Some(format!("broken expectation: {e}"));
    }
    report.mismatches = matching.mismatches;
    (report, matching.captures)
}

fn build_request(
    client: &Client,
    target: &str,
    req: &Request,
    vars: &Vars,
) -> Result<reqwest::Request, String> {
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| format!("method: {e}"))?;
    let path = Template::parse(&req.path)
        .and_then(|t| t.render(vars))
        .map_err(|e| format!("path: {e}"))?;
    let url = format!("{}{path}", target.trim_end_matches('/'));
    let mut builder = client.request(method, url);

    let mut query = Vec::new();
    for (key, value) in &req.query {
        let key = Template::parse(key).and_then(|t| t.render(vars));
        let value = match value {
            Value::String(s) => Template::parse(s).and_then(|t| t.render_value(vars)),
            other => Ok(other.clone()),
        };
        let (key, value) = key
            .and_then(|k| Ok((k, value?)))
            .map_err(|e| format!("query: {e}"))?;
        query.push((key, value_to_text(&value)));
    }
    if !query.is_empty() {
        builder = builder.query(&query);
    }

    for (name, value) in &req.headers {
        let value = Template::parse(value)
            .and_then(|t| t.render_value(vars))
            .map_err(|e| format!("headers.{name}: {e}"))?;
        builder = builder.header(name.as_str(), value_to_text(&value));
    }
    if let Some(body) = &req.body {
        let body = render_json(body, vars).map_err(|e| format!("body: {e}"))?;
        let has_type = req
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        if !has_type {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        builder = builder.body(body.to_string());
    }
    if let Some(raw) = &req.raw_body {
        let raw = Template::parse(raw)
            .and_then(|t| t.render(vars))
            .map_err(|e| format!("raw_body: {e}"))?;
        builder = builder.body(raw);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build request: {}", error_chain(&e)))
}

fn check_response(
    matching: &mut Matching<'_>,
    step: &Step,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    for (name, pattern) in &step.expect.headers {
        let actual = header_value(headers, name).map(Value::String);
        matching.check(
            &Value::String(pattern.clone()),
            actual.as_ref(),
            &format!("header {name}"),
        )?;
    }
    for name in &step.expect.absent_headers {
        if let Some(value) = header_value(headers, name) {
            matching.check(
                &Value::String("{{absent}}".into()),
                Some(&Value::String(value)),
                &format!("header {name}"),
            )?;
        }
    }
    if let Some(pattern) = &step.expect.body {
        // Non-JSON bodies are matched as one string, so `{{regex:..}}` still
        // works for text responses.
        let actual = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        matching.check(pattern, Some(&actual), "")?;
    }
    Ok(())
}

/// All values of a header joined with `, `; None if the header is missing.
fn header_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// reqwest's top-level error text hides the cause (e.g. "connection
/// refused"), so include the whole source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
