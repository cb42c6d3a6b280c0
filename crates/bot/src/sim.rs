//! `mediabot sim`: the simulator as its own process, for the two-terminal walkthrough.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mediabot_sim::{
    DeliveryOutcome, SimConfig, SimEvent, SimMediaConfig, SimMediaProcessor, Simulator,
};
use tokio::sync::broadcast::error::RecvError;

pub(crate) fn run(
    port: u16,
    scenario: Option<&Path>,
    keepalive_window_seconds: Option<f64>,
    log_deliveries: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut config = match scenario {
            Some(path) => SimConfig::with_scenario(
                mediabot_sim::Scenario::from_file(path)
                    .with_context(|| format!("loading scenario {}", path.display()))?,
            ),
            None => SimConfig::default(),
        };
        config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if let Some(seconds) = keepalive_window_seconds {
            config.timings.keepalive_window = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|w| !w.is_zero())
                .context("--keepalive-window-seconds must be a positive number")?;
        }
        let media =
            SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
        let sim = Simulator::start_with_media(config.clone(), Arc::new(media.clone())).await?;
        media.add_known_participants(
            sim.meetings()
                .into_iter()
                .flat_map(|m| m.participants)
                .map(|m| m.participant),
        );
        if log_deliveries {
            spawn_delivery_log(sim.subscribe());
        }
        println!("mediabot simulator on http://{}", sim.local_addr());
        println!();
        println!("Point the bot at it (e.g. in another terminal):");
        println!("  export MEDIABOT_TENANT_ID={}", config.tenant_id.as_str());
        println!("  export MEDIABOT_APP_ID={}", config.app_id.as_str());
        println!("  export MEDIABOT_APP_SECRET={}", config.client_secret);
        println!("  export MEDIABOT_GRAPH_BASE_URL={}", sim.graph_base_url());
        println!("  export MEDIABOT_AUTHORITY_URL={}", sim.authority_url());
        println!(
            "  export MEDIABOT_OPENID_CONFIGURATION_URL={}",
            sim.openid_configuration_url()
        );
        println!("  export MEDIABOT_MEDIA_BIND_IP=127.0.0.1   # media on loopback, like the simulator's");
        println!("  mediabot serve");
        println!();
        for meeting in sim.meetings() {
            println!("meeting \"{}\":", meeting.subject.as_deref().unwrap_or(&meeting.key));
            println!("  join URL: {}", meeting.join_url);
            println!(
                "  meeting id {} passcode {}",
                meeting.join_meeting_id, meeting.passcode
            );
        }
        println!();
        println!(
            "then: curl -s -XPOST http://127.0.0.1:9441/control/join -H 'content-type: application/json' -d '{{\"joinUrl\": \"<join URL>\"}}'"
        );
        tokio::signal::ctrl_c().await?;
        sim.shutdown();
        Ok(())
    })
}

/// `--log-deliveries`: one line per finished callback post, e.g.
/// `delivery seq=3 call=… attempts=1 status=202` (or `rejected=401`, `failed="…"`); a
/// `delivery lagged=N` line says N events were missed and the log is incomplete.
fn spawn_delivery_log(mut events: tokio::sync::broadcast::Receiver<SimEvent>) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(SimEvent::NotificationDelivered(record)) => {
                    let outcome = match &record.outcome {
                        DeliveryOutcome::Delivered { status } => format!("status={status}"),
                        DeliveryOutcome::Rejected { status } => format!("rejected={status}"),
                        DeliveryOutcome::Failed { last_error } => format!("failed={last_error:?}"),
                        other => format!("other={other:?}"),
                    };
                    println!(
                        "delivery seq={} call={} attempts={} {outcome}",
                        record.seq, record.call_id, record.attempts
                    );
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => println!("delivery lagged={missed}"),
                Err(RecvError::Closed) => return,
            }
        }
    });
}
