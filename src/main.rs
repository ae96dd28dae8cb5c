//! Command line: `serve` (default) runs the API; `replay` replays compat fixtures.

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let command = match cli.command {
        Some(c) => c,
        // No subcommand means `serve` with settings from the environment.
        None => Cli::parse_from(["kazoo-rec", "serve"])
            .command
            .unwrap_or_else(|| unreachable!()),
    };
    match command {
        Command::Serve(settings) => runtime.block_on(serve(*settings)),
        Command::GenRecordings(args) => runtime.block_on(gen_recordings(args)),
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
