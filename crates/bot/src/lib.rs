//! mediabot: a real-time media bot for Microsoft Teams over the Graph calling API.
//!
//! The library holds the bot's core, the sans-IO [`orchestrator`], with the runtime, HTTP
//! surface, recorder and command line around it; the `mediabot` binary calls [`run`].
//!
//! The command line:
//! - `mediabot replay CAPTURE.pcap --out DIR`: decode every Opus RTP stream of a capture to
//!   `DIR/ssrc-<ssrc>.wav` and print a JSON summary per stream.
//! - `mediabot serve --config bot.toml`: the bot — callback webhook, media, recordings, and a
//!   control API (`POST /control/join {"joinUrl": …}`, `GET /control/calls`,
//!   `POST /control/calls/{id}/hangup`).

pub mod control;
pub mod logging;
pub mod orchestrator;
pub mod report;

mod config;
#[cfg(test)]
mod control_tests;
mod demo;
#[cfg(test)]
mod e2e_tests;
mod folders;
mod http;
mod recorder;
mod replay;
mod routing;
mod runtime;
mod serve;
mod server;
mod sim;
mod speak;
mod wav;

pub use speak::decode_wav;

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
    /// The main job on the embedded default: simulator + bot in one process, join the default
    /// meeting, record every participant, hang up, write WAVs and report.json.
    Demo {
        /// How long to stay in the meeting.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Where the WAVs and report.json go.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// A scenario file (TOML) instead of the embedded default.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Run the Graph + Teams simulator alone (for `mediabot serve` in another terminal).
    Sim {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 9440)]
        port: u16,
        /// A scenario file (TOML) instead of the embedded default.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// End a call with 408/8537 after this many seconds without a keepAlive (Graph: 2700).
        #[arg(long)]
        keepalive_window_seconds: Option<f64>,
        /// Print one `delivery …` line on stdout per finished callback post (for scripts).
        #[arg(long)]
        log_deliveries: bool,
    },
    /// Run the bot: webhook, media, recordings, control API. Stops (hanging up) on Ctrl-C/SIGTERM.
    Serve {
        /// TOML configuration (environment variables `MEDIABOT_*` override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// The `mediabot` command line: parses the arguments, runs the command, returns the exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // `serve` sets up logging once its configuration (log_format) is read.
    if !matches!(cli.command, Command::Serve { .. }) {
        logging::init(logging::format_from_env());
    }
    let result = match cli.command {
        Command::Replay {
            capture,
            out,
            rate,
            channels,
            pt,
        } => replay::run(&capture, &out, rate, channels, pt),
        Command::Serve { config } => serve::run(config.as_deref()),
        Command::Demo {
            seconds,
            out,
            scenario,
        } => demo::run(seconds, &out, scenario.as_deref()).map(|_| ()),
        Command::Sim {
            port,
            scenario,
            keepalive_window_seconds,
            log_deliveries,
        } => sim::run(
            port,
            scenario.as_deref(),
            keepalive_window_seconds,
            log_deliveries,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mediabot: {e:#}");
            ExitCode::FAILURE
        }
    }
}
