//! Prefetch hints for reads scattered over what the recent history holds in memory (a
//! recorded miss reads a fifth of its versions, with their heads and features, by
//! index): issued a few items ahead of each read, the cache misses overlap instead of
//! being waited for one by one (`docs/benchmarks.md`, "The recorded miss, eighth round").

/// How many items ahead of the one being read.
const AHEAD: usize = 8;

/// Hints that `len` bytes from `start` are about to be read.
pub fn bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..len).step_by(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it reads nothing the program sees and cannot fault,
        // whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

/// `items` in order, `hint` called on each of them `AHEAD` items before its turn.
pub fn ahead<'a, T>(items: &'a [T], hint: impl Fn(&T) + 'a) -> impl Iterator<Item = &'a T> + 'a {
    items.iter().enumerate().map(move |(k, item)| {
        if let Some(next) = items.get(k + AHEAD) {
            hint(next);
        }
        item
    })
}

/// Hints that `item` is about to be read.
pub fn item<T>(item: &T) {
    bytes((item as *const T).cast::<u8>(), std::mem::size_of::<T>());
}
