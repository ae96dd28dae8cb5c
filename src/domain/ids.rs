//! Typed identifiers. A value of these types exists only after `parse` accepted it, so a
//! handler holding one never has to re-check it, and a malformed id is KAZOO's 404 before
//! any CouchDB call (an id never reaches a URL or a database name unchecked).

use std::fmt;

/// A 32-character lowercase hex id, the shape of every id KAZOO mints (`kz_binary:rand_hex(16)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// KAZOO only checks the length of a path account id (32 bytes) and mints 32 hex
    /// characters. We accept 32 lowercase letters or digits: every id KAZOO can have created
    /// (its own test fixtures use ids like `account0000000000000000000000001`), and nothing
    /// that could escape a database name or URL.
    pub fn parse(raw: &str) -> Option<AccountId> {
        if raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        {
            Some(AccountId(raw.to_string()))
        } else {
            None
        }
    }

    pub fn generate() -> AccountId {
        AccountId(new_id())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `account/ab/cd/<rest>`: the real (unencoded) CouchDB database name.
    pub fn db(&self) -> String {
        format!(
            "account/{}/{}/{}",
            &self.0[0..2],
            &self.0[2..4],
            &self.0[4..]
        )
    }

    /// `account%2Fab%2Fcd%2F<rest>`: the form KAZOO stores in `pvt_account_db`.
    pub fn encoded_db(&self) -> String {
        self.db().replace('/', "%2F")
    }

    /// The monthly database (MODB) `account/ab/cd/<rest>-YYYYMM`.
    pub fn modb(&self, year: i32, month: u32) -> String {
        format!("{}-{:04}{:02}", self.db(), year, month)
    }

    /// The `YYYYMM` of one of this account's monthly databases as a database listing names
    /// it: `account/ab/cd/<rest>-YYYYMM` (CouchDB) or `accountabcd<rest>-YYYYMM`
    /// (pouchdb-server drops the slashes). Any six digits count, so a database made for an
    /// impossible month is found too.
    pub fn modb_suffix<'a>(&self, listed: &'a str) -> Option<&'a str> {
        let suffix = listed
            .strip_prefix(self.db().as_str())
            .or_else(|| listed.strip_prefix(format!("account{}", self.0).as_str()))?
            .strip_prefix('-')?;
        (suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit())).then_some(suffix)
    }
}

/// The account a monthly database belongs to, from its name as [`AccountId::modb`] writes
/// it (`account/ab/cd/<rest>-YYYYMM`); None for any other database.
pub fn modb_account(db: &str) -> Option<AccountId> {
    let (account_db, month) = db.rsplit_once('-')?;
    let rest = account_db.strip_prefix("account/")?;
    let (ab, rest) = rest.split_once('/')?;
    let (cd, rest) = rest.split_once('/')?;
    let id = AccountId::parse(&format!("{ab}{cd}{rest}"))?;
    let month_ok = month.len() == 6 && month.bytes().all(|b| b.is_ascii_digit());
    (month_ok && ab.len() == 2 && cd.len() == 2 && id.db() == account_db).then_some(id)
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn is_hex32(raw: &str) -> bool {
    raw.len() == 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new 32-hex document id.
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Random hex of `n` bytes (api keys are 32 bytes → 64 hex).
pub fn rand_hex(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    hex::encode(bytes)
}

/// A document id as a client may send it in a path: CouchDB accepts almost anything, but
/// we refuse what could escape a URL path segment or name a design document.
pub fn is_acceptable_doc_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 255
        && !raw.starts_with('_')
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'+' || b == b'@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_db_names() {
        let id = AccountId::parse("abcdef0123456789abcdef0123456789").unwrap();
        assert_eq!(id.db(), "account/ab/cd/ef0123456789abcdef0123456789");
        assert_eq!(
            id.encoded_db(),
            "account%2Fab%2Fcd%2Fef0123456789abcdef0123456789"
        );
        assert_eq!(
            id.modb(2024, 3),
            "account/ab/cd/ef0123456789abcdef0123456789-202403"
        );
    }

    #[test]
    fn the_account_of_a_monthly_database() {
        let id = AccountId::parse("abcdef0123456789abcdef0123456789").unwrap();
        assert_eq!(modb_account(&id.modb(2024, 3)), Some(id.clone()));
        for other in [
            id.db(),
            format!("{}-2024031", id.db()),
            format!("{}-2024ab", id.db()),
            "account/abc/d/ef0123456789abcdef0123456789-202403".into(),
            "account/ab/cd/ef0123456789abcdef012345678-202403".into(),
            "accountabcdef0123456789abcdef0123456789-202403".into(),
            "system_auth".into(),
            "-202403".into(),
        ] {
            assert_eq!(modb_account(&other), None, "{other}");
        }
    }

    #[test]
    fn modbs_in_a_database_listing() {
        let id = AccountId::parse("abcdef0123456789abcdef0123456789").unwrap();
        let other = "abcdef0123456789abcdef012345678a";
        let found = |name: &str| id.modb_suffix(name).map(str::to_string);
        assert_eq!(found(&id.modb(2024, 3)).as_deref(), Some("202403"));
        assert_eq!(
            found("accountabcdef0123456789abcdef0123456789-000013").as_deref(),
            Some("000013")
        );
        for not_ours in [
            id.db(),
            format!("account{}", id.as_str()),
            format!("account/ab/cd/{}-202403", &other[4..]),
            format!("account{other}-202403"),
            format!("{}-2024031", id.db()),
            format!("{}-2024ab", id.db()),
            format!("{}202403", id.db()),
        ] {
            assert_eq!(found(&not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "abc",
            "ABCDEF0123456789ABCDEF0123456789",
            "../../../../../../../../../../..",
            "abcdef0123456789abcdef012345678-",
        ] {
            assert!(AccountId::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(new_id().len(), 32);
        assert_eq!(rand_hex(32).len(), 64);
    }
}
