//! The processing thread: datagrams in, batches of validated items out to the store's writer.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use super::budget::{entry_cost, item_cost};
use super::{Item, Message, process_datagram};
use crate::forward::ForwardQueue;
use crate::stats::Stats;
use crate::store::writer::Batch;

/// The most datagrams put in one batch.
pub const MAX_BATCH: usize = 1024;

/// Processes datagrams until the queue's senders are gone or the writer is.
///
/// A processed item keeps the charge of its datagram; a valid document whose extracted fields cost more is
/// charged the difference, or dropped and counted when the budget has no room for it.
///
/// With `forward`, every valid document is also queued for AWS X-Ray.
pub fn run(
    queue: Receiver<Message>,
    writer: SyncSender<Batch>,
    stats: Arc<Stats>,
    forward: Option<ForwardQueue>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = Batch::default();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Datagram(received_at, datagram) => {
                    let charged = entry_cost(datagram.len());
                    let item = process_datagram(&datagram, received_at);
                    drop(datagram);
                    if let (Some(forward), Item::Valid(record)) = (&forward, &item) {
                        forward.push(&record.id, &record.body);
                    }
                    let cost = item_cost(&item);
                    if cost > charged && !stats.queue().try_charge(cost - charged) {
                        stats.queue().finish(1, charged);
                        stats.add_dropped();
                    } else {
                        batch.queued_bytes += cost.max(charged);
                        batch.items.push(item);
                    }
                }
                Message::Flush(done) => {
                    batch.flushed = Some(done);
                    break;
                }
            }
            if batch.items.len() >= MAX_BATCH {
                break;
            }
            next = queue.try_recv().ok();
        }
        if writer.send(batch).is_err() {
            return;
        }
    }
}
