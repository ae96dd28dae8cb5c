//! Writing a received stream to a file with few hops to the blocking pool.
//!
//! `tokio::fs::File` copies every chunk into its own buffer and writes it on the blocking
//! pool, one chunk at a time, waiting for the previous write first. An ingest arrives in
//! chunks of about 128 KiB, so that is one thread hop per chunk; on a busy machine the wait
//! for a pool thread to be scheduled, not the write itself, was most of the spool's time (a
//! 200 MiB ingest spent 1.1 s in spool writes, while the page cache takes 200 MiB in under
//! 0.1 s). Here chunks are gathered, without copying, into batches of [`BATCH`] bytes; one
//! batch is written (and hashed, when asked) on the blocking pool while the next one is
//! received. Memory: two batches at most.
//!
//! [`BatchWriter::direct`] writes around the page cache (`O_DIRECT`), for a copy that is
//! kept only in case something else fails (the spool's copy of a recording streamed to its
//! storage handler): through the page cache, a 1 GiB copy made the kernel write it back
//! while the upload ran (and the S3 server's own writes with it), and freeing its pages
//! afterwards took about 30 ms per 200 MiB.

use bytes::Bytes;
use md5::{Digest, Md5};
use std::io::Write;
use tokio::task::JoinHandle;

/// Bytes gathered before a write is started.
pub const BATCH: usize = 1 << 20;

type Written = (Sink, Option<Md5>, std::io::Result<()>);

/// `O_DIRECT` transfers are in whole blocks, from memory aligned to a block: 4096 bytes
/// covers both sector sizes in use.
const BLOCK: usize = 4096;

/// Where the bytes go.
enum Sink {
    Buffered(std::fs::File),
    Direct(Box<Direct>),
}

/// A file opened with `O_DIRECT`, written in whole blocks through an aligned buffer; the
/// last partial block goes through `tail`, the same file opened without `O_DIRECT`.
struct Direct {
    file: std::fs::File,
    tail: std::fs::File,
    /// `BATCH + BLOCK` bytes, of which the `BATCH` starting at `start` are block-aligned.
    buf: Vec<u8>,
    start: usize,
    /// Bytes in the aligned region not written yet (fewer than a block between batches).
    filled: usize,
    written: u64,
    /// A direct write failed (a file system that accepts `O_DIRECT` at open but not the
    /// transfer, a short write): the rest goes through `tail`.
    buffered: bool,
}

impl Direct {
    /// Elsewhere, refused as a file system without `O_DIRECT` would refuse it.
    #[cfg(not(target_os = "linux"))]
    fn open(_: &std::path::Path) -> std::io::Result<Direct> {
        Err(std::io::Error::from_raw_os_error(libc::EINVAL))
    }

    #[cfg(target_os = "linux")]
    fn open(path: &std::path::Path) -> std::io::Result<Direct> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)?;
        let tail = std::fs::OpenOptions::new().write(true).open(path)?;
        let buf = vec![0u8; BATCH + BLOCK];
        let start = (BLOCK - buf.as_ptr() as usize % BLOCK) % BLOCK;
        Ok(Direct {
            file,
            tail,
            buf,
            start,
            filled: 0,
            written: 0,
            buffered: false,
        })
    }

    fn region(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + BATCH]
    }

    fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let at = self.filled;
            let n = data.len().min(BATCH - at);
            self.region()[at..at + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == BATCH {
                self.write_blocks()?;
            }
        }
        Ok(())
    }

    /// Write the whole blocks gathered; what is left of a block moves to the front.
    fn write_blocks(&mut self) -> std::io::Result<()> {
        let whole = self.filled / BLOCK * BLOCK;
        if whole > 0 {
            let filled = self.filled;
            let (start, written) = (self.start, self.written);
            let blocks = &self.buf[start..start + whole];
            if self.buffered || self.file.write_all(blocks).is_err() {
                // from where the whole blocks end, so bytes a short write left are rewritten
                use std::os::unix::fs::FileExt;
                self.buffered = true;
                self.tail.write_all_at(blocks, written)?;
            }
            self.region().copy_within(whole..filled, 0);
            self.filled -= whole;
            self.written += whole as u64;
        }
        Ok(())
    }

    /// The last partial block, written where the blocks end.
    fn write_tail(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let n = self.filled;
        if n > 0 {
            let (start, written) = (self.start, self.written);
            self.tail
                .write_all_at(&self.buf[start..start + n], written)?;
            self.filled = 0;
            self.written += n as u64;
        }
        Ok(())
    }
}

impl Sink {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Buffered(f) => f.write_all(chunk),
            Sink::Direct(d) => d.write(chunk),
        }
    }

    /// The end of a batch: a direct sink writes its whole blocks now.
    fn end_batch(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Buffered(_) => Ok(()),
            Sink::Direct(d) => d.write_blocks(),
        }
    }

    fn finish(mut self, sync: bool) -> std::io::Result<()> {
        if let Sink::Direct(d) = &mut self {
            d.write_tail()?;
        }
        if sync {
            // per file, not per descriptor: the tail's pages are flushed too
            match &self {
                Sink::Buffered(f) => f.sync_all()?,
                Sink::Direct(d) => d.file.sync_all()?,
            }
        }
        Ok(())
    }
}

pub struct BatchWriter {
    /// The file and the running MD5, while no write is in flight.
    file: Option<Sink>,
    hasher: Option<Md5>,
    batch: Vec<Bytes>,
    batch_len: usize,
    in_flight: Option<JoinHandle<Written>>,
}

impl BatchWriter {
    /// Write into `file`; with `hash`, the MD5 of everything written is kept as well.
    pub fn new(file: std::fs::File, hash: bool) -> Self {
        Self::with_sink(Sink::Buffered(file), hash)
    }

    /// Create (or truncate) `path` and write it around the page cache (see the module
    /// documentation); where the file system refuses `O_DIRECT`, through it as usual.
    pub fn direct(path: &std::path::Path, hash: bool) -> std::io::Result<Self> {
        let sink = match Direct::open(path) {
            Ok(d) => Sink::Direct(Box::new(d)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                Sink::Buffered(std::fs::File::create(path)?)
            }
            Err(e) => return Err(e),
        };
        Ok(Self::with_sink(sink, hash))
    }

    fn with_sink(sink: Sink, hash: bool) -> Self {
        BatchWriter {
            file: Some(sink),
            hasher: hash.then(Md5::new),
            batch: Vec::new(),
            batch_len: 0,
            in_flight: None,
        }
    }

    /// Take `chunk`; waits only when a full batch is ready and the previous one is still
    /// being written.
    pub async fn write(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.batch_len += chunk.len();
        self.batch.push(chunk);
        if self.batch_len >= BATCH {
            self.start_batch().await?;
        }
        Ok(())
    }

    /// Everything taken is written (and fsynced when `sync`); the MD5 when hashing.
    pub async fn finish(mut self, sync: bool) -> std::io::Result<Option<String>> {
        self.start_batch().await?;
        self.wait().await?;
        let (Some(file), hasher) = (self.file.take(), self.hasher.take()) else {
            return Err(std::io::Error::other("spool file lost"));
        };
        tokio::task::spawn_blocking(move || {
            file.finish(sync)?;
            Ok(hasher.map(|h| hex::encode(h.finalize())))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Wait for the write in flight, then start writing the gathered batch.
    async fn start_batch(&mut self) -> std::io::Result<()> {
        self.wait().await?;
        if self.batch.is_empty() {
            return Ok(());
        }
        let (Some(mut file), mut hasher) = (self.file.take(), self.hasher.take()) else {
            return Err(std::io::Error::other("spool file lost"));
        };
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let result = batch
                .iter()
                .try_for_each(|chunk| {
                    if let Some(h) = &mut hasher {
                        h.update(chunk);
                    }
                    file.write(chunk)
                })
                .and_then(|()| file.end_batch());
            (file, hasher, result)
        }));
        Ok(())
    }

    async fn wait(&mut self) -> std::io::Result<()> {
        if let Some(handle) = self.in_flight.take() {
            let (file, hasher, result) = handle.await.map_err(std::io::Error::other)?;
            self.file = Some(file);
            self.hasher = hasher;
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh file path in the temp folder (removed by the caller).
    fn temp_path() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("batch-write-{}", crate::domain::ids::new_id()))
    }

    async fn write_all(chunks: &[Bytes], hash: bool) -> (Vec<u8>, Option<String>) {
        let path = temp_path();
        let mut w = BatchWriter::new(std::fs::File::create(&path).unwrap(), hash);
        for c in chunks {
            w.write(c.clone()).await.unwrap();
        }
        let md5 = w.finish(true).await.unwrap();
        let data = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        (data, md5)
    }

    #[tokio::test]
    async fn the_file_holds_every_chunk_in_order() {
        // chunks that do not divide the batch size, and more than two batches of them
        let chunks: Vec<Bytes> = (0..40u8)
            .map(|i| Bytes::from(vec![i; 100_000 + i as usize]))
            .collect();
        let want: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert!(want.len() > 3 * BATCH);
        let (got, md5) = write_all(&chunks, true).await;
        assert!(got == want, "file differs from the chunks written");
        assert_eq!(md5.unwrap(), hex::encode(Md5::digest(&want)));
        let (got, md5) = write_all(&chunks, false).await;
        assert!(got == want && md5.is_none());
    }

    #[tokio::test]
    async fn an_empty_stream_gives_an_empty_file() {
        let (got, md5) = write_all(&[], true).await;
        assert!(got.is_empty());
        assert_eq!(md5.unwrap(), hex::encode(Md5::digest(b"")));
    }

    #[tokio::test]
    async fn a_failed_write_is_reported() {
        // a file opened read-only: the first batch's write fails
        let path = temp_path();
        std::fs::write(&path, b"").unwrap();
        let mut w = BatchWriter::new(std::fs::File::open(&path).unwrap(), false);
        let mut failed = w.write(Bytes::from(vec![1u8; BATCH])).await.is_err();
        failed |= w.write(Bytes::from(vec![1u8; BATCH])).await.is_err();
        failed |= w.finish(false).await.is_err();
        std::fs::remove_file(&path).unwrap();
        assert!(failed);
    }

    #[tokio::test]
    async fn a_direct_file_holds_every_chunk_in_order() {
        // a file whose end is not on a block, chunks split across blocks and batches, and
        // one chunk larger than a batch
        let mut chunks: Vec<Bytes> = (0..30u8)
            .map(|i| Bytes::from(vec![i; 70_001 + 3 * i as usize]))
            .collect();
        chunks.insert(5, Bytes::from(vec![200u8; BATCH + 12_345]));
        let want: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert!(want.len() > 3 * BATCH && !want.len().is_multiple_of(BLOCK));
        for hash in [true, false] {
            let path = temp_path();
            let mut w = BatchWriter::direct(&path, hash).unwrap();
            for c in &chunks {
                w.write(c.clone()).await.unwrap();
            }
            let md5 = w.finish(true).await.unwrap();
            let got = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert!(got == want, "file differs from the chunks written");
            assert_eq!(md5, hash.then(|| hex::encode(Md5::digest(&want))));
        }
        // nothing at all, and less than a block
        for data in [&b""[..], b"abc"] {
            let path = temp_path();
            let mut w = BatchWriter::direct(&path, false).unwrap();
            w.write(Bytes::copy_from_slice(data)).await.unwrap();
            w.finish(false).await.unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), data);
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_direct_write_goes_on_through_the_page_cache() {
        // the direct descriptor cannot write (opened read-only here; in the field, a file
        // system that takes O_DIRECT at open but refuses the transfer): nothing is lost
        let path = temp_path();
        let mut d = Direct::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
        d.file = std::fs::File::open(&path).unwrap();
        let data: Vec<u8> = (0..3 * BATCH + 777).map(|i| (i % 251) as u8).collect();
        d.write(&data[..BATCH + 5]).unwrap();
        d.write(&data[BATCH + 5..]).unwrap();
        d.write_blocks().unwrap();
        d.write_tail().unwrap();
        assert!(d.buffered);
        assert!(std::fs::read(&path).unwrap() == data);
        std::fs::remove_file(&path).unwrap();
    }
}
