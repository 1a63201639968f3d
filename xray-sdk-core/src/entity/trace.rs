//! The state shared by all entities of one recorded segment: an arena of nodes under one lock.
//!
//! A subsegment's document lives in its node while it is open. When it has ended and all its children have
//! been folded into it, it is moved into its parent's `subsegments`. When the segment itself has ended and
//! nothing below it is open, the whole tree is complete and is emitted once. Between those moments, when the
//! segment holds more subsegments than the streaming threshold, complete subtrees under open entities are sent
//! ahead as independent subsegments.

use std::sync::{Arc, Mutex, MutexGuard};

use xray_sdk_types::document::DocumentType;
use xray_sdk_types::{Document, EntityId, TraceId};

use crate::recorder::Inner;

/// One recorded segment tree.
pub(crate) struct Trace {
    pub(crate) recorder: Arc<Inner>,
    pub(crate) trace_id: TraceId,
    /// Fields of the incoming trace header other than Root, Parent and Sampled (such as `Lineage`), forwarded
    /// downstream.
    pub(crate) origin_data: Vec<(String, String)>,
    state: Mutex<TraceState>,
}

struct TraceState {
    nodes: Vec<Node>,
    /// Subsegments in the tree and not yet sent: the figure compared with the streaming threshold.
    live_subsegments: usize,
    /// The segment has been emitted; nothing more is recorded.
    done: bool,
}

struct Node {
    /// The document, until it is folded into its parent or sent. Boxed, so that the arena moves pointers.
    doc: Option<Box<Document>>,
    parent: Option<u32>,
    /// Children not yet folded into this node.
    open_children: u32,
    ended: bool,
    /// Exceptions recorded on children: (id, message), so that the same error recorded here is referenced by id.
    child_exceptions: Vec<(EntityId, String)>,
}

/// Documents ready to leave, collected under the lock and emitted after it is released, in their boxes (so
/// that the outbox itself is a few words to move). The first is held without a vector: most ends send one
/// document or none.
#[derive(Default)]
pub(crate) struct Outbox {
    first: Option<Box<Document>>,
    // Boxed as the arena holds them, so that no document is moved on its way out.
    #[allow(clippy::vec_box)]
    rest: Vec<Box<Document>>,
}

impl Outbox {
    fn push(&mut self, doc: Box<Document>) {
        if self.first.is_none() {
            self.first = Some(doc);
        } else {
            self.rest.push(doc);
        }
    }

    pub(crate) fn send(self, recorder: &Inner) {
        for doc in self.first.into_iter().chain(self.rest) {
            recorder.emitter.emit(doc);
        }
    }
}

/// The most subsegments one segment records, streamed ones included; more are not recorded, so that a
/// segment that lives for ever cannot grow memory without bound.
pub const MAX_SUBSEGMENTS: usize = 10_000;

/// Why a child could not be added.
pub(crate) enum AddError {
    /// The parent has ended and left the arena, or the segment was already sent.
    ParentGone,
    /// The segment already holds [`MAX_SUBSEGMENTS`] subsegments.
    TooMany,
}

impl Trace {
    pub(crate) fn new(
        recorder: Arc<Inner>,
        trace_id: TraceId,
        origin_data: Vec<(String, String)>,
        segment: Box<Document>,
    ) -> Arc<Self> {
        let mut nodes = Vec::with_capacity(16);
        nodes.push(Node {
            doc: Some(segment),
            parent: None,
            open_children: 0,
            ended: false,
            child_exceptions: Vec::new(),
        });
        Arc::new(Trace {
            recorder,
            trace_id,
            origin_data,
            state: Mutex::new(TraceState {
                nodes,
                live_subsegments: 0,
                done: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TraceState> {
        // A panic while holding this lock cannot leave the arena inconsistent in a way that matters more than
        // losing the trace, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the document of an open node. Returns `None` when the node has ended.
    pub(crate) fn with_open_doc<R>(
        &self,
        node: u32,
        f: impl FnOnce(&mut Document) -> R,
    ) -> Option<R> {
        let mut state = self.lock();
        let n = state.nodes.get_mut(node as usize)?;
        if n.ended {
            return None;
        }
        n.doc.as_deref_mut().map(f)
    }

    /// Runs `f` on the document of an open node together with the exceptions its children recorded, and
    /// tells its parent about the exceptions `f` returns.
    pub(crate) fn with_open_doc_and_child_exceptions(
        &self,
        node: u32,
        f: impl FnOnce(&mut Document, &[(EntityId, String)]) -> Option<(EntityId, String)>,
    ) {
        let mut state = self.lock();
        let Some(n) = state.nodes.get_mut(node as usize) else {
            return;
        };
        if n.ended {
            return;
        }
        let parent = n.parent;
        let Some(doc) = n.doc.as_mut() else { return };
        let recorded = f(doc, &n.child_exceptions);
        if let (Some(recorded), Some(parent)) = (recorded, parent)
            && let Some(p) = state.nodes.get_mut(parent as usize)
            && p.child_exceptions.len() < 16
        {
            p.child_exceptions.push(recorded);
        }
    }

    /// Adds a child node holding `doc` under `parent`, returning its index.
    pub(crate) fn add_child(&self, parent: u32, doc: Box<Document>) -> Result<u32, AddError> {
        let mut state = self.lock();
        if state.done {
            return Err(AddError::ParentGone);
        }
        if state.nodes.len() > MAX_SUBSEGMENTS {
            return Err(AddError::TooMany);
        }
        let index = u32::try_from(state.nodes.len()).map_err(|_| AddError::TooMany)?;
        let p = state
            .nodes
            .get_mut(parent as usize)
            .filter(|p| p.doc.is_some())
            .ok_or(AddError::ParentGone)?;
        p.open_children += 1;
        state.nodes.push(Node {
            doc: Some(doc),
            parent: Some(parent),
            open_children: 0,
            ended: false,
            child_exceptions: Vec::new(),
        });
        state.live_subsegments += 1;
        Ok(index)
    }

    /// Ends a node at `end_time`. Returns false if it had already ended.
    pub(crate) fn end(&self, node: u32, end_time: f64) -> bool {
        let mut outbox = Outbox::default();
        {
            let mut state = self.lock();
            let Some(n) = state.nodes.get_mut(node as usize) else {
                return false;
            };
            if n.ended {
                return false;
            }
            n.ended = true;
            if let Some(doc) = n.doc.as_mut() {
                doc.end_time = Some(end_time.max(doc.start_time));
                doc.in_progress = None;
            }
            let is_subsegment = n.parent.is_some();
            state.settle(node, self.trace_id, &mut outbox);
            if is_subsegment && !state.done {
                let threshold = self.recorder.config.streaming_threshold;
                if state.live_subsegments > threshold {
                    state.stream(self.trace_id, &mut outbox);
                }
            }
        }
        outbox.send(&self.recorder);
        true
    }

    /// The index and id of a node's parent, while the node is open.
    pub(crate) fn parent(&self, node: u32) -> Option<(u32, EntityId)> {
        let state = self.lock();
        let p = state.nodes.get(node as usize)?.parent?;
        let id = state.nodes.get(p as usize)?.doc.as_ref()?.id;
        Some((p, id))
    }

    /// Whether the whole segment has been sent.
    pub(crate) fn is_done(&self) -> bool {
        self.lock().done
    }

    /// A copy of a node's document as it stands, if it is still in the arena.
    pub(crate) fn snapshot(&self, node: u32) -> Option<Document> {
        self.lock()
            .nodes
            .get(node as usize)?
            .doc
            .as_deref()
            .cloned()
    }
}

impl TraceState {
    /// Folds `node` into its parent if it is complete, and so on up the tree; emits the segment when it is.
    fn settle(&mut self, mut node: u32, trace_id: TraceId, outbox: &mut Outbox) {
        loop {
            let n = &mut self.nodes[node as usize];
            if !n.ended || n.open_children > 0 {
                return;
            }
            let Some(doc) = n.doc.take() else {
                return;
            };
            match n.parent {
                None => {
                    self.done = true;
                    outbox.push(doc);
                    return;
                }
                Some(parent) => {
                    let p = &mut self.nodes[parent as usize];
                    p.open_children = p.open_children.saturating_sub(1);
                    match p.doc.as_mut() {
                        Some(parent_doc) => parent_doc.subsegments.push(doc),
                        None => {
                            // The parent left the arena early (it cannot, while a child is open); send the
                            // child on its own rather than lose it.
                            self.live_subsegments =
                                self.live_subsegments.saturating_sub(doc.entity_count());
                            outbox.push(independent(doc, trace_id, None));
                        }
                    }
                    node = parent;
                }
            }
        }
    }

    /// Sends every complete subtree held by an entity that is still in the arena, as independent subsegments.
    fn stream(&mut self, trace_id: TraceId, outbox: &mut Outbox) {
        for i in 0..self.nodes.len() {
            let Some(doc) = self.nodes[i].doc.as_mut() else {
                continue;
            };
            if doc.subsegments.is_empty() {
                continue;
            }
            let parent_id = doc.id;
            for child in std::mem::take(&mut doc.subsegments) {
                self.live_subsegments = self.live_subsegments.saturating_sub(child.entity_count());
                outbox.push(independent(child, trace_id, Some(parent_id)));
            }
        }
    }
}

/// Turns an embedded subsegment into an independent one: `type`, `trace_id` and `parent_id` set.
pub(crate) fn independent(
    mut doc: Box<Document>,
    trace_id: TraceId,
    parent_id: Option<EntityId>,
) -> Box<Document> {
    doc.kind = Some(DocumentType::Subsegment);
    doc.trace_id = Some(trace_id);
    if parent_id.is_some() {
        doc.parent_id = parent_id;
    }
    doc
}
