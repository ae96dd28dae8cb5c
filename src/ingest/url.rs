//! The upload URL for a per-settings `url` destination, composed exactly as KAZOO's media
//! manager composes it (`media_recording:handler_fields_for_protocol` + `check_url`), with
//! one deliberate fix: a single dot before the extension (KAZOO master writes `..mp3`).
//!
//! http(s): `<url>/call_recording_<call_id>.<ext>?from=…&to=…&caller_id_name=…&
//! caller_id_number=…&call_id=…&cdr_id=…&interaction_id=…&account_id=…`, respecting a query
//! already in the URL. ftp(s): `<url>/call_recording_<call_id>.<ext>`, no query.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// `http_uri:encode`: everything but unreserved characters is percent-encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// The remote file name: `call_recording_<call_id>.<ext>`.
pub fn remote_name(call_id: &str, ext: &str) -> String {
    format!(
        "call_recording_{}.{}",
        enc(call_id),
        ext.trim_start_matches('.')
    )
}

/// `check_url/1`: how the file segment and the field query join an existing URL.
fn separators(url: &str) -> (&'static str, &'static str) {
    match url.split_once('?') {
        None => ("", "?"),
        Some((_, query)) => {
            let last = query.rsplit('&').next().unwrap_or("");
            if !last.contains('=') {
                ("=", "&")
            } else if last.ends_with('=') {
                ("", "&")
            } else {
                ("&recording=", "&")
            }
        }
    }
}

/// The full http(s) upload URL for a recording document (`doc` = its public fields) and
/// its remote file name (see [`remote_name`]).
pub fn http_upload_url(base: &str, doc: &Value, account_id: &str, name: &str) -> String {
    let field = |k: &str| enc(doc.get(k).and_then(Value::as_str).unwrap_or(""));
    let base = base.trim();
    let has_query = base.contains('?');
    let stripped = if has_query {
        base
    } else {
        base.trim_end_matches('/')
    };
    let (s1, s2) = separators(stripped);
    let slash = if has_query { "" } else { "/" };
    format!(
        "{stripped}{slash}{s1}{}{s2}from={}&to={}&caller_id_name={}&caller_id_number={}&call_id={}&cdr_id={}&interaction_id={}&account_id={}",
        name,
        field("from"),
        field("to"),
        field("caller_id_name"),
        field("caller_id_number"),
        field("call_id"),
        field("cdr_id"),
        field("interaction_id"),
        enc(account_id)
    )
}

/// The ftp(s) target: the URL's path + the remote name.
pub fn ftp_upload_url(base: &str, name: &str) -> String {
    format!("{}/{}", base.trim().trim_end_matches('/'), name)
}

/// The remote name of a call's second and later recordings. KAZOO names every recording of
/// a call `call_recording_<call_id>.<ext>`, so a recording stopped and restarted overwrites
/// the first at the destination; we keep KAZOO's name for the first and add the document id
/// for the others.
pub fn later_remote_name(call_id: &str, doc_id: &str, ext: &str) -> String {
    remote_name(&format!("{call_id}_{doc_id}"), ext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"from": "1001@a.example.com", "to": "+14155550100@a.example.com", "caller_id_name": "Ann Lee", "caller_id_number": "1001",
               "call_id": "abc@10.0.0.1", "cdr_id": "202403-abc@10.0.0.1", "interaction_id": "63880000000-1a2b"})
    }

    const Q: &str = "from=1001%40a.example.com&to=%2B14155550100%40a.example.com&caller_id_name=Ann%20Lee&caller_id_number=1001&call_id=abc%4010.0.0.1&cdr_id=202403-abc%4010.0.0.1&interaction_id=63880000000-1a2b&account_id=acc";

    #[test]
    fn composes_like_media_mgr() {
        let d = doc();
        assert_eq!(
            http_upload_url(
                "https://r.example.com/up/",
                &d,
                "acc",
                &remote_name("abc@10.0.0.1", "mp3")
            ),
            format!("https://r.example.com/up/call_recording_abc%4010.0.0.1.mp3?{Q}")
        );
        // a query whose last parameter has no `=`: the name becomes its value
        assert_eq!(
            http_upload_url(
                "https://r.example.com/up?file",
                &d,
                "acc",
                &remote_name("abc@10.0.0.1", "mp3")
            ),
            format!("https://r.example.com/up?file=call_recording_abc%4010.0.0.1.mp3&{Q}")
        );
        // a last parameter ending in `=`
        assert_eq!(
            http_upload_url(
                "https://r.example.com/up?file=",
                &d,
                "acc",
                &remote_name("abc@10.0.0.1", ".wav")
            ),
            format!("https://r.example.com/up?file=call_recording_abc%4010.0.0.1.wav&{Q}")
        );
        // a complete query: the name goes into `recording=`
        assert_eq!(
            http_upload_url(
                "https://r.example.com/up?k=v",
                &d,
                "acc",
                &remote_name("abc@10.0.0.1", "mp3")
            ),
            format!("https://r.example.com/up?k=v&recording=call_recording_abc%4010.0.0.1.mp3&{Q}")
        );
        assert_eq!(
            ftp_upload_url(
                "ftps://u:p@f.example.com/calls/",
                &remote_name("abc", "mp3")
            ),
            "ftps://u:p@f.example.com/calls/call_recording_abc.mp3"
        );
        assert_eq!(
            later_remote_name("abc@h", "202403-ff", "mp3"),
            "call_recording_abc%40h_202403-ff.mp3"
        );
    }

    #[test]
    fn missing_fields_leave_empty_values() {
        let q = http_upload_url(
            "http://r.example.com",
            &json!({"call_id": "x"}),
            "a",
            "call_recording_x.mp3",
        );
        assert!(q.ends_with("?from=&to=&caller_id_name=&caller_id_number=&call_id=x&cdr_id=&interaction_id=&account_id=a"), "{q}");
    }
}
