//! Documents kept for reuse by the thread that finished with them.
//!
//! A recorded entity's document collects annotations, metadata and subsegments in vectors. Once the emitter has
//! encoded a finished segment, its documents go back to a small per-thread store with that room kept, and the
//! next entities begun on the thread take them from there: a steady stream of traces then allocates and frees
//! far less, and no longer asks the allocator for the large blocks that make it sweep its free lists.
//! [`Document::reset`] leaves nothing of the previous entity.

use std::cell::RefCell;

use xray_sdk_types::{Document, EntityId};

/// How many documents one thread keeps. With the room [`Document::reset`] keeps (16 annotations, 16 metadata
/// namespaces, 16 subsegments), a thread holds at most a few hundred kilobytes, and usually far less.
const KEPT: usize = 32;

thread_local! {
    static DOCUMENTS: RefCell<Vec<Document>> = const { RefCell::new(Vec::new()) };
}

/// A document for a new entity: a kept one, reset, or a new one.
#[inline]
pub(crate) fn document(id: EntityId, name: &str, start_time: f64) -> Document {
    let kept = DOCUMENTS
        .try_with(|kept| kept.try_borrow_mut().ok().and_then(|mut kept| kept.pop()))
        .ok()
        .flatten();
    match kept {
        Some(mut doc) => {
            doc.reset(id, name, start_time);
            doc
        }
        None => Document::new(id, name, start_time),
    }
}

/// Keeps `doc` and its subsegments for reuse on this thread, as far as there is room.
pub(crate) fn recycle(mut doc: Document) {
    // Each subsegment is kept on its own; the emptied vector stays with its parent.
    let mut children = std::mem::take(&mut doc.subsegments);
    for child in children.drain(..) {
        recycle(child);
    }
    doc.subsegments = children;
    let _ = DOCUMENTS.try_with(|kept| {
        if let Ok(mut kept) = kept.try_borrow_mut()
            && kept.len() < KEPT
        {
            kept.push(doc);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_come_back_reset_with_their_room() {
        let mut parent = document(EntityId::from_u64(1), "parent", 1.0);
        for i in 0..10 {
            let mut child = document(EntityId::from_u64(i + 2), "child", 2.0);
            child.annotations.insert("n", i.into());
            parent.subsegments.push(child);
        }
        parent.annotations.insert("secret", "kept?".into());
        recycle(parent);
        let mut fresh = Vec::new();
        for i in 0..11 {
            let doc = document(EntityId::from_u64(100 + i), "fresh", 3.0);
            assert_eq!(
                doc,
                Document::new(EntityId::from_u64(100 + i), "fresh", 3.0)
            );
            fresh.push(doc);
        }
        // The parent's vector came back with room for its ten subsegments.
        assert!(fresh.iter().any(|d| d.subsegments.capacity() >= 10));
    }
}
