//! Test data that looks like production: `call_recording` documents with KAZOO's exact
//! fields (`media_recording.erl:store_recording_meta`) and real (small) audio attachments,
//! spread over months in the account's monthly databases. Used by tests and benchmarks
//! (`kazoo-rec gen-recordings`).

use crate::couch::Couch;
use crate::domain::ids::AccountId;
use crate::domain::time;
use base64::Engine;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub account: AccountId,
    pub count: usize,
    /// Spread over this many months, ending with the current one.
    pub months: u32,
    /// Users the recordings belong to (round robin); none → no `owner_id`.
    pub owners: Vec<String>,
    pub audio_bytes: usize,
    pub seed: u64,
}

/// A tiny deterministic PRNG so the same seed gives the same data.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.next_u64() as u8))
            .collect()
    }
}

/// An MP3-framed payload of about `n` bytes (a valid MPEG-1 Layer III frame header, then
/// silence), so players and `file(1)` recognise it.
pub fn fake_mp3(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.max(4));
    while out.len() < n.max(4) {
        out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        out.extend(std::iter::repeat_n(0u8, 413));
    }
    out.truncate(n.max(4));
    out
}

fn month_start_unix(y: i32, m: u32) -> i64 {
    let date = ::time::Date::from_calendar_date(
        y,
        ::time::Month::try_from(m as u8).unwrap_or(::time::Month::January),
        1,
    )
    .unwrap_or(::time::Date::MIN);
    date.midnight().assume_utc().unix_timestamp()
}

/// One recording document as KAZOO's media manager writes it.
pub fn recording_doc(
    account: &AccountId,
    y: i32,
    m: u32,
    created_g: i64,
    rng: &mut Rng,
    owner: Option<&str>,
    audio: &[u8],
) -> Value {
    let id = format!("{y:04}{m:02}-{}", rng.hex(16));
    let media = format!("{}.mp3", rng.hex(16));
    let call_id = rng.hex(12);
    let inbound = rng.below(2) == 0;
    let ext = format!("{}", 1000 + rng.below(900));
    let pstn = format!("+1415555{:04}", rng.below(10_000));
    let realm = format!("{}.sip.2600hz.com", &account.as_str()[..6]);
    let (from, to, cid_name, cid_num, callee_name, callee_num) = if inbound {
        (
            format!("{pstn}@{realm}"),
            format!("{ext}@{realm}"),
            "Caller".to_string(),
            pstn.clone(),
            format!("User {ext}"),
            ext.clone(),
        )
    } else {
        (
            format!("{ext}@{realm}"),
            format!("{pstn}@{realm}"),
            format!("User {ext}"),
            ext.clone(),
            String::new(),
            pstn.clone(),
        )
    };
    let duration_ms = 5_000 + rng.below(600_000);
    let (y_, m_) = (y, m);
    let modb = format!("{}-{y_:04}{m_:02}", account.encoded_db());
    let mut doc = json!({
        "_id": id,
        "name": media,
        "description": format!("recording {media}"),
        "content_type": "audio/mpeg",
        "media_type": "mp3",
        "media_source": "recorded",
        "source_type": "media_recording",
        "from": from,
        "to": to,
        "request": to,
        "direction": if inbound { "inbound" } else { "outbound" },
        "start": created_g - (duration_ms / 1000) as i64,
        "duration": duration_ms / 1000,
        "duration_ms": duration_ms,
        "caller_id_name": cid_name,
        "caller_id_number": cid_num,
        "callee_id_name": callee_name,
        "callee_id_number": callee_num,
        "call_id": call_id,
        "cdr_id": format!("{y:04}{m:02}-{call_id}"),
        "interaction_id": format!("{}-{}", created_g, rng.hex(4)),
        "origin": if inbound { "inbound from offnet to endpoint" } else { "outbound to offnet from endpoint" },
        "custom_channel_vars": {"Account-ID": account.as_str(), "Call-Interaction-ID": format!("{}-x", created_g), "Media-Recording-ID": id},
        "pvt_type": "call_recording",
        "pvt_account_id": account.as_str(),
        "pvt_account_db": modb,
        "pvt_created": created_g,
        "pvt_modified": created_g,
        "pvt_vsn": "1",
        "pvt_node": "kazoo_rec@testdata",
        "_attachments": {
            media.clone(): {"content_type": "audio/mpeg", "data": base64::engine::general_purpose::STANDARD.encode(audio)}
        }
    });
    if let Some(o) = owner {
        doc["owner_id"] = json!(o);
        doc["endpoint_id"] = json!(o);
        doc["custom_channel_vars"]["Owner-ID"] = json!(o);
    }
    doc
}

/// Write the recordings; returns the ids written.
pub async fn generate(couch: &Couch, opts: &GenOptions) -> anyhow::Result<Vec<String>> {
    let mut rng = Rng(opts.seed.max(1));
    let audio = fake_mp3(opts.audio_bytes);
    let (ny, nm) = time::year_month(time::now_unix());
    let mut months = vec![];
    let (mut y, mut m) = (ny, nm);
    for _ in 0..opts.months.max(1) {
        months.push((y, m));
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    let now = time::now_unix();
    let mut ids = vec![];
    let per_month = opts.count.div_ceil(months.len());
    for (i, (y, m)) in months.iter().enumerate() {
        let db = opts.account.modb(*y, *m);
        couch.create_db(&db).await?;
        couch
            .ensure_design_docs(&db, crate::couch::views::modb_docs())
            .await?;
        let start = month_start_unix(*y, *m);
        let end = if i == 0 {
            now
        } else {
            month_start_unix(
                if *m == 12 { y + 1 } else { *y },
                if *m == 12 { 1 } else { m + 1 },
            ) - 1
        };
        let n = per_month.min(opts.count - ids.len());
        let mut batch = Vec::with_capacity(200);
        for k in 0..n {
            let span = (end - start).max(1) as u64;
            let created = time::UNIX_EPOCH_IN_GREGORIAN + start + rng.below(span) as i64;
            let owner =
                (!opts.owners.is_empty()).then(|| opts.owners[k % opts.owners.len()].as_str());
            let doc = recording_doc(&opts.account, *y, *m, created, &mut rng, owner, &audio);
            ids.push(doc["_id"].as_str().unwrap_or_default().to_string());
            batch.push(doc);
            if batch.len() == 200 {
                couch.save_many(&db, &mut batch).await?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            couch.save_many(&db, &mut batch).await?;
        }
    }

    Ok(ids)
}

/// Write one recording per creation time (unix seconds), in the MODB of its month; returns
/// the ids. For tests that need recordings at exact times (month boundaries).
pub async fn generate_at(
    couch: &Couch,
    account: &AccountId,
    created_unix: &[i64],
    owner: Option<&str>,
    audio_bytes: usize,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let mut rng = Rng(seed.max(1));
    let audio = fake_mp3(audio_bytes);
    let mut ids = vec![];
    for t in created_unix {
        let (y, m) = time::year_month(*t);
        let db = account.modb(y, m);
        couch.create_db(&db).await?;
        couch
            .ensure_design_docs(&db, crate::couch::views::modb_docs())
            .await?;
        let mut doc = recording_doc(
            account,
            y,
            m,
            time::UNIX_EPOCH_IN_GREGORIAN + t,
            &mut rng,
            owner,
            &audio,
        );
        ids.push(doc["_id"].as_str().unwrap_or_default().to_string());
        couch.save(&db, &mut doc).await?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_kazoo_fields() {
        let a = AccountId::parse(&"ab".repeat(16)).unwrap();
        let mut rng = Rng(7);
        let d = recording_doc(&a, 2024, 3, 63_880_000_000, &mut rng, Some("u1"), b"abc");
        for k in [
            "name",
            "description",
            "content_type",
            "media_type",
            "media_source",
            "source_type",
            "from",
            "to",
            "request",
            "direction",
            "start",
            "duration",
            "duration_ms",
            "caller_id_name",
            "caller_id_number",
            "callee_id_name",
            "callee_id_number",
            "call_id",
            "cdr_id",
            "interaction_id",
            "owner_id",
            "endpoint_id",
            "origin",
            "custom_channel_vars",
            "pvt_type",
            "pvt_account_id",
            "pvt_account_db",
            "pvt_created",
            "pvt_modified",
        ] {
            assert!(d.get(k).is_some(), "{k}");
        }
        assert!(d["_id"].as_str().unwrap().starts_with("202403-"));
        assert!(d["pvt_account_db"].as_str().unwrap().ends_with("-202403"));
        assert_eq!(fake_mp3(1000).len(), 1000);
        assert_eq!(&fake_mp3(10)[..2], &[0xFF, 0xFB]);
    }
}
