//! Failpoints: where a batch stops on purpose, so that tests can prove a killed batch
//! resumes cleanly (`ARREARS_FAILPOINT`).

use super::BatchOptions;

/// Where to stop on purpose, so that tests can prove a killed batch resumes cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Abort the process after this many chunks of the loan phase were committed.
    AfterChunks(u32),
    /// Abort after the loan phase, before promises and cases.
    BeforeCases,
    /// Abort after cases, before the figures.
    BeforeFigures,
}

impl Failpoint {
    /// Reads `chunks:N`, `cases` or `figures`.
    pub fn parse(text: &str) -> Option<Failpoint> {
        match text.split_once(':') {
            Some(("chunks", n)) => n.parse().ok().map(Failpoint::AfterChunks),
            _ => match text {
                "cases" => Some(Failpoint::BeforeCases),
                "figures" => Some(Failpoint::BeforeFigures),
                _ => None,
            },
        }
    }
}

pub(super) fn stop_at(opts: BatchOptions, here: Failpoint) {
    if opts.failpoint == Some(here) {
        std::process::abort();
    }
}

pub(super) fn stop_after_chunks(opts: BatchOptions, chunks: u32) {
    if opts.failpoint == Some(Failpoint::AfterChunks(chunks)) {
        std::process::abort();
    }
}
