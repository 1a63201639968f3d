//! The store's writer when the daemon keeps no traces (`xray daemon --no-store`): batches are counted and let go.
//! Valid documents have been handed to forwarding already by the processing thread.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use super::Item;
use crate::stats::Stats;
use crate::store::writer::Batch;

/// Counts and releases batches until every sender is gone: valid documents as `not_stored`, invalid ones by
/// reason. Flush requests are answered at once.
pub fn run(batches: Receiver<Batch>, stats: Arc<Stats>) {
    while let Ok(batch) = batches.recv() {
        let mut valid = 0;
        for item in &batch.items {
            match item {
                Item::Valid(_) => valid += 1,
                Item::Invalid(rejected) => stats.add_invalid(rejected.code),
            }
        }
        stats.add_not_stored(valid);
        stats.queue().finish(batch.items.len(), batch.queued_bytes);
        if let Some(flushed) = batch.flushed {
            let _ = flushed.try_send(());
        }
    }
}
