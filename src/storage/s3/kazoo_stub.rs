//! The S3 stubs KAZOO writes on documents it stored through `kz_att_s3`:
//! `pvt_attachments.<name>.handler.kz_att_s3.S3` is `base64(term_to_binary({Settings,
//! Key}))` (`encode_retrieval/2`), the settings map holding the credentials. Reading one
//! back follows `kz_att_s3:decode_retrieval/1`, including the older tuple forms.

use crate::domain::etf::{self, Term};
use base64::Engine as _;
use serde_json::{Map, Value};

/// What a stub says: the settings KAZOO stored with (as a storage document's
/// `attachments.<id>.settings`) and the object's key when it recorded one. Without a key
/// (the oldest forms), the key is built from the settings as KAZOO does: `path` is then the
/// folder, `<path>/<db>/<id>_<attachment>` (`kz_att_util:path_from_settings/1`, which
/// [`crate::storage::PathFormat`] follows).
#[derive(Debug, PartialEq)]
pub struct Retrieval {
    pub settings: Map<String, Value>,
    pub file: Option<String>,
}

/// KAZOO's default host for the oldest form, which named no host.
const AWS_HOST: &str = "s3.amazonaws.com";

pub fn decode_retrieval(s3: &str) -> Result<Retrieval, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s3.trim())
        .map_err(|_| "not base64")?;
    let text = |t: &Term, what: &str| t.text().ok_or(format!("{what} is not text"));
    let object = |t: &Term| match t.to_json()? {
        Value::Object(m) => Ok(m),
        _ => Err("settings are not a map".to_string()),
    };
    let (mut settings, file) = match etf::decode(&bytes)? {
        Term::Tuple(items) => match items.as_slice() {
            [map @ Term::Map(_), file] => (object(map)?, Some(text(file, "the key")?)),
            [key, secret, bucket, path] => {
                let m = serde_json::json!({"key": text(key, "key")?, "secret": text(secret, "secret")?,
                    "host": AWS_HOST, "bucket": text(bucket, "bucket")?, "path": text(path, "path")?});
                (m.as_object().cloned().unwrap_or_default(), None)
            }
            [key, secret, Term::Tuple(endpoint), bucket, path] if endpoint.len() == 3 => {
                let m = serde_json::json!({"key": text(key, "key")?, "secret": text(secret, "secret")?,
                    "scheme": text(&endpoint[0], "scheme")?, "host": text(&endpoint[1], "host")?,
                    "port": endpoint[2].to_json()?, "bucket": text(bucket, "bucket")?, "path": text(path, "path")?});
                (m.as_object().cloned().unwrap_or_default(), None)
            }
            [key, secret, host, bucket, path] => {
                let m = serde_json::json!({"key": text(key, "key")?, "secret": text(secret, "secret")?,
                    "host": text(host, "host")?, "bucket": text(bucket, "bucket")?, "path": text(path, "path")?});
                (m.as_object().cloned().unwrap_or_default(), None)
            }
            _ => return Err("unknown stub tuple".into()),
        },
        map @ Term::Map(_) => {
            let mut m = object(&map)?;
            let file = m
                .remove("file")
                .and_then(|f| f.as_str().map(str::to_string));
            (m, file)
        }
        _ => return Err("unknown stub term".into()),
    };
    settings.remove("file");
    Ok(Retrieval { settings, file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Written by Erlang/OTP 25's term_to_binary, as KAZOO's kz_att_s3 writes them.
    /// `{#{bucket => <<"kazoo-etf-fixture">>, key => <<"AKIAEXAMPLEKEY">>, secret =>
    /// <<"s3cr3t/with+chars=">>, host => <<"s3.example.com">>, scheme => <<"https">>, port =>
    /// 443, region => <<"us-east-1">>, bucket_access_method => <<"path">>, bucket_after_host
    /// => false, upload_timeout => 60000, field_list => [#{<<"arg">> => <<"account_id">>},
    /// #{<<"const">> => <<"-">>}, #{<<"arg">> => <<"id">>}], field_separator => <<"/">>},
    /// <<"kazoo/202001-0123456789abcdef0123456789abcdef_call.mp3">>}`
    pub const MASTER: &str = "g2gCdAAAAAxkAAZidWNrZXRtAAAAEWthem9vLWV0Zi1maXh0dXJlZAAUYnVja2V0X2FjY2Vzc19tZXRob2RtAAAABHBhdGhkABFidWNrZXRfYWZ0ZXJfaG9zdGQABWZhbHNlZAAKZmllbGRfbGlzdGwAAAADdAAAAAFtAAAAA2FyZ20AAAAKYWNjb3VudF9pZHQAAAABbQAAAAVjb25zdG0AAAABLXQAAAABbQAAAANhcmdtAAAAAmlkamQAD2ZpZWxkX3NlcGFyYXRvcm0AAAABL2QABGhvc3RtAAAADnMzLmV4YW1wbGUuY29tZAADa2V5bQAAAA5BS0lBRVhBTVBMRUtFWWQABHBvcnRiAAABu2QABnJlZ2lvbm0AAAAJdXMtZWFzdC0xZAAGc2NoZW1lbQAAAAVodHRwc2QABnNlY3JldG0AAAASczNjcjN0L3dpdGgrY2hhcnM9ZAAOdXBsb2FkX3RpbWVvdXRiAADqYG0AAAA2a2F6b28vMjAyMDAxLTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmX2NhbGwubXAz";
    /// `{<<"AKIA4">>, <<"sec4">>, <<"bucket4">>, <<"path/four.mp3">>}`
    const LEGACY4: &str =
        "g2gEbQAAAAVBS0lBNG0AAAAEc2VjNG0AAAAHYnVja2V0NG0AAAANcGF0aC9mb3VyLm1wMw==";
    /// `{<<"AKIA5">>, <<"sec5">>, {<<"http">>, <<"127.0.0.1">>, 9000}, <<"bucket5">>,
    /// <<"path/five.mp3">>}`
    const LEGACY5: &str = "g2gFbQAAAAVBS0lBNW0AAAAEc2VjNWgDbQAAAARodHRwbQAAAAkxMjcuMC4wLjFiAAAjKG0AAAAHYnVja2V0NW0AAAANcGF0aC9maXZlLm1wMw==";
    /// `{<<"AKIA6">>, <<"sec6">>, <<"minio.local">>, <<"bucket6">>, <<"path/six.mp3">>}`
    const LEGACY5_HOST: &str = "g2gFbQAAAAVBS0lBNm0AAAAEc2VjNm0AAAALbWluaW8ubG9jYWxtAAAAB2J1Y2tldDZtAAAADHBhdGgvc2l4Lm1wMw==";
    /// `#{bucket => <<"b7">>, key => <<"k7">>, secret => <<"s7">>, file => <<"seven.mp3">>}`
    const BARE_MAP: &str = "g3QAAAAEZAAGYnVja2V0bQAAAAJiN2QABGZpbGVtAAAACXNldmVuLm1wM2QAA2tleW0AAAACazdkAAZzZWNyZXRtAAAAAnM3";

    fn settings(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_forms_kazoo_wrote() {
        let r = decode_retrieval(MASTER).unwrap();
        assert_eq!(
            r.file.as_deref(),
            Some("kazoo/202001-0123456789abcdef0123456789abcdef_call.mp3")
        );
        assert_eq!(
            r.settings,
            settings(
                json!({"bucket": "kazoo-etf-fixture", "key": "AKIAEXAMPLEKEY", "secret": "s3cr3t/with+chars=",
                "host": "s3.example.com", "scheme": "https", "port": 443, "region": "us-east-1",
                "bucket_access_method": "path", "bucket_after_host": false, "upload_timeout": 60000,
                "field_list": [{"arg": "account_id"}, {"const": "-"}, {"arg": "id"}], "field_separator": "/"})
            )
        );
        assert!(crate::storage::Handler::from_attachment(
            &json!({"handler": "s3", "settings": r.settings})
        )
        .is_ok());

        let r = decode_retrieval(LEGACY4).unwrap();
        assert_eq!(r.file, None);
        assert_eq!(
            r.settings,
            settings(
                json!({"key": "AKIA4", "secret": "sec4", "host": "s3.amazonaws.com", "bucket": "bucket4", "path": "path/four.mp3"})
            )
        );
        let r = decode_retrieval(LEGACY5).unwrap();
        assert_eq!(
            r.settings,
            settings(
                json!({"key": "AKIA5", "secret": "sec5", "scheme": "http", "host": "127.0.0.1", "port": 9000,
                "bucket": "bucket5", "path": "path/five.mp3"})
            )
        );
        // no key recorded: KAZOO's `<path>/<db>/<id>_<attachment>`
        let h = crate::storage::Handler::from_attachment(
            &json!({"handler": "s3", "settings": r.settings}),
        )
        .unwrap();
        let crate::storage::Handler::S3(s3) = h else {
            unreachable!()
        };
        let ctx = crate::storage::PathContext {
            account_id: "a".into(),
            db: "account%2Fab%2Fcd%2Fef-202001".into(),
            doc_id: "202001-x".into(),
            attachment: "call.mp3".into(),
            doc: json!({}),
            folder_path: None,
        };
        assert_eq!(
            s3.object_key(&ctx),
            "path/five.mp3/account%2Fab%2Fcd%2Fef-202001/202001-x_call.mp3"
        );
        let r = decode_retrieval(LEGACY5_HOST).unwrap();
        assert_eq!(r.settings["host"], "minio.local");
        let r = decode_retrieval(BARE_MAP).unwrap();
        assert_eq!(r.file.as_deref(), Some("seven.mp3"));
        assert_eq!(
            r.settings,
            settings(json!({"bucket": "b7", "key": "k7", "secret": "s7"}))
        );
    }

    #[test]
    fn what_is_not_a_stub() {
        for bad in ["", "not base64!", "g2oK", "g2gBag==", "g2EB"] {
            assert!(decode_retrieval(bad).is_err(), "{bad}");
        }
    }
}
