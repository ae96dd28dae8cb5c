//! `kazoo-rec bench`: our service against the raw servers doing the same work, in the same
//! run on the same machine, printed as figures (medians, p99, throughput, ratios, peak RSS).
//! Nothing is asserted here: the targets are printed next to the figures. `scripts/bench.sh`
//! starts the servers and runs it; `--couchdb-url` / `--s3-url` point it at real ones.
//!
//! The service runs as a child process (this binary's `serve`) so its peak memory (VmHWM)
//! can be read from `/proc`.

mod api_get;
mod cpu;
mod decision;
mod ingest;
mod listing;
mod load;
mod service;

pub use load::{load, Stats};
pub use service::Service;

#[derive(Debug, Clone)]
pub struct BenchOpts {
    pub couchdb_url: String,
    pub s3_url: Option<String>,
    pub s3_key: String,
    pub s3_secret: String,
    /// Scenarios to run (`api`, `list`, `ingest`, `concurrent`, `decision`); empty = all.
    pub only: Vec<String>,
    /// Requests per API GET measurement.
    pub requests: usize,
    /// Recordings in the listing account.
    pub recordings: usize,
    /// Sizes for the large-ingest scenario, MiB.
    pub ingest_mib: Vec<u64>,
    /// Rounds per size (raw then ours); the medians are compared.
    pub ingest_rounds: usize,
    /// Concurrent ingests and their size (MiB).
    pub concurrent: usize,
    pub concurrent_mib: u64,
}

impl BenchOpts {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// `ours / raw`, printed with the target.
pub fn ratio_line(what: &str, ours: f64, raw: f64, target: &str) -> String {
    let r = if raw > 0.0 { ours / raw } else { f64::NAN };
    format!("  {what:<46} {r:>6.2}x   (target {target})")
}

pub async fn run(opts: BenchOpts) -> anyhow::Result<()> {
    println!(
        "kazoo-rec bench: CouchDB {}",
        opts.couchdb_url.split('@').next_back().unwrap_or("")
    );
    if opts.wants("decision") {
        decision::run();
    }
    let needs_service = ["api", "list", "ingest", "concurrent"]
        .iter()
        .any(|s| opts.wants(s));
    if !needs_service {
        return Ok(());
    }
    let svc = Service::start(&opts).await?;
    if opts.wants("api") {
        api_get::run(&opts, &svc).await?;
    }
    if opts.wants("list") {
        listing::run(&opts, &svc).await?;
    }
    if opts.wants("ingest") || opts.wants("concurrent") {
        match &opts.s3_url {
            Some(_) => ingest::run(&opts, &svc).await?,
            None => println!("\ningest: skipped (no --s3-url)"),
        }
    }
    println!(
        "\nservice peak RSS over the whole run: {:.1} MiB",
        svc.peak_rss_mib()
    );
    Ok(())
}
