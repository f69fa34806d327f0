//! Ticket rows read through `COPY (select) TO STDOUT (FORMAT binary)`: the recorded
//! miss's 30,000 rows at 1M tickets arrive as bare tuples, without the result row sqlx
//! builds for each (its value ranges, metadata and stream hand-over; in one profile,
//! decoding the rows took 22 % of the client's CPU as result rows and 13 % through
//! `COPY`). `COPY` takes no bind parameters, so a query's values go in as literals
//! that cannot carry SQL (`time`, `texts`).

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::binary::Kind;
use crate::dashboard::Ticket;

/// `t` as a `timestamptz` literal (RFC 3339 with microseconds: digits and separators).
pub fn time(t: DateTime<Utc>) -> String {
    format!(
        "'{}'::timestamptz",
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

/// `values` as a `text[]` literal, each value spelled in hexadecimal digits (no quote
/// or backslash, whatever `standard_conforming_strings` says).
pub fn texts(values: &[String]) -> String {
    let each: Vec<String> = values
        .iter()
        .map(|v| {
            let hex: String = v.bytes().map(|b| format!("{b:02x}")).collect();
            format!("convert_from(decode('{hex}', 'hex'), 'UTF8')")
        })
        .collect();
    format!("ARRAY[{}]::text[]", each.join(", "))
}

/// Runs `select` (its columns a version's: the key and the tracked fields, as
/// `Ticket::from_copy` reads them) and gives each row to `each` as it arrives.
pub async fn tickets(pool: &PgPool, select: &str, each: impl FnMut(Ticket)) -> sqlx::Result<()> {
    rows(pool, select, Ticket::from_copy, each).await
}

/// Runs `select` and gives each row, as `decode` reads its fields, to `each` as it
/// arrives.
pub async fn rows<T>(
    pool: &PgPool,
    select: &str,
    mut decode: impl FnMut(&mut Fields) -> Result<T, BoxDynError>,
    mut each: impl FnMut(T),
) -> sqlx::Result<()> {
    let mut copying = Copying {
        conn: pool.acquire().await?,
        finished: false,
    };
    let mut tuples = Tuples::default();
    let mut stream = copying
        .conn
        .copy_out_raw(&format!("COPY ({select}) TO STDOUT (FORMAT binary)"))
        .await?;
    while let Some(chunk) = stream.try_next().await? {
        tuples
            .feed(&chunk, |fields| decode(fields).map(&mut each))
            .map_err(sqlx::Error::Decode)?;
    }
    drop(stream);
    if !tuples.ended {
        return Err(sqlx::Error::Decode(
            "a binary COPY without its trailer".into(),
        ));
    }
    copying.finished = true;
    Ok(())
}

/// A connection in `COPY` mode: closed if left before the end (an error, or the
/// request's future dropped), since the rest of the data would still be coming.
struct Copying {
    conn: PoolConnection<Postgres>,
    finished: bool,
}

impl Drop for Copying {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// One tuple's fields, read in order.
pub struct Fields<'a> {
    left: i16,
    rest: &'a [u8],
}

impl Fields<'_> {
    /// The next field as a nullable `T`.
    pub fn field<T: Kind>(&mut self) -> Result<Option<T>, BoxDynError> {
        if self.left == 0 {
            return Err("a tuple with fewer fields than its row".into());
        }
        self.left -= 1;
        let (len, rest) = take_i32(self.rest).ok_or("a field cut short")?;
        let Ok(len) = usize::try_from(len) else {
            self.rest = rest;
            return Ok(None);
        };
        let value = rest.get(..len).ok_or("a field cut short")?;
        self.rest = &rest[len..];
        T::read(value).map(Some)
    }

    /// Checks that every field was read.
    pub fn end(&self) -> Result<(), BoxDynError> {
        match self.left {
            0 => Ok(()),
            _ => Err("a tuple with more fields than its row".into()),
        }
    }
}

fn take_i32(bytes: &[u8]) -> Option<(i32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((i32::from_be_bytes(*head), rest))
}

/// `PGCOPY\n\377\r\n\0`, then 32 bits of flags and the header extension's length.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A binary `COPY` stream's tuples, fed in chunks as they arrive (PostgreSQL sends one
/// tuple a message, but nothing here relies on it).
#[derive(Debug, Default)]
struct Tuples {
    /// An incomplete header or tuple from the chunks so far.
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
}

impl Tuples {
    fn feed(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&mut Fields) -> Result<(), BoxDynError>,
    ) -> Result<(), BoxDynError> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, &mut each)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let pending = std::mem::take(&mut self.pending);
            let used = self.parse(&pending, &mut each)?;
            self.pending = pending;
            self.pending.drain(..used);
        }
        Ok(())
    }

    /// Reads the complete parts at the start of `bytes`; returns how many bytes they took.
    fn parse(
        &mut self,
        bytes: &[u8],
        each: &mut impl FnMut(&mut Fields) -> Result<(), BoxDynError>,
    ) -> Result<usize, BoxDynError> {
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            if self.ended {
                return match rest.is_empty() {
                    true => Ok(at),
                    false => Err("data after a binary COPY's trailer".into()),
                };
            }
            if !self.header_read {
                let Some(used) = header(rest)? else {
                    return Ok(at);
                };
                self.header_read = true;
                at += used;
                continue;
            }
            let Some((count, fields)) = rest.split_first_chunk::<2>() else {
                return Ok(at);
            };
            let count = i16::from_be_bytes(*count);
            if count == -1 {
                self.ended = true;
                at += 2;
                continue;
            }
            let Some(len) = tuple_len(count, fields)? else {
                return Ok(at);
            };
            let mut tuple = Fields {
                left: count,
                rest: &fields[..len],
            };
            each(&mut tuple)?;
            tuple.end()?;
            at += 2 + len;
        }
    }
}

/// The header's length, if `bytes` hold all of it.
fn header(bytes: &[u8]) -> Result<Option<usize>, BoxDynError> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if !bytes.starts_with(SIGNATURE) {
        return Err("not a binary COPY".into());
    }
    let extension = u32::from_be_bytes(bytes[fixed - 4..fixed].try_into()?);
    let len = fixed + usize::try_from(extension)?;
    Ok((bytes.len() >= len).then_some(len))
}

/// The length of a tuple's `count` fields at the start of `bytes`, if all are there.
fn tuple_len(count: i16, bytes: &[u8]) -> Result<Option<usize>, BoxDynError> {
    if count < 0 {
        return Err("a negative field count".into());
    }
    let mut len = 0;
    for _ in 0..count {
        let Some((field, _)) = take_i32(&bytes[len..]) else {
            return Ok(None);
        };
        len += 4 + usize::try_from(field).unwrap_or(0);
        if len > bytes.len() {
            return Ok(None);
        }
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Text;

    /// A binary COPY of `tuples` (each field's bytes, or null), its header with a 3-byte
    /// extension.
    fn copy_of(tuples: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut s = SIGNATURE.to_vec();
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend_from_slice(&3u32.to_be_bytes());
        s.extend_from_slice(b"ext");
        for fields in tuples {
            s.extend_from_slice(&(fields.len() as i16).to_be_bytes());
            for field in *fields {
                match field {
                    Some(v) => {
                        s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        s.extend_from_slice(v);
                    }
                    None => s.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    /// Tuples of (text, int4), the second's text null.
    fn stream() -> Vec<u8> {
        copy_of(&[
            &[Some("INC1 Ü".as_bytes()), Some(&7i32.to_be_bytes())],
            &[None, Some(&(-2i32).to_be_bytes())],
            &[Some(b""), Some(&i32::MAX.to_be_bytes())],
        ])
    }

    type Row = (Option<Text>, Option<i32>);

    fn read(chunks: &[&[u8]]) -> Result<(Vec<Row>, bool), BoxDynError> {
        let mut tuples = Tuples::default();
        let mut rows = Vec::new();
        for chunk in chunks {
            tuples.feed(chunk, |f| {
                rows.push((f.field()?, f.field()?));
                Ok(())
            })?;
        }
        Ok((rows, tuples.ended))
    }

    #[test]
    fn a_stream_reads_the_same_however_it_is_cut() {
        let s = stream();
        let expected = vec![
            (Some("INC1 Ü".into()), Some(7)),
            (None, Some(-2)),
            (Some("".into()), Some(i32::MAX)),
        ];
        assert_eq!(read(&[&s]).unwrap(), (expected.clone(), true));
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(read(&bytes).unwrap(), (expected.clone(), true));
        for cut in 1..s.len() {
            let (a, b) = s.split_at(cut);
            assert_eq!(
                read(&[a, b]).unwrap(),
                (expected.clone(), true),
                "cut at {cut}"
            );
        }
        // Without the trailer: every row, but not ended.
        assert_eq!(read(&[&s[..s.len() - 2]]).unwrap(), (expected, false));
    }

    #[test]
    fn a_malformed_stream_is_an_error() {
        let s = stream();
        let mut bad = s.clone();
        bad[0] = b'X';
        assert!(read(&[&bad]).is_err(), "signature");
        let mut after = s.clone();
        after.push(0);
        assert!(read(&[&after]).is_err(), "data after the trailer");
        let fewer = Tuples::default().feed(&s, |f| f.field::<Text>().map(drop));
        assert!(fewer.is_err(), "a field left unread");
        let more = Tuples::default().feed(&s, |f| {
            f.field::<Text>()?;
            f.field::<i32>()?;
            f.field::<i32>().map(drop)
        });
        assert!(more.is_err(), "a field more than the tuple has");
        let short = copy_of(&[&[Some(b"x"), Some(&[0, 0, 7])]]);
        assert!(read(&[&short]).is_err(), "an int4 of 3 bytes");
        let utf8 = copy_of(&[&[Some(&[0xff]), Some(&7i32.to_be_bytes())]]);
        assert!(read(&[&utf8]).is_err(), "text that is not UTF-8");
    }

    #[test]
    fn literals_carry_no_sql() {
        assert_eq!(
            time(DateTime::from_timestamp_micros(1_781_301_600_000_001).unwrap()),
            "'2026-06-12T22:00:00.000001Z'::timestamptz"
        );
        assert_eq!(texts(&[]), "ARRAY[]::text[]");
        assert_eq!(
            texts(&["a'b".into(), "\\Ü".into()]),
            "ARRAY[convert_from(decode('612762', 'hex'), 'UTF8'), \
             convert_from(decode('5cc39c', 'hex'), 'UTF8')]::text[]"
        );
    }
}
