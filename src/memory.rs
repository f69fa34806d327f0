//! How the allocator hands memory back to the system.
//!
//! glibc's malloc raises its mmap threshold (up to 32 MiB) each time a large mapped block
//! is freed; after that, multi-megabyte response bodies and row buffers come from the
//! heap arenas, whose freed pages stay resident. Under 32 connections of mixed reads the
//! server then held about 230 MB more than with a fixed threshold (`docs/benchmarks.md`,
//! "Cache memory"). A fixed threshold keeps each block of 1 MiB or more in a mapping of
//! its own, unmapped when freed (an evicted cache entry's memory goes back at once).
//!
//! Two arenas, not glibc's eight per core: compression and payload builds run on
//! tokio's blocking threads, each of which would otherwise get an arena of its own whose
//! freed chunks stay resident (the same load peaked at 391 MB instead of 417, and at
//! 159 MB instead of 200 without the cache, with no fewer answers per second).

/// Fixes the threshold and the arena count (glibc on Linux; elsewhere the allocator is
/// left as it is).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; 1 MiB and 2 are valid values.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
