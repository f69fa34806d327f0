//! The encodings of a cached body. A large body is deflated in parts on every core
//! (one gzip member, as pigz writes it), at a faster level past `FAST_FROM`; brotli is
//! not offered past `BROTLI_UP_TO` (see `docs/benchmarks.md`, "First compressed answer").

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Below this a body is deflated in one piece: threads would cost more than they save.
const PARTS_FROM: usize = 1 << 20;
/// From this size gzip level 1: about twice as fast as level 4 for a 60 % larger output,
/// on a body no browser renders in one piece anyway.
const FAST_FROM: usize = 8 << 20;
/// Past this size brotli is slower than gzip for no smaller output (its quality 5 is
/// tuned for kilobytes to a few megabytes; a national week is 52 MB).
pub const BROTLI_UP_TO: usize = 8 << 20;

pub fn gzip(data: &[u8]) -> Vec<u8> {
    if data.len() < PARTS_FROM {
        let mut e =
            flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 8), Compression::new(4));
        e.write_all(data).expect("writing to memory");
        return e.finish().expect("writing to memory");
    }
    let level = Compression::new(if data.len() >= FAST_FROM { 1 } else { 4 });
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let part = data.len().div_ceil(threads);
    let parts: Vec<&[u8]> = data.chunks(part).collect();
    let last = parts.len() - 1;
    let deflated: Vec<(Vec<u8>, crc32fast::Hasher)> = std::thread::scope(|s| {
        let workers: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| s.spawn(move || (deflate(p, level, i == last), crc(p))))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("deflate does not panic"))
            .collect()
    });
    let mut crc = crc32fast::Hasher::new();
    let size: usize = deflated.iter().map(|(d, _)| d.len()).sum();
    // The gzip header (deflate, no name, no time, unknown OS), then the parts.
    let mut out = Vec::with_capacity(10 + size + 8);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    for (d, part_crc) in &deflated {
        out.extend_from_slice(d);
        crc.combine(part_crc);
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE: the length modulo 2^32, as RFC 1952 defines it.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc(part: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(part);
    h
}

/// Raw deflate of one part. Every part but the last ends on a sync flush (byte-aligned,
/// no final block), so the parts concatenate into one stream.
fn deflate(part: &[u8], level: Compression, last: bool) -> Vec<u8> {
    let mut c = Compress::new(level, false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(part.len() / 6 + 1024);
    loop {
        let consumed = usize::try_from(c.total_in()).expect("a part fits in memory");
        let status = c
            .compress_vec(&part[consumed..], &mut out, flush)
            .expect("deflating in memory");
        let all_in = c.total_in() as usize == part.len();
        // Done: the stream ended (last part), or the flush is complete (all input taken
        // and room left in the output).
        if status == Status::StreamEnd || (!last && all_in && out.len() < out.capacity()) {
            return out;
        }
        out.reserve(out.capacity().max(1024));
    }
}

pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 8);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        // One member: `GzDecoder` reads the first member only.
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut plain)
            .unwrap();
        plain
    }

    /// Text that compresses like a payload: repeated keys, varying numbers.
    fn json(bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes);
        let mut i = 0u64;
        while out.len() < bytes {
            let f = format!(
                r#"{{"id":"INC{i:012}","lat":{:.5},"status":"OPEN"}},"#,
                i as f64 * 0.37 % 90.0
            );
            out.extend_from_slice(f.as_bytes());
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 1;
        }
        out
    }

    #[test]
    fn a_body_deflated_in_parts_is_one_gzip_member_of_the_same_bytes() {
        for size in [PARTS_FROM - 1, PARTS_FROM + 12_345, FAST_FROM + 1] {
            let data = json(size);
            let gz = gzip(&data);
            assert_eq!(gunzip(&gz), data, "{size} bytes");
            assert!(gz.len() < data.len() / 3, "{size} bytes compress");
        }
    }
}
