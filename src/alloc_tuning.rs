//! Process-wide allocator settings for the cockpit.
//!
//! glibc gives each thread that allocates under contention its own arena (up to 8 per core), and
//! memory freed in one arena is not reused by another. The cockpit's fleet watches run on tokio's
//! workers and its client builds on the blocking pool, so a large fleet spread its short-lived
//! LIST buffers over many arenas and the peak RSS grew well past the live heap (docs/PERFORMANCE.md,
//! "Fleet at 2,000"). Two arenas match the two async workers.

/// Limit glibc's malloc to two arenas, unless the operator set `MALLOC_ARENA_MAX` themselves.
/// Call before the runtime starts threads. A no-op on other C libraries.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only adjusts allocator parameters; called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
