//! The rebuild worker, one in every api instance (see the rebuild protocol in
//! README.md). It wakes on a local write, on `NOTIFY catalog_changed` from any
//! instance (or a hand-run SQL fix), or on a periodic reconcile tick; waits a
//! short debounce so a burst of edits gives one build; then, while
//! `wanted_version > published_version`, runs
//! `pipeline::rebuild::rebuild_if_behind`, which takes the fleet-wide
//! advisory lock, checks again that the site is behind (another instance may
//! have just published), reads through the version-gated replica, publishes
//! and records the build. A rebuild asked for always builds. A failed build
//! is recorded with its error and retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use catalog::records::BuildRecord;
use pipeline::BuildConfig;
use pipeline::Database;
use publish::Destination;
use tokio::sync::watch;

use crate::state::State;
use crate::store::Store;

/// How long a burst of writes may go on before the build starts.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How often an idle worker checks for work another instance left behind.
pub const RECONCILE: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a rebuild needs, fixed for the life of the process.
pub struct Rebuilds {
    pub build: BuildConfig,
    /// Unset in the embedded default: the build reads the content folder.
    pub source: Option<Database>,
    pub destination: Destination,
}

/// Runs until `shutdown` turns true; a build in progress finishes first.
pub async fn run(state: Arc<State>, rebuilds: Rebuilds, mut shutdown: watch::Receiver<bool>) {
    let mut listener = None;
    let mut tick = tokio::time::interval(RECONCILE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if let (None, Store::Postgres { primary, .. }) = (&listener, &state.store) {
            match store::listen_catalog_changed(primary).await {
                Ok(l) => listener = Some(l),
                Err(e) => tracing::warn!("the rebuild worker cannot listen for changes yet: {e}"),
            }
        }
        let trigger = tokio::select! {
            _ = state.worker_woken() => "api",
            got = async {
                match listener.as_mut() {
                    Some(l) => l.notifications.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if got.is_none() {
                    listener = None;
                }
                // Another instance wrote: its lists are stale here too.
                state.lists.clear();
                "notify"
            }
            _ = tick.tick() => "tick",
            _ = shutdown.changed() => return,
        };
        // Let a burst of edits settle, then take every wake-up it caused.
        tokio::select! {
            _ = tokio::time::sleep(DEBOUNCE) => {}
            _ = shutdown.changed() => return,
        }
        if let Some(l) = listener.as_mut() {
            while l.notifications.try_recv().is_ok() {}
        }
        catch_up(&state, &rebuilds, trigger, &mut shutdown).await;
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Builds until the published version reaches the wanted one (or a rebuild
/// asked for has run).
async fn catch_up(
    state: &State,
    rebuilds: &Rebuilds,
    trigger: &str,
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let forced = state.take_forced();
        let (wanted, behind) = match state.store.catalog_state().await {
            Ok((wanted, published)) => (wanted, wanted > published),
            Err(_) => {
                tracing::warn!("the rebuild worker cannot read the catalog's state");
                (0, false)
            }
        };
        if !behind && !forced {
            return;
        }
        let job = pipeline::rebuild::Job {
            build: &rebuilds.build,
            database: rebuilds.source.as_ref(),
            destination: &rebuilds.destination,
            trigger: if forced { "api" } else { trigger },
        };
        let result = match &state.store {
            Store::Postgres { .. } if forced => pipeline::rebuild::rebuild(&job).await.map(Some),
            Store::Postgres { .. } => pipeline::rebuild::rebuild_if_behind(&job).await,
            // Without a database the build history is this process's own.
            Store::Files(files) => {
                let id = files.build_started(job.trigger);
                let mut record = BuildRecord::default();
                let result = pipeline::rebuild::run(&job, &mut record).await;
                if result.is_ok() {
                    record.catalog_version = Some(wanted);
                }
                files.build_finished(id, &record);
                if result.is_ok() {
                    files.published(wanted);
                }
                result.map(Some)
            }
        };
        match result {
            // Another instance published this version while this one waited
            // for the build lock: look again, as a write may have come since.
            Ok(None) => {}
            Ok(Some(done)) => {
                tracing::info!(
                    build_id = done.build_id,
                    catalog_version = done.catalog_version,
                    uploaded = done.publish.uploads.len(),
                    deleted = done.publish.deletes.len(),
                    "published"
                );
                backoff = Duration::from_secs(1);
            }
            Err(e) => {
                tracing::warn!(retry_in_s = backoff.as_secs(), "the rebuild failed: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                if forced {
                    state.request_rebuild();
                }
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
