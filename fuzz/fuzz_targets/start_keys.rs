//! Crossbar `start_key` / `next_start_key`: base64url (no padding) of the Erlang external
//! term format, as KAZOO's `api_util:encode_start_key`.
//!
//! Two inputs are derived from the bytes: the bytes as a client string (what arrives in
//! `?start_key=`), and the bytes base64url-encoded behind the ETF version byte 131 (so the
//! term decoder gets arbitrary terms without the fuzzer having to learn base64).
//!
//! Property: when a decode succeeds, re-encoding gives a key that decodes to an equal
//! value (`decode(encode(decode(x))) == decode(x)`), and that encoding is a fixed point
//! (`encode(decode(encode(v))) == encode(v)`). The raw bytes need not round-trip: ETF has
//! several spellings of one value (STRING_EXT vs a list, INTEGER_EXT vs SMALL_INTEGER_EXT,
//! atom kinds), and the encoder writes KAZOO's canonical one.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kazoo_rec::domain::paging::{decode_start_key, encode_start_key};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn check(raw: &str) {
    let v = decode_start_key(raw);
    if v == Value::String(raw.to_string()) {
        // Undecodable keys are used raw, as KAZOO does (or it decoded to the same string).
        return;
    }
    let encoded = encode_start_key(&v);
    let again = decode_start_key(&encoded);
    assert_eq!(
        again, v,
        "decode(encode(decode(x))) != decode(x)\n  x = {raw:?}\n  decode(x) = {v}\n  encode = {encoded}"
    );
    assert_eq!(
        encode_start_key(&again),
        encoded,
        "encoding is not a fixed point"
    );
    // Padding is tolerated on input (`trim_end_matches('=')`).
    assert_eq!(decode_start_key(&format!("{encoded}==")), v);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(s);
    }
    let mut term = Vec::with_capacity(data.len() + 1);
    term.push(131u8);
    term.extend_from_slice(data);
    check(&URL_SAFE_NO_PAD.encode(&term));
});
