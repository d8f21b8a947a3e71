//! `signet`: sign and verify container images, compatible with cosign.
//!
//! This binary only parses arguments, builds the runtime, calls the libraries and
//! maps errors to exit codes (cosign's: 10 no signatures, 11 tag not found, 12 no
//! matching signatures, 13 no certificate; 1 for everything else).

mod admission;
mod blob;
mod cli;
mod exit;
mod identity;
mod inspect;
mod keyless;
mod keys;
mod log;
mod registry;
mod serve;
mod sign;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = match &cli.command {
        Command::Sign(a) => Some(a.registry.timeout),
        Command::Verify(a) => Some(a.registry.timeout),
        Command::Triangulate(a) => Some(a.registry.timeout),
        Command::Tree(a) => Some(a.registry.timeout),
        _ => None,
    };
    let result = runtime.block_on(async move {
        let work = run(cli);
        match timeout {
            Some(t) => tokio::time::timeout(t, work).await.unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "timed out after {t:?}; nothing more was written (raise it with --timeout)"
                ))
            }),
            None => work.await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(e.downcast_ref::<exit::Failure>().map_or(1, |f| f.code))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::GenerateKeyPair(a) => keys::generate_key_pair(&a),
        Command::PublicKey(a) => keys::public_key(&a).await,
        Command::ImportKeyPair(a) => keys::import_key_pair(&a),
        Command::Sign(a) => sign::run(a).await,
        Command::Verify(a) => verify::run(a).await,
        Command::Triangulate(a) => inspect::triangulate(a).await,
        Command::Tree(a) => inspect::tree(a).await,
        Command::VerifyBlob(a) => blob::run(a).await,
        Command::SignBlob(a) => blob::sign(a).await,
        Command::Admission(a) => admission::run(a).await,
        Command::Serve(a) => serve::run(a).await,
        Command::DevToken(a) => serve::dev_token(&a),
        Command::Log(a) => log::run(a),
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: when `serve` and `admission` stop.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
