//! Stream plumbing shared by the backends: hashing on the way through, base64 on the fly,
//! byte-range slicing, and small bounded reads. Nothing here holds a whole body.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use md5::{Digest, Md5};

use super::{ByteStream, StorageError};

/// A body from one in-memory buffer (tests, the probe).
pub fn once(data: impl Into<Bytes>) -> ByteStream {
    let data = data.into();
    Box::pin(stream::once(async move { Ok(data) }))
}

/// Running MD5 and byte count of the bytes that went through a [`hashing`] stream.
#[derive(Clone, Default)]
pub struct Digests(Arc<Mutex<(Md5, u64)>>);

impl Digests {
    /// Add bytes seen by the caller itself (when it reads the stream directly).
    pub fn update(&self, chunk: &[u8]) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.0.update(chunk);
        g.1 += chunk.len() as u64;
    }

    /// (bytes, lower-case hex MD5) so far.
    pub fn finish(&self) -> (u64, String) {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (g.1, hex::encode(g.0.clone().finalize()))
    }
}

/// Pass `body` through, feeding every chunk to the returned [`Digests`].
pub fn hashing(body: ByteStream) -> (ByteStream, Digests) {
    let digests = Digests::default();
    let d = digests.clone();
    let s = body.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            d.update(bytes);
        }
        chunk
    });
    (Box::pin(s), digests)
}

/// Base64-encode a stream chunk by chunk (standard alphabet, padded), carrying the 0–2 bytes
/// that do not fill a 3-byte group over to the next chunk.
pub fn base64_encode(body: ByteStream) -> ByteStream {
    use base64::engine::general_purpose::STANDARD as B64;
    let state = (body, BytesMut::new(), false);
    Box::pin(stream::unfold(
        state,
        |(mut body, mut carry, done)| async move {
            if done {
                return None;
            }
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        carry.extend_from_slice(&chunk);
                        let whole = carry.len() / 3 * 3;
                        if whole == 0 {
                            continue;
                        }
                        let head = carry.split_to(whole);
                        let out = Bytes::from(B64.encode(&head));
                        return Some((Ok(out), (body, carry, false)));
                    }
                    Some(Err(e)) => return Some((Err(e), (body, carry, true))),
                    None if carry.is_empty() => return None,
                    None => {
                        let out = Bytes::from(B64.encode(&carry));
                        return Some((Ok(out), (body, BytesMut::new(), true)));
                    }
                }
            }
        },
    ))
}

/// Length of `n` bytes once base64-encoded with padding.
pub fn base64_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

/// Skip `skip` bytes, then yield at most `take` bytes (all when `None`): serves a byte range
/// from a backend that ignored the `Range` header.
pub fn slice(body: ByteStream, skip: u64, take: Option<u64>) -> ByteStream {
    let state = (body, skip, take);
    Box::pin(stream::unfold(
        state,
        |(mut body, mut skip, mut take)| async move {
            loop {
                if take == Some(0) {
                    return None;
                }
                let mut chunk = match body.next().await? {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), (body, 0, Some(0)))),
                };
                if skip >= chunk.len() as u64 {
                    skip -= chunk.len() as u64;
                    continue;
                }
                let _ = chunk.split_to(skip as usize);
                skip = 0;
                if let Some(t) = take.as_mut() {
                    if (chunk.len() as u64) > *t {
                        chunk.truncate(*t as usize);
                    }
                    *t -= chunk.len() as u64;
                }
                return Some((Ok(chunk), (body, skip, take)));
            }
        },
    ))
}

/// Read a small body whole, failing if it is longer than `limit`.
pub async fn collect_limited(mut body: ByteStream, limit: usize) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Io(e.to_string()))?;
        if out.len() + chunk.len() > limit {
            return Err(StorageError::Io(format!(
                "storage backend returned more than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let v: Vec<Result<Bytes, std::io::Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(stream::iter(v))
    }

    async fn all(s: ByteStream) -> Vec<u8> {
        collect_limited(s, usize::MAX).await.unwrap()
    }

    #[tokio::test]
    async fn base64_matches_one_shot_for_any_chunking() {
        let data: &[u8] = b"some random content: 0123456789abcdef!";
        let engine = base64::engine::general_purpose::STANDARD;
        for split in [&[1usize, 1, 1][..], &[2, 5], &[3, 3], &[0], &[7, 1, 0, 4]] {
            let mut parts: Vec<&'static [u8]> = Vec::new();
            let mut rest: &'static [u8] = b"some random content: 0123456789abcdef!";
            for &n in split {
                let n = n.min(rest.len());
                parts.push(&rest[..n]);
                rest = &rest[n..];
            }
            parts.push(rest);
            let got = all(base64_encode(chunks(&parts))).await;
            assert_eq!(got, engine.encode(data).into_bytes(), "{split:?}");
            assert_eq!(base64_len(data.len() as u64), got.len() as u64);
        }
        assert!(all(base64_encode(chunks(&[]))).await.is_empty());
    }

    #[tokio::test]
    async fn slice_and_hashing() {
        let s = || chunks(&[b"0123", b"4567", b"89"]);
        assert_eq!(all(slice(s(), 3, Some(4))).await, b"3456");
        assert_eq!(all(slice(s(), 8, None)).await, b"89");
        assert_eq!(all(slice(s(), 0, Some(0))).await, b"");
        assert_eq!(all(slice(s(), 20, None)).await, b"");
        let (h, d) = hashing(s());
        assert_eq!(all(h).await, b"0123456789");
        assert_eq!(
            d.finish(),
            (10, "781e5e245d69b566979b86e28d23f2c7".to_string())
        );
        assert!(collect_limited(s(), 9).await.is_err());
    }
}
