//! `mediabot demo`: the main job end to end on the embedded default.
//!
//! Starts the Graph + Teams simulator in-process on loopback (with its simulated media
//! processor), starts the real bot against it — real HTTP, real signed JWTs, real DTLS-SRTP,
//! nothing short-circuited — joins the default meeting by its join URL, shows live progress,
//! hangs up after `--seconds`, and leaves a WAV per participant, `mixed.wav` and `report.json`
//! in `--out`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mediabot_signaling::auth::Secret;
use mediabot_sim::{SimConfig, SimMediaConfig, SimMediaProcessor, Simulator};

use crate::config::{BotConfig, MediaSettings};
use crate::control::{CallStatus, JoinRequest};
use crate::runtime::App;

/// Runs the demo; returns the folder with the recordings.
pub(crate) fn run(seconds: u64, out: &Path, scenario: Option<&Path>) -> anyhow::Result<PathBuf> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(demo(seconds, out, scenario))
}

async fn demo(seconds: u64, out: &Path, scenario: Option<&Path>) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    clear_previous_demo(out)?;
    let sim_config = match scenario {
        Some(path) => SimConfig::with_scenario(
            mediabot_sim::Scenario::from_file(path)
                .with_context(|| format!("loading scenario {}", path.display()))?,
        ),
        None => SimConfig::default(),
    };
    let media =
        SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
    let sim = Simulator::start_with_media(sim_config.clone(), Arc::new(media.clone()))
        .await
        .context("starting the simulator")?;
    media.add_known_participants(
        sim.meetings()
            .into_iter()
            .flat_map(|m| m.participants)
            .map(|m| m.participant),
    );
    let meeting = sim
        .meetings()
        .into_iter()
        .next()
        .context("the scenario has no meeting")?;
    println!(
        "simulator on {} — meeting \"{}\" with {} participants",
        sim.local_addr(),
        meeting.subject.as_deref().unwrap_or(&meeting.key),
        meeting.participants.len()
    );

    let bot_config = bot_config_for(&sim, out);
    let app = App::start(bot_config).await.context("starting the bot")?;
    println!(
        "bot on http://{} joining {}",
        app.local_addr, meeting.join_url
    );
    let ticket = app
        .join(JoinRequest {
            join_url: meeting.join_url.clone(),
        })
        .await
        .context("joining the meeting")?;
    let mut status = ticket.status;
    let progress = ticket.progress;

    // Live progress once a second until the time is up or the call ends on its own.
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = status.changed() => {
                if changed.is_err() { break; }
            }
        }
        let now = status.borrow().clone();
        if now.ended {
            break;
        }
        print_progress(
            &now,
            &progress.lock().map(|p| line(&p)).unwrap_or_default(),
            started,
        );
        if Instant::now() >= until {
            break;
        }
    }
    let call_id = status.borrow().call_id.clone();
    if !status.borrow().ended {
        let call_id = call_id.clone().context("the call was never created")?;
        println!("hanging up {call_id}");
        app.hang_up(call_id).await?;
        let ended = tokio::time::timeout(
            Duration::from_secs(15),
            status.wait_for(|s| s.ended && s.report.is_some()),
        )
        .await;
        if ended.is_err() {
            anyhow::bail!("the call did not end within 15 s of hanging up");
        }
    }
    let final_status = status.borrow().clone();
    let report = final_status
        .report
        .clone()
        .with_context(|| format!("the call ended without a report ({})", final_status.state))?;
    let text = std::fs::read_to_string(&report)?;
    let parsed: serde_json::Value = serde_json::from_str(&text)?;
    let participants = parsed["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!("\nrecorded in {}:", out.display());
    for p in &participants {
        println!(
            "  {:<28} {:>6.1} s speaking  {:>5} frames  lost {:>3}  concealed {:>3}",
            p["wav"].as_str().unwrap_or("?"),
            p["speakingSeconds"].as_f64().unwrap_or(0.0),
            p["frames"].as_u64().unwrap_or(0),
            p["lost"].as_u64().unwrap_or(0),
            p["concealedFrames"].as_u64().unwrap_or(0),
        );
    }
    if let Some(mixed) = parsed["mixedWav"].as_str() {
        println!("  {mixed}");
    }
    println!(
        "  report.json (join latency {:.0} ms)",
        parsed["joinLatencyMs"].as_f64().unwrap_or(f64::NAN)
    );
    if participants.is_empty() {
        anyhow::bail!(
            "no participant audio was received (see {})",
            report.display()
        );
    }
    sim.shutdown();
    Ok(out.to_path_buf())
}

/// The demo records straight into `out` (recordings never overwrite, so a second run into the
/// same folder would fail): it removes what an earlier demo left there — the WAVs and
/// `report.json` of a folder that holds a demo's `report.json` — and nothing else.
fn clear_previous_demo(out: &Path) -> anyhow::Result<()> {
    if !out.join("report.json").is_file() {
        return Ok(());
    }
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let ours = path.extension().is_some_and(|e| e == "wav")
            || path.file_name().is_some_and(|n| n == "report.json");
        if ours && path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing the earlier demo's {}", path.display()))?;
        }
    }
    Ok(())
}

/// The bot's configuration for a simulator on loopback: its URLs, its app id and secret,
/// media on 127.0.0.1, recordings in `out`.
pub(crate) fn bot_config_for(sim: &mediabot_sim::SimHandle, out: &Path) -> BotConfig {
    BotConfig {
        tenant_id: sim.tenant_id().as_str().to_string(),
        app_id: sim.app_id().as_str().to_string(),
        app_secret: Some(Secret::new(sim.client_secret().to_string())),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        control_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        control_token: Some(Secret::new(crate::runtime::random_token())),
        public_base_url: None,
        graph_base_url: sim.graph_base_url().to_string(),
        authority_url: sim.authority_url().to_string(),
        openid_configuration_url: sim.openid_configuration_url().to_string(),
        out_dir: out.to_path_buf(),
        single_call_dir: true,
        answer_incoming: true,
        keep_alive_seconds: 15 * 60,
        max_calls: 64,
        shutdown_grace_seconds: 15.0,
        log_format: crate::logging::LogFormat::Text,
        allowed_tenants: None,
        media_dir: None,
        fault_audio_panic_calls: Vec::new(),
        media: MediaSettings {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ..MediaSettings::default()
        },
    }
}

fn line(p: &crate::recorder::Progress) -> String {
    p.sources
        .values()
        .map(|s| {
            format!(
                "{}:{}f/{}c",
                s.msi
                    .map_or_else(|| format!("ssrc{}", s.ssrc), |m| m.to_string()),
                s.frames,
                s.concealed_frames
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_progress(status: &CallStatus, frames: &str, started: Instant) {
    println!(
        "{:>5.1}s  {:<16} speaking: {:<10} frames: {}",
        started.elapsed().as_secs_f64(),
        status.state,
        status.dominant_speaker.as_deref().unwrap_or("-"),
        if frames.is_empty() { "-" } else { frames }
    );
}
