//! Command line: `serve` (default) runs the API; `replay` replays compat fixtures;
//! `gen-recordings` writes test data; `simulate` drives synthetic calls end to end.

use clap::{Parser, Subcommand};
use kazoo_rec::config::Settings;
use kazoo_rec::startup::Application;

#[derive(Parser)]
#[command(
    name = "kazoo-rec",
    version,
    about = "KAZOO-compatible call recording API service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API service.
    Serve(Box<Settings>),
    /// Write realistic call_recording documents with audio for an account (test data).
    GenRecordings(GenArgs),
    /// Drive synthetic calls through the recording decision and ingest, and report what was
    /// recorded where.
    Simulate(SimArgs),
    /// Move an account's recordings from CouchDB attachments to its storage (S3), verifying
    /// checksums; resumable and idempotent.
    MigrateRecordings {
        /// The account (32-hex id).
        #[arg(long)]
        account: String,
        /// Only count what would move.
        #[arg(long)]
        dry_run: bool,
        /// CouchDB server URL.
        #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
        couchdb_url: String,
    },
    /// Register Monster UI apps in the app store (KAZOO's `sup crossbar_maintenance
    /// init_apps`): every `metadata/app.json` under each path.
    RegisterApp {
        /// App folders, or folders containing them (e.g. monster-ui/src/apps).
        paths: Vec<std::path::PathBuf>,
        /// The API root the apps call (stored as `api_url`); absent: the UI's default.
        #[arg(long)]
        api_url: Option<String>,
        /// CouchDB server URL.
        #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
        couchdb_url: String,
    },
    /// Sit as a proxy in front of a real KAZOO and write the traffic as a compat fixture.
    Record {
        /// The KAZOO API to forward to, e.g. http://kazoo.example.com:8000
        #[arg(long)]
        target: String,
        /// Where clients (Monster UI, curl, an SDK) connect.
        #[arg(long, default_value = "127.0.0.1:8001")]
        listen: String,
        /// The fixture file to write (rewritten after every request).
        #[arg(long)]
        out: std::path::PathBuf,
        /// The fixture's description.
        #[arg(long, default_value = "recorded from a KAZOO")]
        description: String,
    },
    /// Measure the service against the raw servers (see scripts/bench.sh) and print figures.
    Bench {
        #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
        couchdb_url: String,
        /// An S3-compatible server for the ingest scenarios.
        #[arg(long, env = "S3_URL")]
        s3_url: Option<String>,
        #[arg(long, default_value = "testkey")]
        s3_key: String,
        #[arg(long, default_value = "testsecret")]
        s3_secret: String,
        /// Scenarios to run: api, list, ingest, concurrent, decision (default: all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Requests per API GET measurement.
        #[arg(long, default_value_t = 5000)]
        requests: usize,
        /// Recordings generated for the listing scenario (over 12 months).
        #[arg(long, default_value_t = 100_000)]
        recordings: usize,
        /// Sizes of the single large ingests, MiB.
        #[arg(long, value_delimiter = ',', default_value = "20,200,1024")]
        ingest_mib: Vec<u64>,
        /// Rounds per size (the S3 client, then the service); medians are compared.
        #[arg(long, default_value_t = 3)]
        ingest_rounds: usize,
        /// Concurrent ingests, and the size of each (MiB).
        #[arg(long, default_value_t = 200)]
        concurrent: usize,
        #[arg(long, default_value_t = 5)]
        concurrent_mib: u64,
    },
    /// Replay compat fixtures against a server (ours or a real KAZOO) and print a diff.
    Replay {
        /// A fixture file or a directory of them (searched recursively).
        dir: std::path::PathBuf,
        /// Base URL of the server, e.g. http://localhost:8000
        #[arg(long)]
        target: String,
        /// Variables for the fixtures, `name=value` (e.g. master_account_id=…).
        #[arg(long = "var", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// Only fixtures whose path (relative to DIR) contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
}

#[derive(clap::Args)]
struct GenArgs {
    /// CouchDB server URL.
    #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
    couchdb_url: String,
    /// The account the recordings belong to.
    #[arg(long)]
    account: String,
    /// How many recordings.
    #[arg(long, default_value_t = 100)]
    count: usize,
    /// Spread over this many months, ending with the current one.
    #[arg(long, default_value_t = 3)]
    months: u32,
    /// Owner user ids, comma separated (round robin).
    #[arg(long, value_delimiter = ',')]
    owners: Vec<String>,
    /// Size of each recording's audio attachment in bytes.
    #[arg(long, default_value_t = 4096)]
    audio_bytes: usize,
    /// PRNG seed: the same seed writes the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(clap::Args)]
struct SimArgs {
    /// Base URL of the service.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    target: String,
    /// Log in to this account (name) …
    #[arg(long, default_value = "master")]
    account_name: String,
    /// … as this user.
    #[arg(long, default_value = "admin")]
    username: String,
    #[arg(long, env = "KAZOO_REC_ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
    /// Simulate calls in this account instead of the one logged in to (a sub-account).
    #[arg(long)]
    account_id: Option<String>,
    /// How many calls.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// If the account has no devices, create three demo users with a softphone each.
    #[arg(long)]
    create_demo_endpoints: bool,
    /// Turn on "record entire account" (inbound and outbound, onnet and offnet) first.
    #[arg(long)]
    record_all: bool,
    /// Audio bytes per second of call.
    #[arg(long, default_value_t = 4000)]
    bytes_per_second: usize,
    /// Longest call, seconds.
    #[arg(long, default_value_t = 90)]
    max_duration: u64,
    /// Seconds to wait for background delivery to finish before the report.
    #[arg(long, default_value_t = 60)]
    wait: u64,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Store-proxy credentials of the media-server endpoints, when the service requires them.
    #[arg(long, env = "KAZOO_REC_INGEST_USER")]
    ingest_user: Option<String>,
    #[arg(long, env = "KAZOO_REC_INGEST_PASSWORD", hide_env_values = true)]
    ingest_password: Option<String>,
    /// Print one line per call.
    #[arg(long, short)]
    verbose: bool,
}

async fn simulate(a: SimArgs) -> anyhow::Result<bool> {
    use kazoo_rec::simulate;
    let ingest_auth = a.ingest_user.clone().zip(a.ingest_password.clone());
    let mut client = simulate::Client::login(
        &a.target,
        &a.account_name,
        &a.username,
        &a.password,
        ingest_auth,
    )
    .await?;
    if let Some(id) = &a.account_id {
        client.use_account(id);
    }
    let mut devices = client.devices().await?;
    if devices.is_empty() {
        anyhow::ensure!(
            a.create_demo_endpoints,
            "account {} has no devices: create some, or pass --create-demo-endpoints",
            client.account_id
        );
        client
            .create_demo_endpoints(&kazoo_rec::domain::ids::rand_hex(3))
            .await?;
        devices = client.devices().await?;
        println!("created {} demo users with a softphone each", devices.len());
    }
    if a.record_all {
        client.record_whole_account().await?;
        println!("turned on \"record entire account\"");
    }
    let opts = simulate::SimOptions {
        calls: a.calls,
        concurrency: a.concurrency,
        seed: a.seed,
        bytes_per_second: a.bytes_per_second,
        max_duration_s: a.max_duration,
    };
    let bar = indicatif::ProgressBar::new(a.calls as u64);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} calls {msg}",
    )?);
    let started = std::time::Instant::now();
    let mut report = simulate::run(&client, &devices, &opts, |o| {
        bar.inc(1);
        if a.verbose {
            let what = if o.stored.is_empty() {
                "not recorded".to_string()
            } else {
                o.stored
                    .iter()
                    .map(|(origin, dest, _)| format!("{origin} → {dest}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            bar.println(format!("{}: {what}", o.scenario));
        }
    })
    .await;
    bar.finish_and_clear();
    report.pending_after = simulate::wait_for_delivery(&client, a.wait).await?;
    println!(
        "account {} ({} devices), {:.1} s",
        client.account_id,
        devices.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.render());
    Ok(report.errors.is_empty() && report.checksum_mismatches == 0)
}

async fn migrate_recordings(
    account: String,
    dry_run: bool,
    couchdb_url: String,
) -> anyhow::Result<bool> {
    use kazoo_rec::migrate;
    let account = kazoo_rec::domain::ids::AccountId::parse(&account)
        .ok_or_else(|| anyhow::anyhow!("--account must be a 32-hex account id"))?;
    let couch = kazoo_rec::couch::Couch::connect(&couchdb_url)?;
    let target = migrate::target(&couch, &account).await?;
    println!(
        "{} recordings of account {account} to storage handler {} ({})",
        if dry_run { "Assessing" } else { "Moving" },
        target.0,
        target.1.kind()
    );
    let months = migrate::months(&couch, &account).await?;
    let mut total = 0;
    for db in &months {
        total += migrate::count(&couch, db).await?;
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} recordings {msg}",
    )?);
    let started = std::time::Instant::now();
    let mut summary = migrate::Summary::default();
    for db in &months {
        migrate::migrate_month(
            &couch,
            &account,
            db,
            &target,
            dry_run,
            &mut summary,
            &|id, outcome| {
                bar.inc(1);
                if let migrate::Outcome::Failed(e) = outcome {
                    bar.println(format!("{id}: {e}"));
                }
            },
        )
        .await?;
    }
    bar.finish_and_clear();
    println!(
        "{} recordings examined in {:.1} s: {} {} ({:.1} MiB), {} already on storage, {} failed",
        summary.examined,
        started.elapsed().as_secs_f64(),
        summary.migrated,
        if dry_run { "would move" } else { "moved" },
        summary.bytes as f64 / 1_048_576.0,
        summary.already,
        summary.failed.len()
    );
    for (id, e) in summary.failed.iter().take(20) {
        println!("  failed {id}: {e}");
    }
    Ok(summary.failed.is_empty())
}

async fn register_apps(
    paths: Vec<std::path::PathBuf>,
    api_url: Option<String>,
    couchdb_url: String,
) -> anyhow::Result<()> {
    use kazoo_rec::apps_registry as registry;
    anyhow::ensure!(!paths.is_empty(), "give at least one app folder");
    let couch = kazoo_rec::couch::Couch::connect(&couchdb_url)?;
    let master = registry::master_account(&couch).await?;
    let schemas = kazoo_rec::schema::SchemaSet::embedded(Default::default());
    let mut found = 0;
    for root in &paths {
        for app in registry::find_apps(root)? {
            found += 1;
            let r = registry::register(&couch, &schemas, &master, &app, api_url.as_deref()).await?;
            println!(
                "{} {} (id {}, {} images)",
                if r.created { "registered" } else { "refreshed" },
                r.name,
                r.id,
                r.images
            );
        }
    }
    anyhow::ensure!(
        found > 0,
        "no metadata/app.json found under the given paths"
    );
    println!("enable an app for an account: PUT /v2/accounts/{{A}}/apps_store/{{app id}} with {{\"data\": {{\"allowed_users\": \"all\"}}}}");
    Ok(())
}

async fn gen_recordings(a: GenArgs) -> anyhow::Result<()> {
    let account = kazoo_rec::domain::ids::AccountId::parse(&a.account)
        .ok_or_else(|| anyhow::anyhow!("--account must be a 32-hex account id"))?;
    let couch = kazoo_rec::couch::Couch::connect(&a.couchdb_url)?;
    anyhow::ensure!(
        couch.db_exists(&account.db()).await?,
        "no such account database: {}",
        account.db()
    );
    let opts = kazoo_rec::testdata::GenOptions {
        account,
        count: a.count,
        months: a.months,
        owners: a.owners,
        audio_bytes: a.audio_bytes,
        seed: a.seed,
    };
    let ids = kazoo_rec::testdata::generate(&couch, &opts).await?;
    println!("wrote {} recordings over {} months", ids.len(), a.months);
    Ok(())
}

fn parse_var(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected name=value, got {raw:?}"))
}

fn main() -> anyhow::Result<()> {
    kazoo_rec::telemetry::init();
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        // No subcommand means `serve` with settings from the environment.
        None => Cli::parse_from(["kazoo-rec", "serve"])
            .command
            .unwrap_or_else(|| unreachable!()),
    };
    if matches!(command, Command::Serve(_)) {
        kazoo_rec::startup::map_large_buffers();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Serve(settings) => runtime.block_on(serve(*settings)),
        Command::GenRecordings(args) => runtime.block_on(gen_recordings(args)),
        Command::MigrateRecordings {
            account,
            dry_run,
            couchdb_url,
        } => {
            if !runtime.block_on(migrate_recordings(account, dry_run, couchdb_url))? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::RegisterApp {
            paths,
            api_url,
            couchdb_url,
        } => runtime.block_on(register_apps(paths, api_url, couchdb_url)),
        Command::Simulate(args) => {
            if !runtime.block_on(simulate(args))? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Record {
            target,
            listen,
            out,
            description,
        } => runtime.block_on(async move {
            let listener = std::net::TcpListener::bind(&listen)?;
            println!(
                "recording {target} through http://{listen} into {} (Ctrl-C to stop)",
                out.display()
            );
            kazoo_rec::replay::proxy::start(listener, &target, out, description)?.await?;
            Ok(())
        }),
        Command::Bench {
            couchdb_url,
            s3_url,
            s3_key,
            s3_secret,
            only,
            requests,
            recordings,
            ingest_mib,
            ingest_rounds,
            concurrent,
            concurrent_mib,
        } => runtime.block_on(kazoo_rec::bench::run(kazoo_rec::bench::BenchOpts {
            couchdb_url,
            s3_url,
            s3_key,
            s3_secret,
            only,
            requests,
            recordings,
            ingest_mib,
            ingest_rounds,
            concurrent,
            concurrent_mib,
        })),
        Command::Replay {
            dir,
            target,
            vars,
            filter,
        } => {
            let ok = runtime.block_on(kazoo_rec::replay::run_cli(&dir, &target, vars, filter))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    let (app, first) = Application::build(settings).await?;
    if let Some(first) = first {
        println!(
            "First start: created the master account {}",
            first.master_account_id
        );
        if let Some(pw) = first.admin_password_generated {
            println!("Master admin password (shown once, store it now): {pw}");
        }
    }
    tracing::info!(%bind, port = app.port, "listening");
    app.run().await?;
    Ok(())
}
