//! The cockpit's memory allocator: jemalloc, for every binary built on this crate (the cockpit
//! and the world it can run, the benchmarks, the tests), unless the default feature `jemalloc`
//! is off: then the C library's malloc stays, for heap profilers that wrap it (heaptrack).
//!
//! A fleet at 2,000 Sovereigns replaces a HelmRelease's small strings with new ones on every
//! change, while relists and LIST bodies come and go between them. Under glibc's malloc those
//! long-lived small objects pinned the holes the short-lived ones left: a 30-minute soak grew its
//! RSS by 1.5 MiB a minute, most of it free space inside the heap that `malloc_trim` could not
//! give back. jemalloc keeps each size class in slabs of its own and returns unused pages after
//! a decay time; in the same soak its fragmentation stays bounded (docs/PERFORMANCE.md,
//! "Changes 21–22").

#[cfg(all(unix, feature = "jemalloc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's built-in options. Two arenas for the two async workers (the default, four per core,
/// spreads the same live set over more partly used slabs); a background thread purges unused
/// pages on their decay time even while the cockpit sits idle. An operator can still override
/// these at run time with `_RJEM_MALLOC_CONF`, which jemalloc reads after this.
#[cfg(all(unix, feature = "jemalloc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
#[used]
static MALLOC_CONF: &u8 = &b"narenas:2,background_thread:true\0"[0];

/// What the allocator holds, in bytes: `allocated` is handed out to the program, `active` is in
/// pages with anything allocated on them (the difference is fragmentation), `resident` what it
/// keeps in RAM (active plus pages not yet purged, plus its own metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    pub allocated: usize,
    pub active: usize,
    pub resident: usize,
}

/// The allocator's figures as of now (`None` where they cannot be read).
pub fn heap_stats() -> Option<HeapStats> {
    #[cfg(all(unix, feature = "jemalloc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        // The statistics are a snapshot refreshed by advancing the epoch.
        epoch::advance().ok()?;
        Some(HeapStats {
            allocated: stats::allocated::read().ok()?,
            active: stats::active::read().ok()?,
            resident: stats::resident::read().ok()?,
        })
    }
    #[cfg(not(all(unix, feature = "jemalloc")))]
    None
}
