//! The loan book: borrowers, their contacts, loans and payments.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::{Amount, Currency};
use crate::rate::Rate;

pub use crate::id::{BorrowerId, ContactId, IdError, LoanId, PaymentId};

/// Why an enumerated field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {expected}")]
pub struct EnumError {
    /// The rejected text.
    pub value: String,
    /// The accepted values, for the message.
    pub expected: &'static str,
}

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written in files and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::book::EnumError;
            fn from_str(s: &str) -> Result<Self, $crate::book::EnumError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::book::EnumError {
                        value: s.to_string(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str()) // pad, so that a width in a table applies
            }
        }
    };
}
// Also the enumerations of the contact-policy packs.
pub(crate) use text_enum;

text_enum!(
    /// Whether the borrower is a person or a company.
    BorrowerKind {
        /// A natural person.
        Individual = "individual",
        /// A company.
        Company = "company",
    }
);

text_enum!(
    /// The language the borrower is addressed in.
    Language {
        /// Addressed in Chinese.
        Zh = "zh",
        /// Addressed in English.
        En = "en",
    }
);

text_enum!(
    /// How a contact relates to the borrower.
    Relation {
        /// 担保人: owes the debt too.
        Guarantor = "guarantor",
        /// The borrower's husband or wife.
        Spouse = "spouse",
        /// Another relative.
        Relative = "relative",
        /// 紧急联系人: named by the borrower to be reached when the borrower cannot.
        Emergency = "emergency",
        /// Anyone else.
        Other = "other",
    }
);

text_enum!(
    /// Repayment method of a loan.
    RepaymentMethod {
        /// 等额本息: equal total payments.
        Annuity = "annuity",
        /// 等额本金: equal principal, falling interest.
        EqualPrincipal = "equal_principal",
        /// 先息后本: interest monthly, principal at the end.
        InterestOnly = "interest_only",
        /// 到期一次还本付息: everything at the end.
        Bullet = "bullet",
    }
);

/// A person or company that owes money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Borrower {
    /// The borrower's id, unique in the book; contacts and loans refer to it.
    pub id: BorrowerId,
    /// Person or company.
    pub kind: BorrowerKind,
    /// Full name.
    pub name: String,
    /// National ID or company registration number.
    pub national_id: String,
    /// Phone number.
    pub phone: String,
    /// E-mail address, possibly empty.
    pub email: String,
    /// IANA time zone used for contact rules.
    pub timezone: String,
    /// Language for messages.
    pub language: Language,
}

/// A guarantor or another person connected to a borrower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The contact's id, unique in the book.
    pub id: ContactId,
    /// Whose contact.
    pub borrower_id: BorrowerId,
    /// How they relate to the borrower.
    pub relation: Relation,
    /// Full name.
    pub name: String,
    /// Phone number.
    pub phone: String,
    /// E-mail address, possibly empty.
    pub email: String,
    /// Whether they consented to be contacted.
    pub consent: bool,
}

/// A loan's contractual terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loan {
    /// The loan's id, unique in the book; payments refer to it.
    pub id: LoanId,
    /// Who owes it.
    pub borrower_id: BorrowerId,
    /// Product code (consumer loan, card instalment, SME loan, …).
    pub product: String,
    /// Currency of every amount of the loan.
    pub currency: Currency,
    /// Amount lent, in minor units.
    pub principal: Amount,
    /// Contractual yearly rate.
    pub annual_rate: Rate,
    /// Number of monthly installments (for a bullet loan, the term).
    pub term_months: u32,
    /// Disbursement date; installments fall on its day of month.
    pub disbursed_on: NaiveDate,
    /// Repayment method.
    pub method: RepaymentMethod,
    /// Yearly penalty rate on overdue principal.
    pub penalty_rate: Rate,
    /// Days after a due date within which paying in full costs no penalty.
    pub grace_days: u32,
}

/// Money received for a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The payment's id, unique in the book.
    pub id: PaymentId,
    /// Which loan it pays.
    pub loan_id: LoanId,
    /// Value date: the payment counts from the start of this day.
    pub paid_on: NaiveDate,
    /// Amount received, in the loan's minor units; positive.
    pub amount: Amount,
    /// Where it came from (bank transfer, card, agency, …).
    pub channel: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for m in RepaymentMethod::ALL {
            assert_eq!(m.as_str().parse::<RepaymentMethod>().unwrap(), *m);
        }
        let err = "monthly".parse::<RepaymentMethod>().unwrap_err();
        assert!(err.to_string().contains("annuity equal_principal"));
        assert_eq!("guarantor".parse::<Relation>().unwrap(), Relation::Guarantor);
    }
}
