//! The process heap during long runs.
//!
//! glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what is
//! freed there for later reuse. A catch-up batch of many business dates builds large buffers
//! on the runtime's threads and SQLite's, phase after phase, and its resident memory kept
//! growing with the number of dates (480 MiB for one date, 938 MiB for 30 on a 1M-loan
//! book) although each date needs the same. Two arenas and returning free pages to the
//! system between phases keep the peak at what one phase needs.

/// Caps the number of malloc arenas; call first thing in `main`, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns the heap's free pages to the system (between phases of a batch).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory malloc no longer uses.
    unsafe {
        libc::malloc_trim(0);
    }
}
