//! The loop's clock: the only place the observatory reads the time or
//! sleeps (the schedule and the budget are given the time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sleeps until the Unix second `at` has begun.
pub(crate) async fn sleep_until(at: i64) {
    let target = UNIX_EPOCH + Duration::from_secs(at.max(0).unsigned_abs());
    if let Ok(left) = target.duration_since(SystemTime::now()) {
        tokio::time::sleep(left).await;
    }
}

/// Blocking work (verifying and indexing a bundle, pruning) without
/// stalling the tasks that run on this worker thread.
pub(crate) fn off_the_executor<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
