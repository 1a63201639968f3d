//! An emitter that keeps documents in memory, for tests.

use std::sync::{Arc, Mutex};

use xray_sdk_types::Document;

use super::Emitter;

/// Keeps every emitted document, in order. Clones share the same store.
#[derive(Debug, Clone, Default)]
pub struct MemoryEmitter {
    documents: Arc<Mutex<Vec<Document>>>,
}

impl MemoryEmitter {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every document emitted so far.
    pub fn documents(&self) -> Vec<Document> {
        self.documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes every document emitted so far, leaving the store empty.
    pub fn take(&self) -> Vec<Document> {
        std::mem::take(&mut *self.documents.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Emitter for MemoryEmitter {
    fn emit(&self, document: Box<Document>) {
        self.documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(*document);
    }
}
