//! Use cases of arrears. Each one reads and writes through `arrears-store` and
//! decides through `arrears-core`; the clock and the console belong to the caller.
//!
//! Where things are: `batch/` is the daily batch (日终批处理), a file per phase in the order
//! of the daily cycle; `payments` books every payment and re-evaluates after it; `import`
//! loads the book's files; the others are one use case (or one concept's use cases) each.
#![forbid(unsafe_code)]

pub mod ability;
pub mod actions;
pub mod alerts;
pub mod api_keys;
pub mod arrangements;
pub mod audit;
pub mod batch;
pub mod behaviour;
pub mod cases;
pub mod channels;
pub mod contact_policy;
pub mod events;
pub mod import;
pub mod legal;
pub mod payments;
pub mod personal;
pub mod portfolio;
pub mod restrictions;
pub mod sessions;
pub mod staff;
pub mod strategies;
pub mod templates;
pub mod transfers;
pub mod view;
pub mod write_offs;
