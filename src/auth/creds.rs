//! KAZOO's stored credential hashes: md5/sha1 hex of `username:password`, username lowercased.

use md5::{Digest, Md5};
use sha1::Sha1;

pub fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

pub fn sha1_hex(s: &str) -> String {
    hex::encode(Sha1::digest(s.as_bytes()))
}

/// `(pvt_md5_auth, pvt_sha1_auth)` for a username and password.
pub fn pass_hashes(username: &str, password: &str) -> (String, String) {
    let creds = format!("{}:{}", username.to_lowercase(), password);
    (md5_hex(&creds), sha1_hex(&creds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let (m, s) = pass_hashes("Bob", "pw");
        assert_eq!(m, md5_hex("bob:pw"));
        assert_eq!(s, sha1_hex("bob:pw"));
    }
}
