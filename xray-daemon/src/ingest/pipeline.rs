//! The processing thread: datagrams in, batches of validated items out to the store's writer.

use std::sync::mpsc::{Receiver, SyncSender};

use super::{Message, process_datagram};
use crate::store::writer::Batch;

/// The most datagrams put in one batch.
pub const MAX_BATCH: usize = 1024;

/// Processes datagrams until the queue's senders are gone or the writer is.
pub fn run(queue: Receiver<Message>, writer: SyncSender<Batch>) {
    while let Ok(first) = queue.recv() {
        let mut batch = Batch::default();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Datagram(received_at, datagram) => {
                    batch.queued_bytes += datagram.len();
                    batch.items.push(process_datagram(&datagram, received_at));
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
