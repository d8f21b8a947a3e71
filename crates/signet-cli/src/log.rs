//! `signet log fsck`: check a stopped transparency log (`signet_log::fsck`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{LogArgs, LogCommand};
use crate::exit::Failure;

/// The log's own directory: `D` itself when it holds the store, else `D/log` (the
/// layout of `signet serve --data-dir D`).
fn log_dir(data_dir: &Path) -> PathBuf {
    if data_dir.join(signet_log::STORE_FILE).exists() {
        data_dir.to_owned()
    } else {
        data_dir.join("log")
    }
}

pub(crate) fn run(args: LogArgs) -> anyhow::Result<()> {
    match args.command {
        LogCommand::Fsck { data_dir } => {
            let dir = log_dir(&data_dir);
            let report = signet_log::fsck(&dir)
                .with_context(|| format!("checking the log in {}", dir.display()))?;
            print!("{report}");
            if report.is_clean() {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message: format!(
                        "the log in {} has {} problems",
                        dir.display(),
                        report.problem_count
                    ),
                }
                .into())
            }
        }
    }
}
