//! Evidence that one entry is in the log: the entry, its inclusion proof and a signed checkpoint.
//!
//! An [`EvidencePackage`] is plain data (JSON via serde) so the CLI can put it in a zip
//! with a README; [`verify_evidence`] is what a court expert or the borrower's lawyer
//! would run, given the log's public key obtained separately from the package.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointError, LogVerifier};
use crate::entry::{Entry, EntryError};
use crate::hash::{Hash, from_hex, leaf_hash, to_hex};
use crate::proof::{ProofError, verify_inclusion};
use crate::store::NodeStore;
use crate::tree::{TreeError, inclusion_proof};

/// Why evidence does not hold.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The checkpoint's signature or format is wrong.
    #[error("the checkpoint cannot be trusted")]
    Checkpoint(#[from] CheckpointError),
    /// The entry bytes are not a canonical entry.
    #[error("the entry cannot be read")]
    Entry(#[from] EntryError),
    /// The entry says it is at another position than the proof.
    #[error("the entry says it is number {seq}, but the proof is for position {index}")]
    WrongPosition {
        /// `seq` inside the entry.
        seq: u64,
        /// The index the proof is for.
        index: u64,
    },
    /// The checkpoint was signed before the entry was written.
    #[error("entry {index} is not covered by the checkpoint, which covers {size} entries")]
    NotCovered {
        /// The entry's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The proof does not connect the entry to the signed root.
    #[error("the entry is not part of the signed log")]
    Proof(#[from] ProofError),
    /// A proof hash in the package is not 64 hex digits.
    #[error("proof hash {position} is not 64 hex digits")]
    BadHash {
        /// Its position in the proof, from 0.
        position: usize,
    },
    /// The package says it is for a tree size other than its checkpoint's.
    #[error("the package says the tree has {claimed} entries, its checkpoint says {signed}")]
    SizeMismatch {
        /// Size written in the package.
        claimed: u64,
        /// Size in the signed checkpoint.
        signed: u64,
    },
}

/// What verified evidence establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvidence {
    /// The entry, decoded.
    pub entry: Entry,
    /// The signed checkpoint whose root includes it.
    pub checkpoint: Checkpoint,
}

/// Checks that `entry_bytes` is entry `index` of the log whose checkpoint `checkpoint_note`
/// is signed by `key`, using the inclusion `proof` against that checkpoint's size.
pub fn verify_evidence(
    entry_bytes: &[u8],
    index: u64,
    proof: &[Hash],
    checkpoint_note: &str,
    key: &LogVerifier,
) -> Result<VerifiedEvidence, EvidenceError> {
    let checkpoint = key.verify_checkpoint(checkpoint_note)?;
    let entry = Entry::decode(entry_bytes)?;
    if entry.seq != index {
        return Err(EvidenceError::WrongPosition { seq: entry.seq, index });
    }
    if index >= checkpoint.size {
        return Err(EvidenceError::NotCovered { index, size: checkpoint.size });
    }
    verify_inclusion(index, checkpoint.size, &leaf_hash(entry_bytes), proof, &checkpoint.root)?;
    Ok(VerifiedEvidence { entry, checkpoint })
}

/// The portable form of one entry's evidence (serialise it with serde, e.g. to JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidencePackage {
    /// The entry's canonical bytes (canonical JSON, so valid UTF-8).
    pub entry: String,
    /// The entry's position in the log.
    pub leaf_index: u64,
    /// The tree size the proof is for; equals the checkpoint's size.
    pub tree_size: u64,
    /// The inclusion proof, lower-case hex hashes from the leaf upwards.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint, as the signed-note text.
    pub checkpoint: String,
    /// The log's verifier key, for reference only: check it against a copy obtained elsewhere.
    pub verifier_key: String,
}

impl EvidencePackage {
    /// Assembles a package from the store, for a checkpoint already signed.
    pub fn build<S: NodeStore + ?Sized>(
        store: &S,
        entry: &Entry,
        checkpoint: &Checkpoint,
        checkpoint_note: &str,
        key: &LogVerifier,
    ) -> Result<Self, BuildError> {
        let bytes = entry.encode()?;
        let proof = inclusion_proof(store, entry.seq, checkpoint.size)?;
        Ok(Self {
            entry: String::from_utf8(bytes).expect("canonical JSON is UTF-8"),
            leaf_index: entry.seq,
            tree_size: checkpoint.size,
            inclusion_proof: proof.iter().map(to_hex).collect(),
            checkpoint: checkpoint_note.to_owned(),
            verifier_key: key.to_string(),
        })
    }

    /// Verifies the package against a trusted key (not the one inside the package).
    pub fn verify(&self, trusted: &LogVerifier) -> Result<VerifiedEvidence, EvidenceError> {
        let proof = self
            .inclusion_proof
            .iter()
            .enumerate()
            .map(|(position, h)| from_hex(h).ok_or(EvidenceError::BadHash { position }))
            .collect::<Result<Vec<_>, _>>()?;
        let verified =
            verify_evidence(self.entry.as_bytes(), self.leaf_index, &proof, &self.checkpoint, trusted)?;
        if verified.checkpoint.size != self.tree_size {
            return Err(EvidenceError::SizeMismatch {
                claimed: self.tree_size,
                signed: verified.checkpoint.size,
            });
        }
        Ok(verified)
    }
}

/// Why a package could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The entry cannot be encoded.
    #[error("the entry cannot be encoded")]
    Entry(#[from] EntryError),
    /// The proof cannot be produced.
    #[error("the inclusion proof cannot be produced")]
    Tree(#[from] TreeError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::LogSigner;
    use crate::store::MemoryStore;
    use crate::tree::MerkleLog;
    use std::collections::BTreeMap;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            at: "2026-11-05T09:30:00Z".into(),
            actor: "u:1".into(),
            kind: "payment.recorded".into(),
            entity_ids: vec![format!("case:{seq}")],
            facts: BTreeMap::from([("amount_minor".into(), serde_json::json!(100 * seq))]),
        }
    }

    fn setup() -> (MerkleLog<MemoryStore>, LogSigner, Checkpoint, String) {
        let mut log = MerkleLog::new(MemoryStore::new());
        for seq in 0..13 {
            log.append(entry(seq).leaf_hash().unwrap()).unwrap();
        }
        let signer = LogSigner::generate("arrears.test/audit").unwrap();
        let cp = Checkpoint {
            origin: "arrears.test/audit".into(),
            size: 13,
            root: log.root(),
            time: "2026-11-05T10:00:00Z".into(),
        };
        let note = signer.sign_checkpoint(&cp).unwrap();
        (log, signer, cp, note)
    }

    #[test]
    fn a_package_verifies_and_survives_json() {
        let (log, signer, cp, note) = setup();
        let pkg = EvidencePackage::build(log.store(), &entry(7), &cp, &note, &signer.verifier()).unwrap();
        let json = serde_json::to_string_pretty(&pkg).unwrap();
        let back: EvidencePackage = serde_json::from_str(&json).unwrap();
        let verified = back.verify(&signer.verifier()).unwrap();
        assert_eq!(verified.entry, entry(7));
        assert_eq!(verified.checkpoint, cp);
    }

    #[test]
    fn every_kind_of_forgery_is_refused() {
        let (log, signer, cp, note) = setup();
        let key = signer.verifier();
        let pkg = EvidencePackage::build(log.store(), &entry(7), &cp, &note, &key).unwrap();

        let mut p = pkg.clone();
        p.entry = p.entry.replace("700", "7000");
        assert!(matches!(p.verify(&key), Err(EvidenceError::Proof(_))));

        let mut p = pkg.clone();
        p.leaf_index = 8;
        assert!(matches!(p.verify(&key), Err(EvidenceError::WrongPosition { seq: 7, index: 8 })));

        let mut p = pkg.clone();
        p.entry = String::from_utf8(entry(8).encode().unwrap()).unwrap();
        p.leaf_index = 8;
        assert!(matches!(p.verify(&key), Err(EvidenceError::Proof(_))));

        let other = LogSigner::generate("arrears.test/audit").unwrap();
        assert!(matches!(
            pkg.verify(&other.verifier()),
            Err(EvidenceError::Checkpoint(CheckpointError::NotSignedByKey { .. }))
        ));

        let mut p = pkg.clone();
        p.tree_size = 12;
        assert!(matches!(p.verify(&key), Err(EvidenceError::SizeMismatch { .. })));

        let mut p = pkg.clone();
        p.inclusion_proof[0] = "xyz".into();
        assert!(matches!(p.verify(&key), Err(EvidenceError::BadHash { position: 0 })));

        let e13 = entry(13);
        let err = verify_evidence(&e13.encode().unwrap(), 13, &[], &note, &key).unwrap_err();
        assert_eq!(err.to_string(), "entry 13 is not covered by the checkpoint, which covers 13 entries");
    }
}
