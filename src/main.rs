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
    Serve(Settings),
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
        Command::Serve(settings) => runtime.block_on(serve(settings)),
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
