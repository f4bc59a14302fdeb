//! Following a `LISTEN`/`NOTIFY` channel: one connection that listens, reopened with backoff
//! when lost. Used by the identity follower ([`super::identity`]) and by the lock news of the
//! gateways ([`super::locks`]).
//!
//! PostgreSQL delivers a notification only to connections listening when the notifying
//! transaction commits: while the connection is down, notifications are lost. So after every
//! (re)connection the follower is told to catch up (`None`), and catches up by reading the
//! state it mirrors afresh.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// The first pause before a lost connection is reopened; it doubles up to [`PAUSE_MAX`].
const PAUSE_MIN: Duration = Duration::from_millis(100);
/// The longest pause between two attempts to reopen the connection.
const PAUSE_MAX: Duration = Duration::from_secs(5);

/// Listens on `channel` until the task running it is aborted, calling `on` with each
/// notification's payload, and with `None` after each (re)connection, when notifications may
/// have been missed. `what` names the follower in logs ("identity change listener").
pub(super) async fn follow(
    pool: PgPool,
    channel: &'static str,
    what: &'static str,
    mut on: impl FnMut(Option<&str>) + Send,
) {
    let mut pause = PAUSE_MIN;
    // Log a lost connection once per outage, not once per attempt.
    let mut failing = false;
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(channel).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "{what} cannot reach PostgreSQL; retrying (it catches up once PostgreSQL is back)");
                    failing = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PAUSE_MAX);
                continue;
            }
        };
        if failing {
            tracing::info!("{what} reconnected; catching up");
        }
        pause = PAUSE_MIN;
        // Changes committed while no LISTEN was active sent notifications nobody got.
        on(None);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => on(Some(n.payload())),
                // The connection was lost and has been reopened: catch up.
                Ok(None) => on(None),
                Err(e) => {
                    tracing::warn!(error = %e, "{what} lost PostgreSQL; reconnecting");
                    failing = true;
                    break;
                }
            }
        }
    }
}
