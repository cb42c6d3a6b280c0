//! `mediabot serve`: the bot as a long-running service.

use std::path::Path;
use std::time::Duration;

use crate::app::App;
use crate::config::BotConfig;

pub(crate) fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let config = BotConfig::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = App::start(config).await?;
        eprintln!(
            "mediabot: listening on http://{} (callbacks at /api/calling, control at /control)",
            app.local_addr
        );
        shutdown_signal().await;
        eprintln!("mediabot: shutting down: hanging up every call");
        app.hang_up_all().await;
        // Give Graph a moment to confirm the hang-ups so recordings and reports are final.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if app.calls().await.iter().all(|c| c.ended) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
}

/// Ctrl-C everywhere, SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
