//! The file watches of the certificate and the policy directory: a check every
//! interval, for as long as what is watched is alive.

use std::sync::Arc;
use std::time::Duration;

/// Calls `check` on `target` every `interval` (the first time one interval from now),
/// on the blocking pool since checks read files, until `target` is dropped elsewhere.
pub(crate) fn spawn_poll<T, F>(target: &Arc<T>, interval: Duration, check: F)
where
    T: Send + Sync + 'static,
    F: Fn(&T) + Send + Sync + 'static,
{
    let weak = Arc::downgrade(target);
    let check = Arc::new(check);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(target) = weak.upgrade() else { return };
            let check = check.clone();
            let _ = tokio::task::spawn_blocking(move || check(&target)).await;
        }
    });
}
