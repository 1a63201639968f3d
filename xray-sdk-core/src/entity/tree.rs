//! One sampled segment's tree: an arena of nodes under one lock.
//!
//! A subsegment's document lives in its node while it is open. When it has ended and all its children have
//! been folded into it, it is moved into its parent's `subsegments` and its node is free for the next
//! subsegment. When the segment itself has ended and nothing below it is open, the whole tree is complete and
//! is emitted once. Between those moments, when the segment holds more subsegments than the streaming
//! threshold, complete subtrees held by open entities are sent ahead as independent subsegments.
//!
//! Nodes are addressed by index and checked by entity id, so that a handle to an entity whose node was freed
//! and reused finds nothing rather than another entity.

use std::sync::{Arc, Mutex, MutexGuard};

use xray_sdk_types::document::DocumentType;
use xray_sdk_types::{Document, EntityId, TraceId};

use super::pipeline::Pipeline;

/// The most subsegments one segment holds in memory at once (ended ones waiting for their parent included);
/// more are not recorded until some have been sent, so that a segment that lives for ever cannot grow memory
/// without bound. With streaming (the default), subsegments leave as they complete and a long-running segment
/// records any number of them.
pub const MAX_SUBSEGMENTS: usize = 10_000;

/// An exception recorded on a subsegment, as its parent sees it: the exception's id and the fingerprint of its
/// error chain, so that the same error propagating to the parent is referred to by id rather than recorded
/// twice.
pub(crate) type ChildException = (EntityId, super::exception::Fingerprint);

/// One sampled segment's tree.
pub(crate) struct SegmentTree {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) trace_id: TraceId,
    /// The incoming trace header's fields other than Root, Parent and Sampled (such as `Lineage`), forwarded
    /// downstream unchanged.
    pub(crate) forwarded: Vec<(String, String)>,
    state: Mutex<TreeState>,
}

struct TreeState {
    nodes: Vec<Node>,
    /// Indexes of nodes whose document has been taken, for new subsegments to reuse.
    free: Vec<u32>,
    /// Nodes whose document holds complete subsegments, the candidates for streaming.
    holders: Vec<u32>,
    /// Subsegments in the tree and not yet sent: the figure compared with the streaming threshold and the limit.
    live_subsegments: usize,
    /// The segment has been emitted; nothing more is recorded.
    done: bool,
    /// The root is a facade (see `Entity::facade`): never sent nor written to; each child of the root leaves
    /// as an independent subsegment as soon as it is complete.
    facade: bool,
}

struct Node {
    id: EntityId,
    /// The document, until it is folded into its parent or sent. Boxed, so that the arena moves pointers.
    doc: Option<Box<Document>>,
    parent: Option<u32>,
    /// Children not yet folded into this node.
    open_children: u32,
    ended: bool,
    /// Whether the node is listed in `holders`.
    holding: bool,
    /// Exceptions recorded on children.
    child_exceptions: Vec<ChildException>,
}

impl Node {
    fn new(doc: Box<Document>, parent: Option<u32>) -> Self {
        Node {
            id: doc.id,
            doc: Some(doc),
            parent,
            open_children: 0,
            ended: false,
            holding: false,
            child_exceptions: Vec::new(),
        }
    }
}

/// Documents ready to leave, collected under the lock and emitted after it is released. The emitter takes
/// documents in the boxes the tree holds them in.
#[derive(Default)]
#[allow(clippy::vec_box)]
struct Outbox(Vec<Box<Document>>);

/// Why a child could not be added.
pub(crate) enum AddError {
    /// The parent has ended and left the arena, or the segment was already sent.
    ParentGone,
    /// The segment already holds [`MAX_SUBSEGMENTS`] subsegments.
    TooMany,
}

impl SegmentTree {
    pub(crate) fn new(
        pipeline: Arc<Pipeline>,
        trace_id: TraceId,
        forwarded: Vec<(String, String)>,
        segment: Box<Document>,
    ) -> Arc<Self> {
        let mut nodes = Vec::with_capacity(16);
        nodes.push(Node::new(segment, None));
        Arc::new(SegmentTree {
            pipeline,
            trace_id,
            forwarded,
            state: Mutex::new(TreeState {
                nodes,
                free: Vec::new(),
                holders: Vec::new(),
                live_subsegments: 0,
                done: false,
                facade: false,
            }),
        })
    }

    /// A tree whose root is a facade: `segment` is never sent, and the root's children leave one by one.
    pub(crate) fn facade(
        pipeline: Arc<Pipeline>,
        trace_id: TraceId,
        forwarded: Vec<(String, String)>,
        segment: Box<Document>,
    ) -> Arc<Self> {
        let tree = SegmentTree::new(pipeline, trace_id, forwarded, segment);
        tree.lock().facade = true;
        tree
    }

    fn lock(&self) -> MutexGuard<'_, TreeState> {
        // A panic while holding this lock cannot leave the arena inconsistent in a way that matters more than
        // losing the trace, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the document of an open node. Returns `None` when the node has ended.
    pub(crate) fn with_open_doc<R>(
        &self,
        node: u32,
        id: EntityId,
        f: impl FnOnce(&mut Document) -> R,
    ) -> Option<R> {
        let mut state = self.lock();
        if state.facade && node == 0 {
            return None;
        }
        let n = state.node_mut(node, id)?;
        if n.ended {
            return None;
        }
        n.doc.as_deref_mut().map(f)
    }

    /// Runs `f` on the document of an open node together with the exceptions its children recorded, and
    /// tells its parent about the exception `f` returns.
    pub(crate) fn with_open_doc_and_child_exceptions(
        &self,
        node: u32,
        id: EntityId,
        f: impl FnOnce(&mut Document, &[ChildException]) -> Option<ChildException>,
    ) {
        let mut state = self.lock();
        if state.facade && node == 0 {
            return;
        }
        let Some(n) = state.node_mut(node, id) else {
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
    pub(crate) fn add_child(
        &self,
        parent: u32,
        parent_id: EntityId,
        doc: Box<Document>,
    ) -> Result<u32, AddError> {
        let mut state = self.lock();
        if state.done {
            return Err(AddError::ParentGone);
        }
        if state.live_subsegments >= MAX_SUBSEGMENTS {
            return Err(AddError::TooMany);
        }
        let p = state
            .node_mut(parent, parent_id)
            .filter(|p| p.doc.is_some())
            .ok_or(AddError::ParentGone)?;
        p.open_children += 1;
        let node = Node::new(doc, Some(parent));
        let index = match state.free.pop() {
            Some(index) => {
                state.nodes[index as usize] = node;
                index
            }
            None => {
                let index = u32::try_from(state.nodes.len()).map_err(|_| AddError::TooMany)?;
                state.nodes.push(node);
                index
            }
        };
        state.live_subsegments += 1;
        Ok(index)
    }

    /// Ends a node at `end_time`. Returns false if it had already ended.
    pub(crate) fn end(&self, node: u32, id: EntityId, end_time: f64) -> bool {
        let mut outbox = Outbox::default();
        {
            let mut state = self.lock();
            let Some(n) = state.node_mut(node, id) else {
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
            if is_subsegment
                && !state.done
                && state.live_subsegments > self.pipeline.limits.streaming_threshold
            {
                state.stream(self.trace_id, &mut outbox);
            }
        }
        for doc in outbox.0 {
            self.pipeline.emitter.emit(doc);
        }
        true
    }

    /// The index and id of a node's parent, while the node is in the arena.
    pub(crate) fn parent(&self, node: u32, id: EntityId) -> Option<(u32, EntityId)> {
        let mut state = self.lock();
        let p = state.node_mut(node, id)?.parent?;
        let parent = state.nodes.get(p as usize)?;
        Some((p, parent.id))
    }

    /// The node itself if it is open, else its nearest ancestor that is; `None` once the segment is sent (or the
    /// node is gone).
    pub(crate) fn open_self_or_ancestor(&self, node: u32, id: EntityId) -> Option<(u32, EntityId)> {
        let mut state = self.lock();
        if state.done {
            return None;
        }
        let mut at = state.node_mut(node, id).map(|_| node)?;
        loop {
            let n = state.nodes.get(at as usize)?;
            if !n.ended {
                return Some((at, n.id));
            }
            at = n.parent?;
        }
    }

    /// Whether a node has ended (or left the arena).
    pub(crate) fn has_ended(&self, node: u32, id: EntityId) -> bool {
        let mut state = self.lock();
        state.node_mut(node, id).is_none_or(|n| n.ended)
    }

    /// Whether the whole segment has been sent.
    pub(crate) fn is_done(&self) -> bool {
        self.lock().done
    }

    /// A copy of a node's document as it stands, if it is still in the arena.
    pub(crate) fn snapshot(&self, node: u32, id: EntityId) -> Option<Document> {
        self.lock().node_mut(node, id)?.doc.as_deref().cloned()
    }
}

impl TreeState {
    /// The node at `index` if it still holds the entity `id`.
    fn node_mut(&mut self, index: u32, id: EntityId) -> Option<&mut Node> {
        self.nodes
            .get_mut(index as usize)
            .filter(|n| n.id == id && (n.doc.is_some() || index == 0))
    }

    /// Folds `node` into its parent if it is complete, and so on up the tree; emits the segment when it is.
    fn settle(&mut self, mut node: u32, trace_id: TraceId, outbox: &mut Outbox) {
        loop {
            let n = &mut self.nodes[node as usize];
            if !n.ended || n.open_children > 0 {
                return;
            }
            if self.facade && n.parent.is_none() {
                // The facade itself is never sent.
                return;
            }
            let Some(doc) = n.doc.take() else {
                return;
            };
            if self.facade && n.parent == Some(0) {
                // A complete child of the facade leaves on its own, with the facade's id as its parent.
                n.child_exceptions = Vec::new();
                self.free.push(node);
                let root = &mut self.nodes[0];
                root.open_children = root.open_children.saturating_sub(1);
                let parent_id = root.id;
                self.live_subsegments = self.live_subsegments.saturating_sub(doc.entity_count());
                outbox.0.push(independent(doc, trace_id, Some(parent_id)));
                return;
            }
            let Some(parent) = n.parent else {
                self.done = true;
                outbox.0.push(doc);
                return;
            };
            n.child_exceptions = Vec::new();
            self.free.push(node);
            let p = &mut self.nodes[parent as usize];
            p.open_children = p.open_children.saturating_sub(1);
            match p.doc.as_mut() {
                Some(parent_doc) => {
                    parent_doc.subsegments.push(doc);
                    if !p.holding {
                        p.holding = true;
                        self.holders.push(parent);
                    }
                }
                None => {
                    // The parent left the arena early (it cannot, while a child is open); send the child on its
                    // own rather than lose it.
                    self.live_subsegments =
                        self.live_subsegments.saturating_sub(doc.entity_count());
                    outbox.0.push(independent(doc, trace_id, None));
                }
            }
            node = parent;
        }
    }

    /// Sends every complete subtree held by an entity that is still in the arena, as independent subsegments.
    /// Only the nodes that received a subtree since the last time are visited.
    fn stream(&mut self, trace_id: TraceId, outbox: &mut Outbox) {
        for holder in std::mem::take(&mut self.holders) {
            let Some(n) = self.nodes.get_mut(holder as usize) else {
                continue;
            };
            n.holding = false;
            let Some(doc) = n.doc.as_mut() else {
                continue;
            };
            let parent_id = doc.id;
            for child in std::mem::take(&mut doc.subsegments) {
                self.live_subsegments = self.live_subsegments.saturating_sub(child.entity_count());
                outbox.0.push(independent(child, trace_id, Some(parent_id)));
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
