//! KAZOO's schema extensions (`kz_json_schema_extensions`), run after a
//! node's keywords on every node that carries `kazoo-validation: true` or
//! `kazoo-regexp: true`.
//!
//! `kazoo-validation` checks are looked up by `<schema id>.<property>`, e.g.
//! `callflows.record_call.url`. Failures use the validator key `error`.
//!
//! Deliberate differences from KAZOO master:
//! - destination URLs follow our policy ([`super::url_policy`]): ftp and
//!   ftps are accepted for recordings;
//! - `oauth_doc_id` of the storage handlers is not looked up in
//!   `system_auth` here (that needs the database); the handler code checks it;
//! - where KAZOO crashes (a non-string `module`, a metaflow `data` without a
//!   `module`) we skip the check and let the schema's own errors speak.

use serde_json::Value;

use super::compile::Node;
use super::document::Input;
use super::failure::{PathItem, Reason};
use super::url_policy::{self, UrlKind};
use super::walk::Walker;

/// Run the extensions that apply to `node` on the value `input` stands for
/// (at `walker.path`).
pub(crate) fn check<'s>(walker: &mut Walker<'s>, input: &Input<'_>, node: &'s Node) {
    if !node.kazoo_validation && !node.kazoo_regexp {
        return;
    }
    // Every check below is about strings except module data; KAZOO crashes
    // on other types where we simply skip (the `type` keyword reports them).
    let text = walker
        .with_value(input, |v| v.as_str().map(str::to_string))
        .flatten();
    if node.kazoo_validation {
        let key = extension_key(&node.schema_id, walker.path.last());
        kazoo_validation(walker, &key, input, text.as_deref(), node);
    }
    if let (true, Some(source)) = (node.kazoo_regexp, &text) {
        if super::pattern::compile(source).is_err() {
            let message = format!("invalid regular expression: '{source}'");
            walker.fail_with(
                Reason::External(message),
                Value::String(source.clone()),
                node,
            );
        }
    }
}

/// `<schema id>.<last path element>`; like KAZOO, empty parts (and "0",
/// which `kz_term:is_empty/1` counts as empty) are left out.
fn extension_key(schema_id: &str, last: Option<&PathItem>) -> String {
    let element = match last {
        Some(PathItem::Key(key)) => key.to_string(),
        Some(PathItem::Index(index)) => index.to_string(),
        None => String::new(),
    };
    [schema_id, element.as_str()]
        .into_iter()
        .filter(|part| !matches!(*part, "" | "0" | "NULL" | "undefined"))
        .collect::<Vec<_>>()
        .join(".")
}

fn kazoo_validation<'s>(
    walker: &mut Walker<'s>,
    key: &str,
    input: &Input<'_>,
    text: Option<&str>,
    node: &'s Node,
) {
    let failure = match (key, text) {
        ("callflows.action.data", _) => return module_data(walker, "callflows", input, node),
        ("metaflow.data", _) => return module_data(walker, "metaflows", input, node),
        (_, None) => return,
        ("callflows.action.module", Some(module)) => module_missing(walker, "callflows", module)
            .then(|| format!("unable to find callflow schema for module {module}")),
        ("metaflow.module", Some(module)) => module_missing(walker, "metaflows", module)
            .then(|| format!("unable to find metaflow schema for module {module}")),
        (
            "callflows.record_call.url"
            | "callflows.record_caller.url"
            | "metaflows.record_call.url"
            | "call_recording.parameters.url"
            | "storage.attachment.http.url",
            Some(url),
        ) => bad_url(walker, UrlKind::Destination, url),
        (
            "callflows.webhook.uri"
            | "callflows.pivot.voice_url"
            | "metaflows.pivot.voice_url"
            | "webhooks.uri"
            | "faxbox.notifications.inbound.callback.url"
            | "faxbox.notifications.outbound.callback.url",
            Some(url),
        ) => bad_url(walker, UrlKind::Callback, url),
        ("storage.plan.database.attachment.handler", Some(reference)) => {
            bad_reference(walker, "attachments", reference)
        }
        ("storage.plan.database.document.connection", Some(reference)) => {
            bad_reference(walker, "connections", reference)
        }
        _ => None,
    };
    if let (Some(message), Some(text)) = (failure, text) {
        walker.fail_with(
            Reason::External(message),
            Value::String(text.to_string()),
            node,
        );
    }
}

/// A callflow/metaflow `module` must name a `<family>.<module>` schema.
fn module_missing(walker: &Walker<'_>, family: &str, module: &str) -> bool {
    walker.set.schema(&format!("{family}.{module}")).is_none()
}

/// A callflow/metaflow `data` object is validated, in place, against the
/// schema of the sibling `module`; its defaults are kept. An unknown module
/// also yields KAZOO's `{"schema": {"schema": ...}}` "schema not found" error.
fn module_data<'s>(walker: &mut Walker<'s>, family: &str, input: &Input<'_>, node: &'s Node) {
    let Some((_, parent)) = walker.path.split_last() else {
        return;
    };
    let mut module_path = parent.to_vec();
    module_path.push(PathItem::Key("module".into()));
    let Some(Value::String(module)) = walker.doc.get(&module_path) else {
        return;
    };
    let name = format!("{family}.{module}");
    walker.check_ref(input, &name, node);
}

fn bad_url(walker: &Walker<'_>, kind: UrlKind, url: &str) -> Option<String> {
    let allow_local = walker.set.options().allow_local_urls;
    (!url_policy::is_acceptable(url, kind, allow_local)).then(|| "invalid client URL".to_string())
}

/// A storage plan's `handler` / `connection` must be a key of the document's
/// top-level `attachments` / `connections` object.
fn bad_reference(walker: &Walker<'_>, section: &str, reference: &str) -> Option<String> {
    let known = walker
        .doc
        .get(&[PathItem::Key(section.into())])
        .and_then(Value::as_object)
        .is_some_and(|entries| entries.contains_key(reference));
    (!known).then(|| format!("invalid reference '{reference}' to {section}"))
}
