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
pub use entry::{Entry, EntryError, FactValue};
pub use evidence::{BuildError, EvidenceError, EvidencePackage, VerifiedEvidence, verify_evidence};
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
pub use logcheck::{Cause, Divergence, IntactLog, Location, LogReport, verify_log};
pub use proof::{ProofError, root_from_inclusion_proof, verify_consistency, verify_inclusion};
pub use store::{MemoryStore, NodeId, NodeStore, StoreError};
pub use tree::{MerkleLog, TreeError, consistency_proof, inclusion_proof, root_at};
