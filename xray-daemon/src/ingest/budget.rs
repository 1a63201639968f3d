//! The ingest queue's memory budget: what each queued datagram really costs, and the admission of datagrams.
//!
//! A datagram is charged when the receive loop queues it and released when the writer has stored it. The charge
//! is not only its payload: each entry also holds a queue slot, the processed [`Item`] in its batch, and heap
//! blocks that the allocator rounds up. Without these, a flood of 1-byte datagrams cost some 80 times what was
//! counted. [`entry_cost`] counts them all, so that the budget bounds memory for any mix of sizes.

use std::mem::size_of;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{Item, Message};
use crate::ingest::extract::Record;
use crate::ingest::process::Rejected;

/// The bookkeeping word the allocator (glibc's malloc) puts before each block.
const ALLOCATION_HEADER: usize = size_of::<usize>();
/// Blocks are multiples of this.
const ALLOCATION_ALIGN: usize = 16;
/// The smallest block.
const ALLOCATION_MIN: usize = 32;
/// The most bytes of a rejected document's message (longer ones are cut by [`super::process`]).
pub const MAX_MESSAGE_BYTES: usize = 256;

/// What a heap block of `n` bytes takes from the allocator (nothing for `n == 0`: an empty `Vec` allocates
/// nothing).
pub const fn allocation(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let rounded = (n + ALLOCATION_HEADER).div_ceil(ALLOCATION_ALIGN) * ALLOCATION_ALIGN;
    if rounded < ALLOCATION_MIN {
        ALLOCATION_MIN
    } else {
        rounded
    }
}

/// The fixed part of an entry, whatever its payload: its slot in the queue to the processing thread (the message
/// and the slot's state word), its arrival time kept by the receive loop, then its processed [`Item`] in a batch (twice: a batch's vector may have up to
/// twice the room it uses), then the block of a rejected document's message.
pub const ENTRY_OVERHEAD: usize = size_of::<Message>()
    + size_of::<usize>()
    + size_of::<(u64, std::time::Instant)>()
    + 2 * size_of::<Item>()
    + allocation(MAX_MESSAGE_BYTES);

/// What a queued datagram of `payload` bytes is charged: [`ENTRY_OVERHEAD`] and the heap block of its bytes. A
/// rejected document never costs more once processed (its kept body is at most its payload, its message at most
/// [`MAX_MESSAGE_BYTES`]); a valid one may (each field extracted is a block of its own), and is charged the
/// difference by [`item_cost`].
pub const fn entry_cost(payload: usize) -> usize {
    ENTRY_OVERHEAD + allocation(payload)
}

/// What a processed item costs, counted the same way as [`entry_cost`].
pub fn item_cost(item: &Item) -> usize {
    let fixed = ENTRY_OVERHEAD;
    match item {
        Item::Invalid(Rejected { body, message, .. }) => {
            fixed - allocation(MAX_MESSAGE_BYTES)
                + allocation(body.capacity())
                + allocation(message.capacity())
        }
        Item::Valid(record) => fixed + record_heap(record),
    }
}

fn record_heap(r: &Record) -> usize {
    let text = |s: &Option<String>| s.as_deref().map_or(0, |s| allocation(s.len()));
    allocation(r.body.capacity())
        + allocation(r.trace_id.len())
        + allocation(r.id.len())
        + allocation(r.name.len())
        + text(&r.parent_id)
        + text(&r.http_method)
        + text(&r.http_url)
        + allocation(r.annotations.capacity() * size_of::<(String, String, Option<f64>)>())
        + r.annotations
            .iter()
            .map(|(k, v, _)| allocation(k.len()) + allocation(v.len()))
            .sum::<usize>()
}

/// The bytes charged to the ingest queue, against its budget. Shared by the receive loop (which charges), the
/// processing thread (which charges a valid document's extra) and the writer (which releases).
#[derive(Debug)]
pub struct QueueBudget {
    max: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    finished: AtomicU64,
}

impl QueueBudget {
    /// A budget of `max` bytes, none used.
    pub fn new(max: usize) -> QueueBudget {
        QueueBudget {
            max,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Charges `bytes` if they fit in the budget; `false` (and nothing charged) otherwise.
    pub fn try_charge(&self, bytes: usize) -> bool {
        let charged = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&after| after <= self.max)
            });
        match charged {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Gives back the `bytes` charged for `entries` entries that are done with: written (or not) by the store,
    /// or dropped on the way.
    pub fn finish(&self, entries: usize, bytes: usize) {
        self.finished.fetch_add(entries as u64, Ordering::Relaxed);
        self.release(bytes);
    }

    /// How many entries are done with, in all: entries are done with in the order they were charged, so the
    /// first `finished()` entries ever charged are.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Gives back `bytes` charged before.
    pub fn release(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// The bytes charged now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most bytes ever charged at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_round_up_like_malloc() {
        assert_eq!(allocation(0), 0);
        assert_eq!(allocation(1), 32);
        assert_eq!(allocation(24), 32);
        assert_eq!(allocation(25), 48);
        assert_eq!(allocation(1000), 1008);
    }

    #[test]
    fn a_tiny_datagram_costs_its_overhead() {
        assert!(entry_cost(1) > 100);
        assert_eq!(entry_cost(1), ENTRY_OVERHEAD + 32);
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let budget = QueueBudget::new(100);
        assert!(budget.try_charge(60));
        assert!(!budget.try_charge(41));
        assert!(budget.try_charge(40));
        assert_eq!(budget.used(), 100);
        budget.release(70);
        assert_eq!(budget.used(), 30);
        assert_eq!(budget.peak(), 100);
    }
}
