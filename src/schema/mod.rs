//! Request-body validation against KAZOO's JSON schemas, with KAZOO's answers.
//!
//! Crossbar validates with a fork of the Erlang `jesse` library plus
//! `kz_json_schema`; clients depend on its exact behaviour, so this module
//! reproduces it rather than generic JSON Schema draft 4:
//! - errors come back as `{"<dotted.path>": {"<validator>": {"message": ..}}}`
//!   (`failure.rs`);
//! - keywords run in file order, missing properties get their schema
//!   `default` (nested defaults included) and defaults count for `required`
//!   (`walk.rs`, `document.rs`);
//! - `"3600"` sent for an integer is converted and validated again
//!   (`coerce.rs`);
//! - `kazoo-validation` runs callflow/metaflow module data checks, storage
//!   reference checks and our URL policy (`extensions.rs`, `url_policy.rs`);
//! - patterns are PCRE searches with ASCII `\w` (`pattern.rs`).
//!
//! Schemas are compiled once when the set is loaded (`compile.rs`); `$ref`
//! values are bare schema names resolved within the set. The schema files
//! are ours, derived from KAZOO's by `scripts/derive_schemas.py`, and
//! `tests/schema_differential.rs` checks they behave exactly like KAZOO's.

mod coerce;
mod compile;
mod document;
mod extensions;
mod failure;
mod leaf;
mod pattern;
mod url_policy;
mod walk;

#[cfg(test)]
mod extension_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use include_dir::{include_dir, Dir};
use serde_json::{Map, Value};

use compile::Node;

/// Our schema files, built into the binary so the service reads nothing from
/// disk (they are derived from KAZOO's by `scripts/derive_schemas.py`).
static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schemas");

/// KAZOO validates again after each round of type fixes; a fix can only
/// uncover a few more (e.g. inside a `oneOf` branch that now matches), so a
/// small bound is plenty and guarantees termination.
const MAX_FIX_ROUNDS: usize = 8;

/// The embedded schema files as JSON, named by `_id` (or file stem): for describing the API.
pub fn embedded_raw() -> impl Iterator<Item = (String, Value)> {
    EMBEDDED
        .files()
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "json"))
        .filter_map(|file| {
            let json: Value = serde_json::from_slice(file.contents()).ok()?;
            let stem = file.path().file_stem()?.to_string_lossy().into_owned();
            let name = json
                .get("_id")
                .and_then(Value::as_str)
                .map_or(stem, str::to_string);
            Some((name, json))
        })
}

/// Knobs that differ between production and local testing.
#[derive(Clone, Debug, Default)]
pub struct ValidationOptions {
    /// Accept destination/callback URLs that point at this machine
    /// (`localhost`, `127.0.0.1`, `::1`, ...). Off in production.
    pub allow_local_urls: bool,
}

/// A loaded set of schemas keyed by `_id` (e.g. "accounts", "callflows.record_call").
pub struct SchemaSet {
    schemas: HashMap<String, Node>,
    options: ValidationOptions,
}

impl SchemaSet {
    /// The schemas/ directory embedded in the binary at compile time.
    pub fn embedded(opts: ValidationOptions) -> SchemaSet {
        let files = EMBEDDED
            .files()
            .filter(|file| file.path().extension().is_some_and(|ext| ext == "json"))
            .map(|file| (file.path().display().to_string(), file.contents().to_vec()));
        // The embedded files are part of the build, not input; the unit tests
        // load them, so a broken file cannot reach a release.
        Self::from_files(files, opts).expect("embedded schemas must parse")
    }

    /// Load every *.json in `dir` (used by the differential test to load KAZOO's reference set).
    pub fn from_dir(dir: &Path, opts: ValidationOptions) -> anyhow::Result<SchemaSet> {
        let mut files = Vec::new();
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                files.push((path.display().to_string(), bytes));
            }
        }
        Self::from_files(files, opts)
    }

    fn from_files(
        files: impl IntoIterator<Item = (String, Vec<u8>)>,
        options: ValidationOptions,
    ) -> anyhow::Result<SchemaSet> {
        let mut schemas = HashMap::new();
        for (file, bytes) in files {
            let json: Value =
                serde_json::from_slice(&bytes).with_context(|| format!("parsing {file}"))?;
            let stem = Path::new(&file)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = json
                .get("_id")
                .and_then(Value::as_str)
                .map_or(stem, str::to_string);
            let node = compile::compile_file(&json, &name);
            schemas.insert(name, node);
        }
        Ok(SchemaSet { schemas, options })
    }

    pub fn has(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }

    /// The names of all loaded schemas, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.schemas.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Validate `doc` against schema `name` the way KAZOO's crossbar does (jesse fork + kz_json_schema):
    /// fills defaults in place, coerces JS types, and returns Err(data) where data is the KAZOO
    /// error object that goes in the 400 envelope's `data`.
    ///
    /// On error `doc` is left as it was.
    pub fn validate(&self, name: &str, doc: &mut Value) -> Result<(), Map<String, Value>> {
        let Some(schema) = self.schemas.get(name) else {
            return Err(failure::schema_not_found(name));
        };
        let mut input = doc.clone();
        let mut rounds = 0;
        loop {
            let (validated, failures) = walk::Walker::run(self, schema, input.clone());
            if failures.is_empty() {
                *doc = validated;
                return Ok(());
            }
            rounds += 1;
            if rounds == MAX_FIX_ROUNDS || !coerce::fix_js_types(&mut input, &failures) {
                return Err(failure::error_data(&failures));
            }
        }
    }

    pub(crate) fn schema(&self, name: &str) -> Option<&Node> {
        self.schemas.get(name)
    }

    pub(crate) fn options(&self) -> &ValidationOptions {
        &self.options
    }
}
