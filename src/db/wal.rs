//! WAL positions: where the primary is, and how far a hot standby has replayed. A replica
//! reading from a standby reloads only once the standby has replayed the change it was
//! told about (see `live`).

use std::fmt;
use std::str::FromStr;

use sqlx::PgPool;

/// A WAL position (`pg_lsn`), written `X/Y` in hex by PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Lsn, String> {
        let bad = || format!("not a WAL position: {s:?}");
        let (high, low) = s.split_once('/').ok_or_else(bad)?;
        let part = |p: &str| u32::from_str_radix(p, 16).map_err(|_| bad());
        Ok(Lsn((u64::from(part(high)?) << 32) | u64::from(part(low)?)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

fn parse(text: Option<String>) -> sqlx::Result<Option<Lsn>> {
    text.map(|t| t.parse().map_err(|e: String| sqlx::Error::Decode(e.into())))
        .transpose()
}

/// The SQL of the primary's WAL position: its insert position, which every committed
/// transaction's commit record ends at or before, whatever `synchronous_commit` says.
pub const PRIMARY_POSITION_SQL: &str = "pg_current_wal_insert_lsn()::text";

/// The primary's WAL position now (see `PRIMARY_POSITION_SQL`).
pub async fn primary_position(primary: &PgPool) -> sqlx::Result<Lsn> {
    let text: Option<String> = sqlx::query_scalar(&format!("SELECT {PRIMARY_POSITION_SQL}"))
        .fetch_one(primary)
        .await?;
    Ok(parse(text)?.unwrap_or_default())
}

/// How far the read database has replayed the primary's WAL; `None` when it is not a
/// standby (then it has every commit it can serve).
pub async fn replayed(read: &PgPool) -> sqlx::Result<Option<Lsn>> {
    let (standby, text): (bool, Option<String>) =
        sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
            .fetch_one(read)
            .await?;
    if !standby {
        return Ok(None);
    }
    Ok(Some(parse(text)?.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_print_and_order_as_postgresql_does() {
        let a: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(a, Lsn((0x16 << 32) + 0xB374_D848));
        assert_eq!(a.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>(), Ok(Lsn(0)));
        // 1/0 is after 0/FFFFFFFF: the high half counts first.
        assert!("1/0".parse::<Lsn>().unwrap() > "0/FFFFFFFF".parse::<Lsn>().unwrap());
        for bad in ["", "16", "16/", "/1", "g/1", "1/2/3", "100000000/0"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?}");
        }
    }
}
