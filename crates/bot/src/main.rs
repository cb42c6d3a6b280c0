//! The `mediabot` command line.
//!
//! - `mediabot replay CAPTURE.pcap --out DIR`: decode every Opus RTP stream of a capture to
//!   `DIR/ssrc-<ssrc>.wav` and print a JSON summary per stream.
//! - `mediabot serve --config bot.toml`: the bot — callback webhook, media, recordings, and a
//!   control API (`POST /control/join {"joinUrl": …}`, `GET /control/calls`,
//!   `POST /control/calls/{id}/hangup`).

mod app;
mod config;
mod recorder;
mod replay;
mod serve;
mod wav;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A real-time media bot for Microsoft Teams over the Microsoft Graph calling API.
#[derive(Debug, Parser)]
#[command(name = "mediabot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode every Opus RTP stream in a pcap capture into one WAV per SSRC.
    Replay {
        /// A classic pcap capture (tcpdump, `tshark -F pcap`).
        capture: PathBuf,
        /// Folder for the WAV files (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Output sample rate in Hz (8000–48000; libopus-native rates decode directly).
        #[arg(long, default_value_t = 16_000)]
        rate: u32,
        /// Output channels (1 = mono downmix, 2 = stereo).
        #[arg(long, default_value_t = 1)]
        channels: u8,
        /// Opus RTP payload type; by default dynamic payload types that parse as Opus are used.
        #[arg(long)]
        pt: Option<u8>,
    },
    /// Run the bot: webhook, media, recordings, control API. Stops (hanging up) on Ctrl-C/SIGTERM.
    Serve {
        /// TOML configuration (environment variables `MEDIABOT_*` override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay {
            capture,
            out,
            rate,
            channels,
            pt,
        } => replay::run(&capture, &out, rate, channels, pt),
        Command::Serve { config } => serve::run(config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mediabot: {e:#}");
            ExitCode::FAILURE
        }
    }
}
