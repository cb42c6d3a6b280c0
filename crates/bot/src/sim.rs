//! `mediabot sim`: the simulator as its own process, for the two-terminal walkthrough.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mediabot_sim::{SimConfig, SimMediaConfig, SimMediaProcessor, Simulator};

pub(crate) fn run(port: u16, scenario: Option<&Path>) -> anyhow::Result<()> {
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
        let media =
            SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
        let sim = Simulator::start_with_media(config.clone(), Arc::new(media.clone())).await?;
        media.add_known_participants(
            sim.meetings()
                .into_iter()
                .flat_map(|m| m.participants)
                .map(|m| m.participant),
        );
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
