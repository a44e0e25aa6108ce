//! The tamper-evident audit log of arrears (存证): pure logic, no database and no clock.
//!
//! * [`hash`]: RFC 6962 / RFC 9162 leaf and node hashing over SHA-256.
//! * [`store`] and [`tree`]: complete-subtree hashes in a [`NodeStore`], an appender
//!   ([`MerkleLog`]) and roots and proofs from O(log n) stored hashes.
//! * [`proof`]: inclusion and consistency proof checks, as RFC 9162 writes them.
//! * [`entry`]: one audit entry and its canonical bytes (the Merkle leaves).
//! * [`checkpoint`]: Ed25519-signed tree heads in the C2SP tlog-checkpoint and
//!   signed-note text formats, and the log's signing key.
//! * [`logcheck`]: re-hashing a whole log against checkpoints to find the first bad entry.
//! * [`evidence`]: checking one entry's evidence package end to end.
//!
//! ```
//! use std::collections::BTreeMap;
//! use arrears_audit::{Entry, LogSigner, MemoryStore, MerkleLog, EvidencePackage, verify_log};
//!
//! // Append: encode the entry, hash it, add the leaf (in the same transaction as the row).
//! let mut log = MerkleLog::new(MemoryStore::new());
//! let mut rows = Vec::new();
//! for seq in 0..5 {
//!     let entry = Entry {
//!         seq,
//!         at: "2026-11-05T09:30:00Z".into(),
//!         actor: "u:1".into(),
//!         kind: "case.assigned".into(),
//!         entity_ids: vec![format!("case:{seq}")],
//!         facts: BTreeMap::new(),
//!     };
//!     let bytes = entry.encode()?;
//!     log.append(arrears_audit::leaf_hash(&bytes))?;
//!     rows.push(bytes);
//! }
//!
//! // Sign a checkpoint (the key normally comes from `LogSigner::load_or_generate`).
//! let signer = LogSigner::generate("arrears.example/audit")?;
//! let checkpoint = log.checkpoint("arrears.example/audit", "2026-11-05T10:00:00Z");
//! let note = signer.sign_checkpoint(&checkpoint)?;
//!
//! // `arrears audit verify`: re-hash everything against the checkpoints.
//! let trusted = signer.verifier();
//! let checkpoints = vec![trusted.verify_checkpoint(&note)?];
//! assert!(verify_log(&rows, &checkpoints, Some(log.store())).is_intact());
//!
//! // `arrears audit proof 3`: an evidence package anyone can check with the public key.
//! let entry = Entry::decode(&rows[3])?;
//! let package = EvidencePackage::build(log.store(), &entry, &checkpoint, &note, &trusted)?;
//! assert_eq!(package.verify(&trusted)?.entry.seq, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod entry;
pub mod evidence;
pub mod hash;
pub mod logcheck;
pub mod proof;
pub mod store;
pub mod tree;

pub use checkpoint::{Checkpoint, CheckpointError, KeyError, LogSigner, LogVerifier};
pub use entry::{Entry, EntryError, FactValue, Head};
pub use evidence::{BuildError, EvidenceError, EvidencePackage, VerifiedEvidence, verify_evidence};
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
pub use logcheck::{Cause, Divergence, IntactLog, Location, LogCheck, LogReport, verify_log};
pub use proof::{ProofError, root_from_inclusion_proof, verify_consistency, verify_inclusion};
pub use store::{MemoryStore, NodeId, NodeStore, StoreError};
pub use tree::{MerkleLog, Run, TreeError, consistency_proof, inclusion_proof, root_at, subtree_runs};
