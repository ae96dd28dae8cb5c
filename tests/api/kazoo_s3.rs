//! Audio KAZOO itself stored on S3 (`kz_att_s3`): its stub holds the settings and key as an
//! Erlang term; the recording plays through our API like one we stored.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

/// `base64(term_to_binary({Settings, Key}))` as KAZOO's `kz_att_s3:encode_retrieval/2`
/// writes it (made by Erlang/OTP 25): bucket `kazoo-etf-fixture` on `s3.example.com`, key
/// `kazoo/202001-0123456789abcdef0123456789abcdef_call.mp3`.
const STUB: &str = "g2gCdAAAAAxkAAZidWNrZXRtAAAAEWthem9vLWV0Zi1maXh0dXJlZAAUYnVja2V0X2FjY2Vzc19tZXRob2RtAAAABHBhdGhkABFidWNrZXRfYWZ0ZXJfaG9zdGQABWZhbHNlZAAKZmllbGRfbGlzdGwAAAADdAAAAAFtAAAAA2FyZ20AAAAKYWNjb3VudF9pZHQAAAABbQAAAAVjb25zdG0AAAABLXQAAAABbQAAAANhcmdtAAAAAmlkamQAD2ZpZWxkX3NlcGFyYXRvcm0AAAABL2QABGhvc3RtAAAADnMzLmV4YW1wbGUuY29tZAADa2V5bQAAAA5BS0lBRVhBTVBMRUtFWWQABHBvcnRiAAABu2QABnJlZ2lvbm0AAAAJdXMtZWFzdC0xZAAGc2NoZW1lbQAAAAVodHRwc2QABnNlY3JldG0AAAASczNjcjN0L3dpdGgrY2hhcnM9ZAAOdXBsb2FkX3RpbWVvdXRiAADqYG0AAAA2a2F6b28vMjAyMDAxLTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmX2NhbGwubXAz";
const BUCKET: &str = "kazoo-etf-fixture";
const KEY: &str = "kazoo/202001-0123456789abcdef0123456789abcdef_call.mp3";

#[tokio::test]
async fn a_recording_kazoo_stored_on_s3_plays() {
    let Some(url) = s3_url() else {
        return;
    };
    let app = spawn_with_local_urls().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let s3 = s3_client(&url, "k", "s");
    // the fixture names one bucket: another test run against the same server made it already
    let _ = s3.create_bucket().bucket(BUCKET).send().await;
    let audio: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(audio.clone().into())
        .send()
        .await
        .unwrap();

    // KAZOO's document, as it leaves it in the month's database
    let id = kazoo_rec::domain::ids::AccountId::parse(&acct).unwrap();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    let doc_id = format!("{y:04}{m:02}-{}", kazoo_rec::domain::ids::new_id());
    let mut doc = json!({"_id": doc_id, "pvt_type": "call_recording", "pvt_account_id": acct,
        "pvt_account_db": format!("{}-{y:04}{m:02}", id.encoded_db()), "name": "call.mp3", "call_id": "kz-s3",
        "media_source": "recorded", "content_type": "audio/mpeg", "duration_ms": 5000, "pvt_created": 63_900_000_000u64,
        "pvt_attachments": {"call.mp3": {"content_type": "audio/mpeg", "length": audio.len(), "stub": false,
            "handler": {"kz_att_s3": {"S3": STUB, "metadata": {"etag": "0"}}}}}});
    app.couch()
        .save_in(
            &id.modb(y, m),
            kazoo_rec::couch::views::modb_docs(),
            &mut doc,
        )
        .await
        .unwrap();
    let path = format!("/v2/accounts/{acct}/recordings/{doc_id}");
    let get = |range: Option<&'static str>| {
        let mut r = app
            .client
            .get(format!("{}{path}", app.base))
            .header("accept", "audio/mpeg")
            .header("x-auth-token", admin.as_str());
        if let Some(range) = range {
            r = r.header("range", range);
        }
        r.send()
    };

    // The stub names s3.example.com, which this machine cannot reach. The account's S3
    // connector for the same bucket takes over host, port and keys, as KAZOO's
    // merge_params/2 lets the current settings do.
    let h = "efefefefefefefefefefefefefefefef";
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/storage"),
            Some(&admin),
            Some(s3_storage(&url, BUCKET, h, "k", "s")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = get(None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), audio.as_slice());
    let r = get(Some("bytes=100-199")).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers().get("content-range").unwrap(),
        &format!("bytes 100-199/{}", audio.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &audio[100..200]);
}
