//! The process heap during long runs.
//!
//! glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what is
//! freed there for later reuse. A catch-up batch of many business dates builds large buffers
//! on the runtime's threads and SQLite's, phase after phase, and its resident memory kept
//! growing with the number of dates (480 MiB for one date, 938 MiB for 30 on a 1M-loan
//! book) although each date needs the same. Two arenas and returning free pages to the
//! system between phases keep the peak at what one phase needs.
//!
//! Since Rust's own allocations moved to mimalloc (the global allocator in `main`), this
//! tuning governs what SQLite allocates, which goes to glibc directly.

/// Caps the number of malloc arenas; call first thing in `main`, before any thread starts.
pub fn tune_allocators() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns both heaps' free pages to the system (between phases of a batch).
///
/// mimalloc returns freed pages by itself 10 ms after they fall free. Returning them at
/// once instead (purge delay 0) lowered the 30-day catch-up's peak from 935 to 840 MiB, but
/// every page used again was then faulted in and zeroed anew: a sixth of the first date's
/// CPU time. Collecting at each phase's end bounds what a phase leaves behind instead.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory malloc no longer uses.
    unsafe {
        libc::malloc_trim(0);
    }
    // SAFETY: mi_collect is thread-safe; it frees nothing still allocated.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
