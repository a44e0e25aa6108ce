//! Signed tree heads: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes, Ed25519.
//!
//! A signed checkpoint looks like this (the last line is one line):
//!
//! ```text
//! arrears.example/audit
//! 1234
//! 6aq1dbqI5MFRDAVnRhiT5yq7+MTDQ9RzD2hTMWPHYVY=
//! time 2026-11-05T09:30:00Z
//!
//! — arrears.example/audit Nc3tNQ...base64(key id || signature)...
//! ```
//!
//! Lines one to three are the checkpoint proper (origin, tree size in decimal, root hash
//! in standard base64); the fourth is an extension line that this log always writes,
//! carrying the time the checkpoint was made. The signature is Ed25519 over every byte
//! before the blank line (including the final newline); the key id is the first four
//! bytes of `SHA-256(key name || 0x0A || 0x01 || public key)`. Keys are written as the
//! Go `golang.org/x/mod/sumdb/note` tools write them, so those tools can check our notes.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// The signed-note signature type byte for plain Ed25519.
const ALG_ED25519: u8 = 0x01;
/// What starts every signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Name of the extension line that carries the checkpoint's time.
const TIME_PREFIX: &str = "time ";

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("cannot use the key file {path}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The key text is not in the expected form.
    #[error("{what} is not a valid key: {why}")]
    Format {
        /// Which key: "the signing key" or "the verifier key".
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The key name is not usable in a signed note.
    #[error(
        "the key name {0:?} cannot be used: it must be non-empty and contain no spaces, no '+' and no control characters"
    )]
    BadName(String),
}

/// Why a checkpoint or signed note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note is not in the signed-note form.
    #[error("not a signed note: {0}")]
    Malformed(String),
    /// The checkpoint body does not have the expected lines.
    #[error("not a checkpoint: {0}")]
    BadBody(String),
    /// A signature from the trusted key is present but wrong: the text was changed.
    #[error(
        "the signature by {name} does not match the text: the checkpoint was altered or signed by another key"
    )]
    BadSignature {
        /// Key name on the signature line.
        name: String,
    },
    /// No signature from the trusted key is present.
    #[error("the note carries no signature by the trusted key {expected} (it is signed by: {found})")]
    NotSignedByKey {
        /// The trusted key's name.
        expected: String,
        /// The names found on the signature lines.
        found: String,
    },
    /// The checkpoint is for another log.
    #[error("the checkpoint is for the log {found:?}, not for {expected:?}")]
    WrongOrigin {
        /// The origin the caller trusts.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// A tree head: which log, how many entries, their root, and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, a schema-less URL such as `arrears.example/audit`.
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// Merkle root of those entries.
    pub root: Hash,
    /// When the checkpoint was made, RFC 3339 (given by the caller: this crate reads no clock).
    pub time: String,
}

impl Checkpoint {
    /// The checkpoint text that gets signed: origin, size, base64 root, `time` line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n{}{}\n", self.origin, self.size, B64.encode(self.root), TIME_PREFIX, self.time)
    }

    /// Parses a checkpoint body (the note text, without signatures).
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError::BadBody(why.to_owned());
        let body = text.strip_suffix('\n').ok_or_else(|| bad("the text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the first line (the log's origin) is empty"));
        }
        let size_line = lines.next().ok_or_else(|| bad("the second line (the tree size) is missing"))?;
        let canonical_number = size_line == "0"
            || (!size_line.starts_with('0') && size_line.bytes().all(|b| b.is_ascii_digit()));
        let size = size_line.parse::<u64>().ok().filter(|_| canonical_number).ok_or_else(|| {
            bad(&format!("the tree size {size_line:?} is not a decimal number without leading zeros"))
        })?;
        let root_line = lines.next().ok_or_else(|| bad("the third line (the root hash) is missing"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("the third line is not a base64 SHA-256 root hash"))?;
        let mut time = None;
        for ext in lines {
            if ext.is_empty() {
                return Err(bad("extension lines must not be empty"));
            }
            if let Some(t) = ext.strip_prefix(TIME_PREFIX) {
                time.get_or_insert_with(|| t.to_owned());
            }
        }
        let time = time.ok_or_else(|| bad("the `time` line is missing"))?;
        crate::entry::check_time(&time).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { origin: origin.to_owned(), size, root, time })
    }
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(KeyError::BadName(name.to_owned()));
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The log's Ed25519 signing key and its signed-note name.
pub struct LogSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret, not even in a panic message.
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// A new random key, from the operating system's generator.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        check_name(name)?;
        use rand_core::RngCore as _;
        // What SigningKey::generate does, without tying ed25519-dalek's rand_core to ours.
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut seed);
        Ok(Self::from_signing_key(name, SigningKey::from_bytes(&seed)))
    }

    fn from_signing_key(name: &str, key: SigningKey) -> Self {
        let id = key_id(name, &key.verifying_key());
        Self { name: name.to_owned(), key, id }
    }

    /// Parses `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>`.
    pub fn from_key_string(text: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Format { what: "the signing key", why: why.to_owned() };
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("it does not start with PRIVATE+KEY+"))?;
        let (name, id_hex, material) =
            split_key(rest).ok_or_else(|| bad("it needs the form PRIVATE+KEY+name+id+key"))?;
        check_name(name)?;
        let raw = B64.decode(material).map_err(|_| bad("the key part is not base64"))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => seed.try_into().map_err(|_| bad("an Ed25519 key has 32 bytes"))?,
            _ => return Err(bad("only Ed25519 keys (type 0x01) are supported")),
        };
        let signer = Self::from_signing_key(name, SigningKey::from_bytes(&seed));
        if hex::encode(signer.id) != id_hex {
            return Err(bad("its key id does not match its name and key"));
        }
        Ok(signer)
    }

    /// The secret key text (see [`LogSigner::from_key_string`]); keep it out of logs.
    pub fn to_key_string(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// Reads a key file written by [`LogSigner::load_or_generate`].
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Io { path: path.display().to_string(), source })?;
        Self::from_key_string(&text)
    }

    /// Loads the key file, or creates it (mode 0600 on Unix) with a new key; true if created.
    pub fn load_or_generate(path: &Path, name: &str) -> Result<(Self, bool), KeyError> {
        let io = |source| KeyError::Io { path: path.display().to_string(), source };
        let signer = Self::generate(name)?;
        let mut options = std::fs::OpenOptions::new();
        // create_new: two processes starting at once must not each write a key.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", signer.to_key_string()).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok((signer, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((Self::load(path)?, false)),
            Err(e) => Err(io(e)),
        }
    }

    /// The key name that appears on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, for anyone who checks checkpoints.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier { name: self.name.clone(), key: self.key.verifying_key(), id: self.id }
    }

    /// Signs a note text (which must end in a newline) and returns the whole signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, CheckpointError> {
        check_note_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }

    /// Signs a checkpoint and returns the signed note text.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        if checkpoint.origin.contains('\n') || checkpoint.time.contains('\n') {
            return Err(CheckpointError::BadBody("origin and time must be single lines".into()));
        }
        crate::entry::check_time(&checkpoint.time).map_err(|e| CheckpointError::BadBody(e.to_string()))?;
        self.sign_note(&checkpoint.body())
    }
}

fn split_key(s: &str) -> Option<(&str, &str, &str)> {
    // base64 may itself contain '+', so split only the first two.
    let mut parts = s.splitn(3, '+');
    let name = parts.next()?;
    let id = parts.next()?;
    let material = parts.next()?;
    (id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some((name, id, material))
}

fn check_note_text(text: &str) -> Result<(), CheckpointError> {
    if !text.ends_with('\n') {
        return Err(CheckpointError::Malformed("the text must end with a newline".into()));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CheckpointError::Malformed(
            "the text must not contain control characters other than newline".into(),
        ));
    }
    Ok(())
}

/// A trusted public key that checks signed notes, in the `name+id+base64` verifier-key form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key: VerifyingKey,
    id: [u8; 4],
}

impl fmt::Display for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }
}

impl std::str::FromStr for LogVerifier {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

impl LogVerifier {
    /// Parses `<name>+<key id hex>+<base64(0x01 || 32-byte public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Format { what: "the verifier key", why: why.to_owned() };
        let (name, id_hex, material) =
            split_key(text.trim()).ok_or_else(|| bad("it needs the form name+id+key"))?;
        check_name(name)?;
        let raw = B64.decode(material).map_err(|_| bad("the key part is not base64"))?;
        let public: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, k)) => k.try_into().map_err(|_| bad("an Ed25519 key has 32 bytes"))?,
            _ => return Err(bad("only Ed25519 keys (type 0x01) are supported")),
        };
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 point"))?;
        let id = key_id(name, &key);
        if hex::encode(id) != id_hex {
            return Err(bad("its key id does not match its name and key"));
        }
        Ok(Self { name: name.to_owned(), key, id })
    }

    /// Builds a verifier from a key name and a raw 32-byte Ed25519 public key.
    pub fn from_public_key(name: &str, public: &[u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public).map_err(|_| KeyError::Format {
            what: "the public key",
            why: "not a valid Ed25519 point".into(),
        })?;
        Ok(Self { name: name.to_owned(), id: key_id(name, &key), key })
    }

    /// The key name expected on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw 32-byte public key in standard base64.
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.key.as_bytes())
    }

    /// Checks a signed note and returns its text; signatures by other keys are ignored.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        let malformed = |why: &str| CheckpointError::Malformed(why.to_owned());
        // The text ends at the last blank line; everything after is signatures.
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line separates the text from the signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        check_note_text(text)?;
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or_else(|| malformed("the last signature line must end with a newline"))?;
        let mut found = Vec::new();
        let mut verified = false;
        for line in sigs.split('\n') {
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| malformed("a signature line must start with an em dash and a space"))?;
            let (name, blob) = rest
                .rsplit_once(' ')
                .ok_or_else(|| malformed("a signature line needs a key name and a signature"))?;
            found.push(name.to_owned());
            let blob = B64.decode(blob).map_err(|_| malformed("a signature is not base64"))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.id {
                continue;
            }
            let sig = <[u8; 64]>::try_from(&blob[4..])
                .map(|b| Signature::from_bytes(&b))
                .map_err(|_| CheckpointError::BadSignature { name: name.to_owned() })?;
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| CheckpointError::BadSignature { name: name.to_owned() })?;
            verified = true;
        }
        if !verified {
            return Err(CheckpointError::NotSignedByKey {
                expected: format!("{}+{}", self.name, hex::encode(self.id)),
                found: if found.is_empty() { "nobody".into() } else { found.join(", ") },
            });
        }
        Ok(text)
    }

    /// Checks a signed checkpoint and returns it.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        Checkpoint::parse_body(self.open_note(note)?)
    }

    /// Checks a signed checkpoint and that it belongs to the log named `origin`.
    pub fn verify_checkpoint_for(&self, note: &str, origin: &str) -> Result<Checkpoint, CheckpointError> {
        let cp = self.verify_checkpoint(note)?;
        if cp.origin != origin {
            return Err(CheckpointError::WrongOrigin { expected: origin.to_owned(), found: cp.origin });
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note (package documentation and
    // note_test.go): an independent implementation's keys and signed note.
    const GO_SIGNER: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "arrears.example/audit".into(),
            size: 1234,
            root: crate::hash::leaf_hash(b"root"),
            time: "2026-11-05T09:30:00Z".into(),
        }
    }

    #[test]
    fn matches_the_go_sumdb_note_reference() {
        let signer = LogSigner::from_key_string(GO_SIGNER).unwrap();
        assert_eq!(signer.verifier().to_string(), GO_VERIFIER);
        assert_eq!(signer.to_key_string(), GO_SIGNER);
        assert_eq!(signer.sign_note(GO_TEXT).unwrap(), GO_NOTE);
        let verifier = LogVerifier::parse(GO_VERIFIER).unwrap();
        assert_eq!(verifier.open_note(GO_NOTE).unwrap(), GO_TEXT);
        let altered = GO_NOTE.replace("cryptography", "cryptographY");
        assert!(matches!(verifier.open_note(&altered), Err(CheckpointError::BadSignature { .. })));
    }

    #[test]
    fn checkpoint_round_trip_and_tampering() {
        let signer = LogSigner::generate("arrears.example/audit").unwrap();
        let verifier: LogVerifier = signer.verifier().to_string().parse().unwrap();
        let note = signer.sign_checkpoint(&checkpoint()).unwrap();
        assert!(note.starts_with("arrears.example/audit\n1234\n"));
        assert!(note.contains("\ntime 2026-11-05T09:30:00Z\n\n\u{2014} arrears.example/audit "));
        assert_eq!(verifier.verify_checkpoint(&note).unwrap(), checkpoint());
        assert_eq!(
            verifier.verify_checkpoint_for(&note, "other.example/log").unwrap_err(),
            CheckpointError::WrongOrigin {
                expected: "other.example/log".into(),
                found: "arrears.example/audit".into()
            }
        );

        let bigger = note.replacen("1234", "1235", 1);
        assert!(matches!(verifier.verify_checkpoint(&bigger), Err(CheckpointError::BadSignature { .. })));
        let stranger = LogSigner::generate("arrears.example/audit").unwrap();
        let forged = stranger.sign_checkpoint(&checkpoint()).unwrap();
        assert!(matches!(verifier.verify_checkpoint(&forged), Err(CheckpointError::NotSignedByKey { .. })));
        // A co-signature by another key is ignored, not an error.
        let cosigned = format!("{note}{}", forged.lines().last().unwrap());
        assert_eq!(verifier.verify_checkpoint(&format!("{cosigned}\n")).unwrap(), checkpoint());
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let ok = checkpoint().body();
        assert_eq!(Checkpoint::parse_body(&ok).unwrap(), checkpoint());
        for bad in [
            ok.replacen("1234", "01234", 1),
            ok.replacen("1234", "-1", 1),
            ok.trim_end().to_owned(),
            ok.replacen("time 2026-11-05T09:30:00Z\n", "", 1),
            ok.replacen("2026-11-05T09:30:00Z", "yesterday", 1),
            "\n1\nAA==\n".to_owned(),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn key_file_is_created_once_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("arrears-audit-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.key");
        let _ = std::fs::remove_file(&path);
        let (first, created) = LogSigner::load_or_generate(&path, "arrears.example/audit").unwrap();
        assert!(created);
        let (again, created) = LogSigner::load_or_generate(&path, "arrears.example/audit").unwrap();
        assert!(!created);
        assert_eq!(first.verifier(), again.verifier());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&first.to_key_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_keys_are_explained() {
        assert!(matches!(LogSigner::generate("has space"), Err(KeyError::BadName(_))));
        let wrong_id = GO_VERIFIER.replace("c74f20a3", "c74f20a4");
        let err = LogVerifier::parse(&wrong_id).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the verifier key is not a valid key: its key id does not match its name and key"
        );
        assert_eq!(
            LogVerifier::parse(GO_VERIFIER).unwrap().public_key_base64(),
            "GlzZBxQ8OExB6DDFvOEqqIF+xWSaqr8sMTiLNbLXRNY="
        );
    }
}
