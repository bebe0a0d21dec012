//! `digios model ...`: the model store from the command line.

use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Every manifest entry and whether it is missing, present or verified.
    List,
}

pub fn run(args: ModelArgs, config: &Config) -> anyhow::Result<()> {
    match args.command {
        ModelCommand::List => {
            println!("models in {}", config.models_dir().display());
            Ok(())
        }
    }
}
