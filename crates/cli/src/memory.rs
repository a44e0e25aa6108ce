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

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_e` (mimalloc.h keeps the numbers
/// of its options stable; libmimalloc-sys names only some of them).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Caps the number of malloc arenas and makes mimalloc return freed pages at once; call
/// first thing in `main`, before any thread starts.
pub fn tune_allocators() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    // By default mimalloc keeps freed pages 10 ms before returning them. Over a 30-day
    // catch-up of 1M loans that raised the peak from 832 to 935 MiB, against a 1 GiB target.
    // SAFETY: mi_option_set only stores an option value; no allocation depends on it.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
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
