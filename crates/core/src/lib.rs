//! Pure domain logic of arrears: plain functions over plain data.
//!
//! Nothing here touches a database, the network or the clock: the business
//! date is always a parameter, so every rule can be tested with a table.
#![forbid(unsafe_code)]

pub mod ability;
pub mod access;
pub mod allocation;
pub mod arrangement;
pub mod authority;
pub mod behaviour;
pub mod book;
pub mod calendar;
pub mod case;
pub mod close;
pub mod config;
pub mod contact_policy;
pub mod delinquency;
pub mod delivery;
pub mod id;
pub mod ledger;
pub mod legal;
pub mod money;
pub mod personal;
pub mod ptp;
pub mod rate;
pub mod schedule;
pub mod work;

pub use book::{
    Borrower, BorrowerId, BorrowerKind, Contact, ContactId, Language, Loan, LoanId, Payment, PaymentId,
    Relation, RepaymentMethod,
};
pub use money::{Amount, Currency, MoneyError};
pub use rate::{Rate, RateError};
