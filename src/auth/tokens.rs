//! Auth tokens: signed JWTs checked without a database round trip, with an expiry fixed at
//! creation (KAZOO's `token_auth_expiry_s`, default 3600) and real revocation.
//!
//! KAZOO signs RS256 with a key in `system_auth`; Monster UI treats the token as opaque (it
//! only needs the `header.payload.signature` shape), so we sign HS256 with a secret shared by
//! every instance through CouchDB. Tokens minted by a real KAZOO are not accepted.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// `cb_user_auth` or `cb_api_auth`, as KAZOO names the auth module.
    pub method: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    /// Token id, the handle for revocation.
    pub jti: String,
}

pub enum TokenCheck {
    Valid(Claims),
    /// Expired or revoked: crossbar answers 401 at once (`early_authenticate`).
    Expired,
    /// Not one of ours (bad signature, garbage, `undefined`): treated as no token.
    Invalid,
}

pub struct TokenKeys {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    expiry_s: i64,
    revoked: RwLock<HashMap<String, i64>>,
}

impl TokenKeys {
    pub fn new(secret: &[u8], expiry_s: i64) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // Expiry is checked by `check` against the caller's clock (testable, no leeway).
        validation.validate_exp = false;
        validation.set_issuer(&["kazoo"]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        TokenKeys {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
            expiry_s,
            revoked: RwLock::new(HashMap::new()),
        }
    }

    pub fn mint(
        &self,
        account_id: &str,
        owner_id: Option<&str>,
        method: &str,
        now_unix: i64,
    ) -> (String, Claims) {
        let claims = Claims {
            account_id: account_id.to_string(),
            owner_id: owner_id.map(str::to_string),
            method: method.to_string(),
            exp: now_unix + self.expiry_s,
            iat: now_unix,
            iss: "kazoo".into(),
            jti: crate::domain::ids::new_id(),
        };
        // HS256 signing of a serialisable struct cannot fail.
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.enc).unwrap_or_default();
        (token, claims)
    }

    pub fn check(&self, token: &str, now_unix: i64) -> TokenCheck {
        match decode::<Claims>(token, &self.dec, &self.validation) {
            Ok(data) => {
                let c = data.claims;
                if c.exp <= now_unix || self.revoked.read().contains_key(&c.jti) {
                    TokenCheck::Expired
                } else {
                    TokenCheck::Valid(c)
                }
            }
            Err(_) => TokenCheck::Invalid,
        }
    }

    /// Remember a revoked token id until its expiry.
    pub fn revoke(&self, jti: &str, exp: i64, now_unix: i64) {
        let mut map = self.revoked.write();
        map.retain(|_, e| *e > now_unix);
        map.insert(jti.to_string(), exp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_check_expire_revoke() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let (tok, claims) = keys.mint("a", Some("u"), "cb_user_auth", 1_000_000);
        assert_eq!(
            tok.matches('.').count(),
            2,
            "Monster UI needs a JWT-shaped token"
        );
        assert!(matches!(keys.check(&tok, 1_000_001), TokenCheck::Valid(c) if c == claims));
        assert!(matches!(keys.check(&tok, 1_003_600), TokenCheck::Expired));
        assert!(matches!(
            keys.check("undefined", 1_000_001),
            TokenCheck::Invalid
        ));
        let other = TokenKeys::new(b"another-secret-another-secret-xx", 3600);
        assert!(matches!(other.check(&tok, 1_000_001), TokenCheck::Invalid));
        keys.revoke(&claims.jti, claims.exp, 1_000_002);
        assert!(matches!(keys.check(&tok, 1_000_003), TokenCheck::Expired));
    }
}
