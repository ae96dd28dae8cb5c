//! Replayable compatibility fixtures.
//!
//! A fixture is a JSON file describing one scenario: a sequence of HTTP
//! requests and the responses expected from a KAZOO crossbar v2 API. The same
//! runner serves the test suite and the `kazoo-rec replay DIR --target URL`
//! subcommand, so a scenario can be checked against a real KAZOO and against
//! this service and the two diffs compared. The format is documented in
//! `compat-fixtures/README.md`.
//!
//! Modules: [`fixture`] (format and validation), [`template`] (`{{...}}`
//! placeholders), [`matcher`] (expectation patterns), [`runner`] (HTTP),
//! [`report`] (human-readable diff).

pub mod fixture;
pub mod matcher;
pub mod proxy;
pub mod record;
pub mod report;
pub mod runner;
pub mod template;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use fixture::{parse_fixture, Fixture};
pub use matcher::Mismatch;
pub use report::{render_report, render_scenario, summary_line};
pub use runner::{ScenarioReport, StepReport};

/// What to replay against, and with which variables.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Base URL such as `http://127.0.0.1:8000`; fixture paths are appended.
    pub target: String,
    /// Variables for `{{name}}` placeholders, e.g. `master_account_id`,
    /// `admin_username`, `admin_password`, `master_account_name`.
    pub vars: BTreeMap<String, Value>,
    /// For [`replay_dir`]: only replay fixtures whose path relative to the
    /// directory contains this text.
    pub filter: Option<String>,
}

/// Replay one fixture file. Never panics: unreadable or invalid fixtures come
/// back as failed reports carrying the error.
pub async fn replay_file(path: impl AsRef<Path>, options: &ReplayOptions) -> ScenarioReport {
    let path = path.as_ref();
    match runner::client() {
        Ok(client) => replay_with(&client, path, options).await,
        Err(e) => ScenarioReport::failed(path.to_path_buf(), e),
    }
}

/// Replay every `*.json` fixture under `dir` (recursively, sorted by path),
/// one scenario after another. `dir` may also be a single file.
pub async fn replay_dir(dir: impl AsRef<Path>, options: &ReplayOptions) -> Vec<ScenarioReport> {
    replay_dir_with(dir.as_ref(), options, |_| {}).await
}

/// Replay fixtures and print the report (each scenario as it finishes, then
/// the summary). Returns whether every scenario passed; replaying nothing
/// counts as failure so a mistyped filter cannot look green.
pub async fn run_cli(
    dir: &Path,
    target: &str,
    vars: Vec<(String, String)>,
    filter: Option<String>,
) -> anyhow::Result<bool> {
    let url = reqwest::Url::parse(target)
        .map_err(|e| anyhow::anyhow!("--target {target:?} is not a URL: {e}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "--target {target:?} must be an http:// or https:// URL"
    );
    anyhow::ensure!(dir.exists(), "{} does not exist", dir.display());
    let options = ReplayOptions {
        target: target.to_string(),
        vars: vars
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        filter,
    };
    let reports = replay_dir_with(dir, &options, |report| {
        print!("{}", render_scenario(report));
        // Progress matters when a run against a remote KAZOO takes minutes.
        let _ = std::io::stdout().flush();
    })
    .await;
    println!("{}", summary_line(&reports));
    if reports.is_empty() {
        eprintln!("no fixtures found under {}", dir.display());
        return Ok(false);
    }
    Ok(reports.iter().all(ScenarioReport::passed))
}

async fn replay_dir_with(
    dir: &Path,
    options: &ReplayOptions,
    mut on_report: impl FnMut(&ScenarioReport),
) -> Vec<ScenarioReport> {
    let mut reports = Vec::new();
    let mut files = Vec::new();
    let listed = if dir.is_file() {
        files.push(dir.to_path_buf());
        Ok(())
    } else {
        collect_fixtures(dir, &mut files)
    };
    let client = listed.and_then(|()| runner::client());
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let report = ScenarioReport::failed(dir.to_path_buf(), e);
            on_report(&report);
            return vec![report];
        }
    };
    files.sort();
    for path in files {
        if let Some(filter) = &options.filter {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            if !relative.to_string_lossy().contains(filter.as_str()) {
                continue;
            }
        }
        let report = replay_with(&client, &path, options).await;
        on_report(&report);
        reports.push(report);
    }
    reports
}

/// Recursively list `*.json` files. Symlinked directories are not followed,
/// which rules out cycles.
fn collect_fixtures(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            collect_fixtures(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

async fn replay_with(
    client: &reqwest::Client,
    path: &Path,
    options: &ReplayOptions,
) -> ScenarioReport {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return ScenarioReport::failed(path.to_path_buf(), format!("cannot read: {e}")),
    };
    let fixture: Fixture = match parse_fixture(&text) {
        Ok(fixture) => fixture,
        Err(e) => return ScenarioReport::failed(path.to_path_buf(), e),
    };
    let mut vars = options.vars.clone();
    // Fresh per scenario so names created on a shared server do not collide
    // between runs; a caller may pin it for reproducible runs.
    vars.entry("uniq".to_string())
        .or_insert_with(|| Value::String(format!("{:08x}", rand::random::<u32>())));
    let steps = runner::run_fixture(client, &options.target, &fixture, vars).await;
    ScenarioReport {
        path: path.to_path_buf(),
        description: fixture.description.clone(),
        error: None,
        steps,
        total_steps: fixture.steps.len(),
    }
}
