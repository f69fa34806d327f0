//! How the allocator hands memory back to the system.
//!
//! glibc's malloc raises its mmap threshold (up to 32 MiB) each time a large mapped block
//! is freed; after that, multi-megabyte response bodies and row buffers come from the
//! heap arenas, whose freed pages stay resident. Under 32 connections of mixed reads the
//! server then held about 230 MB more than with a fixed threshold (`docs/benchmarks.md`,
//! "Cache memory"). A fixed threshold keeps each block of 1 MiB or more in a mapping of
//! its own, unmapped when freed (an evicted cache entry's memory goes back at once).

/// Fixes the threshold (glibc on Linux; elsewhere the allocator is left as it is).
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter, and 1 MiB is a valid threshold.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
