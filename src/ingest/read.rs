//! A snapshot file read and cleaned row by row (blocking), with its content MD5: the
//! import's staging and the backfill's replay both read files this way.

use std::io::Read;
use std::path::Path;

use md5::{Digest, Md5};

use super::clean::{Cleaning, FileError, Header, RowStats};
use super::ImportError;
use crate::ticket::CleanRow;

/// Reads and cleans a snapshot file, handing each kept row, in file order, to `row`
/// (which returns false to stop early). Returns the row counts and, for
/// `Cleaning::Full`, the content MD5 (hex; else empty), or the reason the file is
/// refused. Blocking.
pub fn read_rows(
    path: &Path,
    label: &str,
    cleaning: Cleaning,
    mut row: impl FnMut(CleanRow) -> bool,
) -> Result<(RowStats, String), ImportError> {
    let io_err = |source| ImportError::Io {
        file: label.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut hashed = Hashing {
        inner: file,
        md5: (cleaning == Cleaning::Full).then(Md5::new),
    };
    let stats = {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&mut hashed);
        let mut record = csv::StringRecord::new();
        let malformed = |e: csv::Error| -> ImportError {
            let line = e.position().map_or(0, |p| p.line());
            let reason = match e.into_kind() {
                csv::ErrorKind::Io(source) => return io_err(source),
                csv::ErrorKind::Utf8 { err, .. } => format!(
                    "field {} is not UTF-8 text (is this a CSV export at all?)",
                    err.field() + 1
                ),
                kind => format!("{kind:?}"),
            };
            FileError::Malformed {
                file: label.to_owned(),
                line,
                reason,
            }
            .into()
        };
        if !csv.read_record(&mut record).map_err(malformed)? {
            return Err(FileError::Empty {
                file: label.to_owned(),
            }
            .into());
        }
        let header = Header::parse(label, &record)?;
        let mut stats = RowStats::default();
        while csv.read_record(&mut record).map_err(malformed)? {
            let line = record.position().map_or(0, |p| p.line());
            if let Some(clean) = header.clean_as(&record, line, &mut stats, cleaning)? {
                if !row(clean) {
                    return Ok((stats, String::new()));
                }
            }
        }
        stats
    };
    // Hash whatever the CSV reader did not consume (nothing, normally).
    std::io::copy(&mut hashed, &mut std::io::sink()).map_err(io_err)?;
    let md5 = hashed.md5.map(|m| format!("{:x}", m.finalize()));
    Ok((stats, md5.unwrap_or_default()))
}

/// Computes the MD5 (the S3 ETag of a single-part upload) of what passes through, when
/// asked to.
struct Hashing<R> {
    inner: R,
    md5: Option<Md5>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(md5) = &mut self.md5 {
            md5.update(&buf[..n]);
        }
        Ok(n)
    }
}
