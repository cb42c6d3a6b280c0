//! `mediabot serve`: the bot as a long-running service.

use std::path::Path;

use crate::config::BotConfig;
use crate::runtime::App;

pub(crate) fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let config = BotConfig::load(config)?;
    crate::logging::init(config.log_format);
    let grace = config.shutdown_grace();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = App::start(config).await?;
        eprintln!(
            "mediabot: callbacks and media answers on http://{} (/api/calling, /mp); control API on http://{}/control (bearer token)",
            app.local_addr, app.control_addr
        );
        shutdown_signal().await;
        eprintln!(
            "mediabot: shutting down: hanging up every call (grace {:.0} s)",
            grace.as_secs_f64()
        );
        let confirmed = app.shutdown(grace).await;
        eprintln!(
            "mediabot: every recording is final{}",
            if confirmed {
                ""
            } else {
                " (some hang-ups were not confirmed by Graph)"
            }
        );
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
