//! Documents kept for reuse by the thread that finished with them.
//!
//! A recorded entity's document lives in a box in its trace's arena while it is open, and collects annotations,
//! metadata and subsegments in vectors. Once the emitter has encoded a finished segment, its documents go back to
//! a small per-thread store with that room kept, and the next entities begun on the thread take them from there:
//! a steady stream of traces then allocates and frees far less, and no longer asks the allocator for the large
//! blocks that make it sweep its free lists. The boxes are kept too: a finished subsegment joins its parent's
//! `subsegments` in its box, so a document is moved whole only when a segment leaves for the emitter.
//! [`Document::reset`] leaves nothing of the previous entity, and every kept document is empty.

use std::cell::RefCell;

use xray_sdk_types::{CompactString, Document, EntityId};

/// How many documents (and how many empty boxes) one thread keeps. Kept documents are empty, with the room
/// [`Document::reset`] keeps (16 annotations, 16 metadata namespaces, 16 subsegments): a thread holds at most a
/// few hundred kilobytes, and usually far less.
const KEPT: usize = 32;

// The boxes are what is kept: the arena holds documents by box, and moving a box moves a pointer.
#[allow(clippy::vec_box)]
#[derive(Default)]
struct Kept {
    /// Documents of finished entities, with the room they took.
    documents: Vec<Box<Document>>,
    /// Boxes whose documents were moved into their parents; each holds an empty document.
    empty: Vec<Box<Document>>,
}

thread_local! {
    static KEPT_HERE: RefCell<Kept> = RefCell::new(Kept::default());
}

fn with_kept<R>(f: impl FnOnce(&mut Kept) -> R) -> Option<R> {
    KEPT_HERE
        .try_with(|kept| kept.try_borrow_mut().ok().map(|mut kept| f(&mut kept)))
        .ok()
        .flatten()
}

fn placeholder() -> Document {
    Document::new(EntityId::NOOP, "", 0.0)
}

/// A document for a new entity, in a box: a kept one, or a new one.
#[inline]
pub(crate) fn document(id: EntityId, name: &str, start_time: f64) -> Box<Document> {
    match with_kept(|kept| kept.documents.pop().or_else(|| kept.empty.pop())).flatten() {
        Some(mut doc) => {
            // Every kept document is empty (reset when kept, or a placeholder): only what a new entity sets
            // is written.
            debug_assert!(*doc == placeholder());
            doc.id = id;
            doc.name = CompactString::new(name);
            doc.start_time = start_time;
            doc
        }
        None => Box::new(Document::new(id, name, start_time)),
    }
}

/// The document out of its box; the box is kept for reuse.
#[inline]
pub(crate) fn unbox(mut boxed: Box<Document>) -> Document {
    let doc = std::mem::replace(&mut *boxed, placeholder());
    with_kept(|kept| {
        if kept.empty.len() < KEPT {
            kept.empty.push(boxed);
        }
    });
    doc
}

/// Empties `doc` and its subsegments, and keeps them for reuse on this thread as far as there is room: emptied
/// at once, so that nothing the request recorded stays in memory while the document waits.
pub(crate) fn recycle(mut doc: Document) {
    recycle_children(&mut doc);
    doc.reset(EntityId::NOOP, "", 0.0);
    with_kept(|kept| {
        if kept.documents.len() >= KEPT {
            return;
        }
        let boxed = match kept.empty.pop() {
            Some(mut boxed) => {
                *boxed = doc;
                boxed
            }
            None => Box::new(doc),
        };
        kept.documents.push(boxed);
    });
}

/// [`recycle`] for a document in its box: the box is kept as it is.
fn recycle_boxed(mut doc: Box<Document>) {
    recycle_children(&mut doc);
    doc.reset(EntityId::NOOP, "", 0.0);
    with_kept(|kept| {
        if kept.documents.len() < KEPT {
            kept.documents.push(doc);
        }
    });
}

/// Recycles each subsegment on its own; the emptied vector stays with its parent.
fn recycle_children(doc: &mut Document) {
    let mut children = std::mem::take(&mut doc.subsegments);
    for child in children.drain(..) {
        recycle_boxed(child);
    }
    doc.subsegments = children;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_come_back_reset_with_their_room() {
        let mut parent = unbox(document(EntityId::from_u64(1), "parent", 1.0));
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
                *doc,
                Document::new(EntityId::from_u64(100 + i), "fresh", 3.0)
            );
            fresh.push(doc);
        }
        // The parent's vector came back with room for its ten subsegments.
        assert!(fresh.iter().any(|d| d.subsegments.capacity() >= 10));
    }
}
