//! Personal data at rest: national ID numbers, phone numbers and e-mail addresses of
//! borrowers and contacts are stored sealed with AES-256-GCM, and beside them a keyed
//! blind index (HMAC-SHA256 of the normalised value) for equality look-ups.
//!
//! A sealed value is `v1:<key id>:<base64 of nonce || ciphertext || tag>`, with a random
//! 96-bit nonce per value and the column's name as associated data (a value copied into
//! another column does not open). The key id names the keyring key that sealed it, so the
//! keyring can hold old keys while `rekey` moves every value to the current one. Empty
//! values stay empty. Text without the `v1:` prefix is plaintext from before sealing
//! began (migration 0006); it is read as it is until `rekey` seals it.
//!
//! The keyring is a text file, one key a line, never stored in the database:
//!
//! ```text
//! # arrears data keys: keep secret, back up, never commit
//! index <base64 of 32 bytes>      the blind-index key
//! key <base64 of 32 bytes>        a data key; the last one seals new values
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit as _, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::Db;

/// Bytes of a data or index key.
const KEY_LEN: usize = 32;
/// Bytes of a GCM nonce.
const NONCE_LEN: usize = 12;
/// Bytes of the blind index kept (128 bits: collisions are not a concern at any book size).
const BLIND_LEN: usize = 16;
/// Prefix of every sealed value of this format.
const VERSION: &str = "v1";

/// Environment variable naming a keyring file (same as `--data-key`).
pub const KEY_FILE_ENV: &str = "ARREARS_DATA_KEY_FILE";
/// Environment variable holding one base64 key from which both keys are derived.
pub const KEY_ENV: &str = "ARREARS_DATA_KEY";

/// A sealed column of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Identity document number (身份证号码 and the like).
    NationalId,
    /// Phone number.
    Phone,
    /// E-mail address.
    Email,
}

impl Field {
    /// The column's name, also the associated data of its sealed values.
    pub fn column(self) -> &'static str {
        match self {
            Field::NationalId => "national_id",
            Field::Phone => "phone",
            Field::Email => "email",
        }
    }

    /// The normal form its blind index is computed over.
    pub fn normalise(self, value: &str) -> String {
        use arrears_core::personal as p;
        match self {
            Field::NationalId => p::normalise_national_id(value),
            Field::Phone => p::normalise_phone(value),
            Field::Email => p::normalise_email(value),
        }
    }
}

/// What went wrong with keys or sealed values. Messages never contain personal data.
#[derive(Debug, thiserror::Error)]
pub enum PersonalError {
    /// The keyring file could not be read or written.
    #[error("keyring {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The keyring file or key text is not well formed.
    #[error("keyring {source_name}: {detail}")]
    BadKeyring {
        /// Where the keys came from.
        source_name: String,
        /// What is wrong, with its line.
        detail: String,
    },
    /// A value was sealed under a key this keyring does not hold.
    #[error(
        "{what} is sealed under data key {key_id}, which the keyring {source_name} does not hold \
         (wrong --data-key / ARREARS_DATA_KEY_FILE / ARREARS_DATA_KEY?)"
    )]
    UnknownKey {
        /// Which value, by table, column and row id.
        what: String,
        /// The key id it names.
        key_id: String,
        /// Where the keys came from.
        source_name: String,
    },
    /// The key named by the value does not open it: a different key with a clashing id,
    /// or damaged data.
    #[error("{what} does not open with data key {key_id} of {source_name}: wrong key or damaged data")]
    WrongKey {
        /// Which value.
        what: String,
        /// The key id.
        key_id: String,
        /// Where the keys came from.
        source_name: String,
    },
    /// Text that starts like a sealed value but is not one.
    #[error("{what} is not a well-formed sealed value ({detail})")]
    Malformed {
        /// Which value.
        what: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// Sealing failed (only for absurdly long values).
    #[error("cannot seal {0}")]
    Seal(&'static str),
}

/// One data key.
#[derive(Clone)]
struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The keys that seal and open personal data, and the blind-index key.
#[derive(Clone)]
pub struct Keyring {
    /// Data keys; the last seals new values.
    keys: Vec<DataKey>,
    /// HMAC keyed with the index key, cloned for each value.
    index: Hmac<Sha256>,
    /// Where the keys came from, for messages.
    source: String,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the keys themselves.
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("source", &self.source).field("key_ids", &ids).finish()
    }
}

/// A key's id: the first 8 hex digits of a hash of it, so that the same key has the same id
/// wherever it is loaded from and a wrong key is named as such.
fn key_id(key: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::new().chain_update(b"arrears data key id\0").chain_update(key).finalize();
    hex(&digest[..4])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn random_key() -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut k);
    k
}

/// HMAC-SHA256 of `label` under `master`: two independent keys from one.
fn derive(master: &[u8], label: &[u8]) -> [u8; KEY_LEN] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Keyring {
    fn new(data_keys: &[[u8; KEY_LEN]], index_key: &[u8; KEY_LEN], source: String) -> Keyring {
        let keys = data_keys
            .iter()
            .map(|k| DataKey {
                id: key_id(k),
                cipher: Aes256Gcm::new_from_slice(k).expect("a 32-byte key is an AES-256 key"),
            })
            .collect();
        let index = <Hmac<Sha256>>::new_from_slice(index_key).expect("HMAC takes keys of any length");
        Keyring { keys, index, source }
    }

    /// A keyring of fresh random keys that lives only in memory (tests, throw-away books).
    pub fn ephemeral() -> Keyring {
        Keyring::new(&[random_key()], &random_key(), "(in memory)".into())
    }

    /// Both keys derived from one base64 master key of 32 bytes (`ARREARS_DATA_KEY`).
    pub fn from_base64(text: &str, source_name: &str) -> Result<Keyring, PersonalError> {
        let bad = |detail: String| PersonalError::BadKeyring { source_name: source_name.into(), detail };
        let raw = B64.decode(text.trim()).map_err(|e| bad(format!("not base64: {e}")))?;
        if raw.len() != KEY_LEN {
            return Err(bad(format!("the key is {} bytes; it must be {KEY_LEN}", raw.len())));
        }
        let data = derive(&raw, b"arrears data key v1");
        let index = derive(&raw, b"arrears blind index key v1");
        Ok(Keyring::new(&[data], &index, source_name.into()))
    }

    /// Parses keyring text (see the module documentation).
    pub fn parse(text: &str, source_name: &str) -> Result<Keyring, PersonalError> {
        let bad = |line: usize, detail: String| PersonalError::BadKeyring {
            source_name: source_name.into(),
            detail: format!("line {line}: {detail}"),
        };
        let (mut data, mut index) = (Vec::new(), None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kind, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let raw = B64.decode(value.trim()).map_err(|e| bad(n + 1, format!("not base64: {e}")))?;
            let key: [u8; KEY_LEN] = raw
                .as_slice()
                .try_into()
                .map_err(|_| bad(n + 1, format!("the key is {} bytes; it must be {KEY_LEN}", raw.len())))?;
            match kind {
                "key" => data.push(key),
                "index" if index.is_none() => index = Some(key),
                "index" => return Err(bad(n + 1, "a second index key (there is one)".into())),
                other => return Err(bad(n + 1, format!("{other:?}: expected `key` or `index`"))),
            }
        }
        let bad = |detail: &str| PersonalError::BadKeyring {
            source_name: source_name.into(),
            detail: detail.into(),
        };
        let index = index.ok_or_else(|| bad("no `index` line"))?;
        if data.is_empty() {
            return Err(bad("no `key` line"));
        }
        Ok(Keyring::new(&data, &index, source_name.into()))
    }

    /// Reads a keyring file, which must exist.
    pub fn from_file(path: &Path) -> Result<Keyring, PersonalError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PersonalError::Io { path: path.into(), source })?;
        Keyring::parse(&text, &path.display().to_string())
    }

    /// Reads the keyring file at `path`, first creating it (mode 0600, fresh keys) if missing.
    pub fn open_or_create(path: &Path) -> Result<Keyring, PersonalError> {
        if !path.exists() {
            let text = format!(
                "# arrears data keys: keep secret, back up, never commit. Without this file the\n\
                 # ID numbers, phones and e-mails in the database cannot be read.\n\
                 index {}\nkey {}\n",
                B64.encode(random_key()),
                B64.encode(random_key())
            );
            write_new(path, &text)?;
        }
        Keyring::from_file(path)
    }

    /// Adds a fresh data key to the keyring file at `path` (created if missing) and makes it
    /// the current one; returns its id. Old keys stay so that old values still open.
    pub fn add_key_to_file(path: &Path) -> Result<String, PersonalError> {
        let io = |source| PersonalError::Io { path: path.into(), source };
        if !path.exists() {
            Keyring::open_or_create(path)?;
        }
        let mut text = std::fs::read_to_string(path).map_err(io)?;
        Keyring::parse(&text, &path.display().to_string())?;
        let key = random_key();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("key {}\n", B64.encode(key)));
        // A new file beside the old, renamed over it: a crash leaves one or the other whole.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &text, true)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(key_id(&key))
    }

    /// The keys for `db`: `explicit` (`--data-key`) if given, else `ARREARS_DATA_KEY_FILE`,
    /// else `ARREARS_DATA_KEY`, else the default keyring file of [`default_path`], created on
    /// first use.
    pub fn resolve(db: &Db, explicit: Option<&Path>) -> Result<Keyring, PersonalError> {
        if let Some(p) = explicit {
            return Keyring::from_file(p);
        }
        if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
            return Keyring::from_file(Path::new(&p));
        }
        if let Ok(k) = std::env::var(KEY_ENV)
            && !k.trim().is_empty()
        {
            return Keyring::from_base64(&k, KEY_ENV);
        }
        Keyring::open_or_create(&default_path(db))
    }

    /// Id of the key that seals new values.
    pub fn current_id(&self) -> &str {
        &self.keys.last().expect("a keyring has at least one data key").id
    }

    /// Where the keys came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Seals `plain` for `field` under the current key; empty stays empty.
    pub fn seal(&self, field: Field, plain: &str) -> Result<String, PersonalError> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        let key = self.keys.last().expect("a keyring has at least one data key");
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plain.as_bytes(), aad: field.column().as_bytes() })
            .map_err(|_| PersonalError::Seal(field.column()))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        let mut out = String::with_capacity(4 + key.id.len() + blob.len() * 4 / 3 + 4);
        out.push_str(VERSION);
        out.push(':');
        out.push_str(&key.id);
        out.push(':');
        B64.encode_string(&blob, &mut out);
        Ok(out)
    }

    /// Opens a stored value of `field`; `what` names it in errors (table, column, row id).
    /// Empty gives empty; plaintext from before sealing is returned as it is.
    pub fn open(
        &self,
        field: Field,
        stored: &str,
        what: &dyn Fn() -> String,
    ) -> Result<String, PersonalError> {
        let Some(rest) = stored.strip_prefix("v1:") else { return Ok(stored.to_string()) };
        let malformed = |detail| PersonalError::Malformed { what: what(), detail };
        let (id, b64) = rest.split_once(':').ok_or_else(|| malformed("no key id"))?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| PersonalError::UnknownKey {
            what: what(),
            key_id: id.into(),
            source_name: self.source.clone(),
        })?;
        let blob = B64.decode(b64).map_err(|_| malformed("not base64"))?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(malformed("too short"));
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| malformed("too short"))?;
        let plain = key
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: field.column().as_bytes() })
            .map_err(|_| PersonalError::WrongKey {
                what: what(),
                key_id: id.into(),
                source_name: self.source.clone(),
            })?;
        String::from_utf8(plain).map_err(|_| malformed("not UTF-8 inside"))
    }

    /// Whether `stored` is empty or sealed under the current key (nothing for `rekey` to do).
    pub fn is_current(&self, stored: &str) -> bool {
        stored.is_empty()
            || stored
                .strip_prefix("v1:")
                .and_then(|r| r.split_once(':'))
                .is_some_and(|(id, _)| id == self.current_id())
    }

    /// The blind index of `value` as `field`: hex of a keyed hash of its normal form; empty
    /// for a value that normalises to nothing.
    pub fn blind(&self, field: Field, value: &str) -> String {
        let norm = field.normalise(value);
        if norm.is_empty() {
            return String::new();
        }
        let mut mac = self.index.clone();
        mac.update(field.column().as_bytes());
        mac.update(&[0x1f]);
        mac.update(norm.as_bytes());
        hex(&mac.finalize().into_bytes()[..BLIND_LEN])
    }
}

/// The default keyring file of a database: beside a SQLite file (`book.db` → `book.keys`),
/// `arrears.keys` in the working directory for PostgreSQL or an in-memory SQLite.
pub fn default_path(db: &Db) -> PathBuf {
    if let Db::Sqlite(p) = db {
        let file = p.connect_options().get_filename().to_path_buf();
        if file.file_name().is_some_and(|n| n != ":memory:") && !file.as_os_str().is_empty() {
            return file.with_extension("keys");
        }
    }
    PathBuf::from("arrears.keys")
}

/// Writes a new file that only its owner can read, failing if it exists.
fn write_private(path: &Path, text: &str, create_new: bool) -> Result<(), PersonalError> {
    let io = |source| PersonalError::Io { path: path.into(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if create_new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Creates `path` with `text` unless another process got there first, in which case its
/// file is kept: the text goes to a private temporary file that is then linked into place,
/// so nobody ever reads a half-written keyring.
fn write_new(path: &Path, text: &str) -> Result<(), PersonalError> {
    let io = |source| PersonalError::Io { path: path.into(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("new{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, text, true)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what() -> String {
        "borrowers.phone of B1".into()
    }

    #[test]
    fn seal_then_open_round_trips_with_a_fresh_nonce_each_time() {
        let k = Keyring::ephemeral();
        for (field, plain) in [
            (Field::NationalId, "110101199003071234"),
            (Field::Phone, "13812345678"),
            (Field::Email, "张三@例子.中国"),
            (Field::Phone, ""),
        ] {
            let a = k.seal(field, plain).unwrap();
            let b = k.seal(field, plain).unwrap();
            if !plain.is_empty() {
                assert_ne!(a, b, "two seals of the same value differ");
                assert!(a.starts_with(&format!("v1:{}:", k.current_id())), "{a}");
                assert!(!a.contains(plain));
            }
            assert_eq!(k.open(field, &a, &what).unwrap(), plain);
            assert_eq!(k.open(field, &b, &what).unwrap(), plain);
        }
    }

    #[test]
    fn wrong_key_column_or_damage_is_an_error_not_garbage() {
        let k = Keyring::ephemeral();
        let other = Keyring::ephemeral();
        let sealed = k.seal(Field::Phone, "13812345678").unwrap();
        let err = other.open(Field::Phone, &sealed, &what).unwrap_err();
        assert!(matches!(err, PersonalError::UnknownKey { .. }), "{err}");
        assert!(err.to_string().contains("borrowers.phone of B1"), "{err}");
        assert!(!err.to_string().contains("13812345678"));
        // The same id with another key (a forged or clashing id): authentication fails.
        let forged = sealed.replacen(k.current_id(), other.current_id(), 1);
        assert!(matches!(other.open(Field::Phone, &forged, &what), Err(PersonalError::WrongKey { .. })));
        // Sealed as a phone, read as an e-mail: the associated data differs.
        assert!(matches!(k.open(Field::Email, &sealed, &what), Err(PersonalError::WrongKey { .. })));
        // One byte of the ciphertext changed.
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let damaged = String::from_utf8(bytes).unwrap();
        assert!(k.open(Field::Phone, &damaged, &what).is_err());
        assert!(matches!(k.open(Field::Phone, "v1:abc", &what), Err(PersonalError::Malformed { .. })));
        assert!(matches!(
            k.open(Field::Phone, &format!("v1:{}:!!", k.current_id()), &what),
            Err(PersonalError::Malformed { .. })
        ));
    }

    #[test]
    fn plaintext_from_before_sealing_reads_as_it_is() {
        let k = Keyring::ephemeral();
        assert_eq!(k.open(Field::Phone, "13812345678", &what).unwrap(), "13812345678");
        assert!(!k.is_current("13812345678"));
        assert!(k.is_current(""));
        assert!(k.is_current(&k.seal(Field::Phone, "1").unwrap()));
    }

    #[test]
    fn blind_index_matches_normal_forms_only_under_the_same_key() {
        let k = Keyring::ephemeral();
        let a = k.blind(Field::Phone, "+86 138 1234 5678");
        assert_eq!(a, k.blind(Field::Phone, "13812345678"));
        assert_ne!(a, k.blind(Field::Phone, "13812345679"));
        assert_ne!(a, Keyring::ephemeral().blind(Field::Phone, "13812345678"));
        // The same digits as another field do not match.
        assert_ne!(k.blind(Field::NationalId, "13812345678"), a);
        assert_eq!(a.len(), 32);
        assert_eq!(k.blind(Field::Email, "  "), "");
    }

    #[test]
    fn keyring_files_parse_rotate_and_reject_bad_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.keys");
        let k1 = Keyring::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = k1.seal(Field::Email, "li@example.com").unwrap();
        // Opening again reads the same keys.
        let again = Keyring::open_or_create(&path).unwrap();
        assert_eq!(again.current_id(), k1.current_id());
        let new_id = Keyring::add_key_to_file(&path).unwrap();
        let k2 = Keyring::from_file(&path).unwrap();
        assert_eq!(k2.current_id(), new_id);
        assert_ne!(new_id, k1.current_id());
        assert_eq!(k2.open(Field::Email, &sealed, &what).unwrap(), "li@example.com");
        assert!(!k2.is_current(&sealed));
        assert_eq!(k2.blind(Field::Email, "LI@example.com"), k1.blind(Field::Email, "li@example.com"));

        let key = B64.encode([7u8; 32]);
        for (text, needle) in [
            (format!("key {key}\n"), "no `index` line"),
            (format!("index {key}\n"), "no `key` line"),
            (format!("index {key}\nkey abc\n"), "line 2"),
            (format!("index {key}\nkey {}\n", B64.encode([1u8; 16])), "16 bytes"),
            (format!("index {key}\nindex {key}\nkey {key}\n"), "second index"),
            (format!("index {key}\nsecret {key}\n"), "expected `key` or `index`"),
        ] {
            let err = Keyring::parse(&text, "x.keys").unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("x.keys"), "{err}");
        }
        assert!(Keyring::from_file(&dir.path().join("missing.keys")).is_err());
    }

    #[test]
    fn one_master_key_derives_stable_separate_keys() {
        let master = B64.encode([9u8; 32]);
        let a = Keyring::from_base64(&master, KEY_ENV).unwrap();
        let b = Keyring::from_base64(&master, KEY_ENV).unwrap();
        assert_eq!(a.current_id(), b.current_id());
        let sealed = a.seal(Field::NationalId, "110101199003071234").unwrap();
        assert_eq!(b.open(Field::NationalId, &sealed, &what).unwrap(), "110101199003071234");
        assert!(Keyring::from_base64("c2hvcnQ=", KEY_ENV).unwrap_err().to_string().contains("32"));
    }
}
