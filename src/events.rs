//! "Data changed": an import that wrote rows NOTIFYs a channel on the primary, with the
//! primary's WAL position after its commit; every replica LISTENs and republishes it
//! in-process, so each reloads once its read database has replayed that position.

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;

use crate::db::wal::{self, Lsn, PRIMARY_POSITION_SQL};
use crate::metrics::Metrics;

/// The channel a write that changed tickets or history notifies, so every replica
/// reloads and drops its cache.
pub const DATA_CHANGED_CHANNEL: &str = "fleettickets_data_changed";

/// The id announced by a change that is not an import: geocoding, a backfill, retention.
pub const NOT_AN_IMPORT: i64 = 0;

/// An in-process "the tickets changed" signal, with the primary's WAL position that the
/// read database must have replayed before the change can be read there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataChanged {
    /// A change committed at or before `wal`: an import (its `import_meta` id), or
    /// geocoding, a backfill or retention (`NOT_AN_IMPORT`).
    Import { id: i64, wal: Lsn },
    /// The LISTEN connection was (re-)established at `wal`: a notification may have been
    /// missed, so subscribers must assume the data changed up to there.
    Reconnected { wal: Lsn },
}

impl DataChanged {
    pub fn wal(self) -> Lsn {
        match self {
            DataChanged::Import { wal, .. } | DataChanged::Reconnected { wal } => wal,
        }
    }
}

/// Tells every replica that the data changed. Called once the change is committed, so
/// the WAL position read in the same statement is at or after its commit record (a
/// position read inside the transaction would be before it). A failure is logged, not
/// returned: the change is committed, and replicas catch up when LISTEN reconnects.
pub async fn notify(conn: &mut PgConnection, id: i64) {
    let sent = sqlx::query(&format!(
        "SELECT pg_notify($1, $2 || ' ' || {PRIMARY_POSITION_SQL})"
    ))
    .bind(DATA_CHANGED_CHANNEL)
    .bind(id.to_string())
    .execute(conn)
    .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "committed, but cannot notify the replicas");
    }
}

/// `"<id> <wal>"`; a payload without a position (an older binary's) gives `None`.
fn parse_payload(payload: &str) -> (i64, Option<Lsn>) {
    let mut parts = payload.split_whitespace();
    let id = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    (id, parts.next().and_then(|p| p.parse().ok()))
}

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<DataChanged>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(64).0,
        }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<DataChanged> {
        self.sender.subscribe()
    }

    pub fn publish(&self, event: DataChanged) {
        // No subscriber yet is fine.
        self.sender.send(event).ok();
    }

    /// One LISTEN connection's life, run by the supervisor (which reconnects with
    /// backoff): it only ends with an error, when the connection fails or is lost.
    pub async fn listen(&self, primary: &PgPool, metrics: &Metrics) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(primary).await?;
        // A lost connection ends this run: the supervisor reconnects (with backoff).
        listener.eager_reconnect(false);
        listener.listen(DATA_CHANGED_CHANNEL).await?;
        // Anything committed before this point may have been missed.
        let wal = wal::primary_position(primary).await?;
        self.publish(DataChanged::Reconnected { wal });
        // `try_recv` gives None when the connection was lost.
        while let Some(n) = listener.try_recv().await? {
            metrics.data_changed_events.inc();
            let (id, wal) = parse_payload(n.payload());
            let wal = match wal {
                Some(wal) => wal,
                None => wal::primary_position(primary).await?,
            };
            self.publish(DataChanged::Import { id, wal });
        }
        anyhow::bail!("the LISTEN connection was lost")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_the_id_and_the_position() {
        assert_eq!(parse_payload("42 1/A0"), (42, Some(Lsn((1 << 32) + 0xA0))));
        assert_eq!(parse_payload("0 0/16B3748"), (0, Some(Lsn(0x16B3748))));
        assert_eq!(parse_payload("42"), (42, None), "an older binary's payload");
        assert_eq!(parse_payload("x y"), (0, None));
    }
}
