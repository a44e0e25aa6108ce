//! Identifiers: the text ids of the book's records (as the lender's systems give them) and of
//! what arrears derives from them (cases, tasks, promises, messages), validated once where
//! they enter and typed from then on.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty text.
    #[error("the id is empty")]
    Empty,
    /// Longer than the id's limit.
    #[error("{0:?} is longer than {1} characters")]
    TooLong(String, usize),
    /// Contains white space or a control character.
    #[error("{0:?} contains white space or a control character")]
    BadCharacter(String),
}

/// Ids from the lender's files are at most this long (DESIGN's import files).
const SOURCE_MAX: usize = 64;
/// Derived ids embed a source id and a date or a step name, so they may be longer.
const DERIVED_MAX: usize = 200;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates an identifier from outside.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                validate(&text, $max)?;
                Ok(Self(text))
            }

            /// An id arrears derives from ids already validated (a case id from its borrower's
            /// and a date): valid by construction, checked in debug builds.
            #[allow(dead_code)]
            pub(crate) fn derived(text: String) -> Self {
                debug_assert!(validate(&text, $max).is_ok(), "{text:?}");
                Self(text)
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        // An id reads as its text wherever text is wanted (SQL, messages, maps keyed by it).
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
    };
}

fn validate(text: &str, max: usize) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > max {
        return Err(IdError::TooLong(text.to_string(), max));
    }
    // Nearly every id is printable ASCII, which has neither; only others are decoded.
    if !text.bytes().all(|b| b.is_ascii_graphic())
        && text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(IdError::BadCharacter(text.to_string()));
    }
    Ok(())
}

id_type!(
    /// A borrower's id, as the lender's source system gives it.
    BorrowerId,
    SOURCE_MAX
);
id_type!(
    /// A contact's id.
    ContactId,
    SOURCE_MAX
);
id_type!(
    /// A loan's id.
    LoanId,
    SOURCE_MAX
);
id_type!(
    /// A payment's id; the key that makes re-imports idempotent.
    PaymentId,
    SOURCE_MAX
);
id_type!(
    /// A collection case's id, `C-{borrower}-{opening date}` (see `case::case_id`).
    CaseId,
    DERIVED_MAX
);
id_type!(
    /// A task's id, `T:{case}:{step}:{business date}`: a date run twice makes no new task.
    TaskId,
    DERIVED_MAX
);
id_type!(
    /// An outbox message's id (the id of the task that queued it).
    MessageId,
    DERIVED_MAX
);
id_type!(
    /// A promise to pay's id, `PTP:{case}:{contact time}`.
    PtpId,
    DERIVED_MAX
);
id_type!(
    /// An action's id: `A` and an eight-digit sequence number.
    ActionId,
    DERIVED_MAX
);
id_type!(
    /// An arrangement request's id.
    RequestId,
    DERIVED_MAX
);
id_type!(
    /// A collector's id, as the staff file or a supervisor gives it.
    CollectorId,
    SOURCE_MAX
);
id_type!(
    /// An outside agency's id.
    AgencyId,
    SOURCE_MAX
);
id_type!(
    /// An early-warning rule's id, from the rules file.
    RuleId,
    SOURCE_MAX
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_where_they_enter() {
        let cases: &[(&str, Result<(), IdError>)] = &[
            ("B0000001", Ok(())),
            ("借款人-7", Ok(())),
            ("", Err(IdError::Empty)),
            ("B 1", Err(IdError::BadCharacter("B 1".into()))),
            ("B\u{3000}1", Err(IdError::BadCharacter("B\u{3000}1".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(BorrowerId::new(*text).map(|_| ()), *want, "{text:?}");
        }
        let long = "x".repeat(65);
        assert_eq!(LoanId::new(long.clone()), Err(IdError::TooLong(long.clone(), 64)));
        // A case id embeds a 64-character borrower id and a date.
        assert!(CaseId::new(format!("C-{}-20261120", "x".repeat(64))).is_ok());
    }

    #[test]
    fn an_id_reads_as_its_text() {
        let id = CaseId::new("C-B1-20261120").unwrap();
        let text: &str = &id;
        assert_eq!(text, "C-B1-20261120");
        assert_eq!(id, "C-B1-20261120");
        assert_eq!(format!("[{id:>15}]"), "[  C-B1-20261120]");
        let mut map = std::collections::HashMap::new();
        map.insert(id.clone(), 1);
        assert_eq!(map.get("C-B1-20261120"), Some(&1));
        let parsed: Result<CaseId, _> = "".parse();
        assert_eq!(parsed, Err(IdError::Empty));
    }
}
