//! KAZOO's S3 stubs: the Erlang term decoder (`storage::etf`) on arbitrary bytes, each
//! decoded term turned into JSON, and `decode_retrieval` on the base64 of the same bytes.
//! Both read documents the service did not write: no panic, no allocation the input does
//! not pay for, and what decodes once decodes the same again.
#![no_main]

use base64::Engine as _;
use kazoo_rec::domain::etf;
use kazoo_rec::storage::s3::kazoo_stub::decode_retrieval;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // with and without the version byte, so the fuzzer need not find it first
    for bytes in [data.to_vec(), [&[131u8][..], data].concat()] {
        if let Ok(term) = etf::decode(&bytes) {
            let _ = term.text();
            let _ = term.to_json();
            // (compared as text: a NaN float is not equal to itself)
            let again = etf::decode(&bytes).map(|t| format!("{t:?}"));
            assert_eq!(again, Ok(format!("{term:?}")));
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        if let Ok(r) = decode_retrieval(&b64) {
            assert!(!r.settings.contains_key("file"));
        }
    }
});
