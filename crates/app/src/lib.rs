//! Use cases of arrears. Each one reads and writes through `arrears-store` and
//! decides through `arrears-core`; the clock and the console belong to the caller.
#![forbid(unsafe_code)]

pub mod actions;
pub mod alerts;
pub mod arrangements;
pub mod audit;
pub mod behaviour;
pub mod cases;
pub mod close;
pub mod import;
pub mod personal;
pub mod portfolio;
pub mod restrictions;
pub mod staff;
pub mod strategies;
pub mod templates;
pub mod treatment;
pub mod view;
