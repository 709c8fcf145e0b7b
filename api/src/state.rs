//! What every request and the rebuild worker share.

use std::sync::atomic::{AtomicBool, Ordering};

use generator::db::{Connection, DbError, Target};
use tokio::sync::Notify;

pub struct State {
    pub primary: Target,
    /// Reads go here when it is set (and answers).
    pub replica: Option<Target>,
    /// Wakes the rebuild worker: a local write, or a rebuild asked for.
    worker: Notify,
    /// A rebuild was asked for, whether or not the catalog changed.
    forced: AtomicBool,
    /// SIGTERM arrived: `/readyz` fails while requests drain.
    pub draining: AtomicBool,
}

impl State {
    pub fn new(primary: Target, replica: Option<Target>) -> Self {
        Self {
            primary,
            replica,
            worker: Notify::new(),
            forced: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        }
    }

    /// A connection for reads: the replica, or the primary if there is none
    /// or it does not answer.
    pub async fn read(&self) -> Result<(Connection, &Target), DbError> {
        if let Some(replica) = &self.replica {
            match replica.connect().await {
                Ok(client) => return Ok((client, replica)),
                Err(e) => tracing::warn!("{e}; reading from the primary instead"),
            }
        }
        Ok((self.primary.connect().await?, &self.primary))
    }

    /// A connection to the primary, for writes.
    pub async fn write(&self) -> Result<Connection, DbError> {
        self.primary.connect().await
    }

    pub fn wake_worker(&self) {
        self.worker.notify_one();
    }

    pub fn request_rebuild(&self) {
        self.forced.store(true, Ordering::SeqCst);
        self.worker.notify_one();
    }

    pub async fn worker_woken(&self) {
        self.worker.notified().await;
    }

    /// Whether a rebuild was asked for since the last call.
    pub fn take_forced(&self) -> bool {
        self.forced.swap(false, Ordering::SeqCst)
    }
}
