//! The payload's bytes, written fast: every open feature of the live set but its two
//! `as_of`-dependent properties is serialised once per data change (`open_head`), so a
//! cache miss only splices those heads with `hours_open` and `sla_state`; the closed features of the
//! recent tickets (`recent`) are written once per data change too, and copied. The
//! output is byte for byte what serde writes for the typed `Dashboard` (a test holds the
//! two together).

use serde::Serialize;

use super::features;
use super::sla::OpenSla;
use super::{Open, Payload, Ticket, WindowRows};

/// Byte strings written one per item, in one buffer (not one allocation each).
#[derive(Debug, Default)]
pub struct Pieces {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Pieces {
    /// `write(item, out)` appends the piece of each item.
    pub fn of<T>(items: &[T], mut write: impl FnMut(&T, &mut Vec<u8>)) -> Pieces {
        let mut bytes = Vec::new();
        let ends = items
            .iter()
            .map(|item| {
                write(item, &mut bytes);
                bytes.len()
            })
            .collect();
        Pieces { bytes, ends }
    }

    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// What every open feature of this ticket starts with, up to `"hours_open":`.
pub fn open_head(ticket: &Ticket) -> String {
    const TAIL: &str = r#""hours_open":null,"sla_state":"unknown"}}"#;
    let open = Open {
        ticket,
        index: 0,
        hours_open: None,
        state: OpenSla::Unknown,
    };
    let mut json = serde_json::to_string(&features::open(&open)).expect("a feature serialises");
    assert!(
        json.ends_with(TAIL),
        "hours_open and sla_state are the feature's last properties"
    );
    json.truncate(json.len() - TAIL.len());
    json
}

/// The payload as JSON. With `heads`, `heads[i]` = `open_head(&open_rows[i])` for the
/// open rows it was computed from (the live set's, written once per data change);
/// without, each open feature is written whole (a recorded payload's rows are new to
/// each miss: writing their heads apart first cost an allocation and a copy per row).
pub fn write_json(c: &Payload, heads: Option<&[String]>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 * 1024 + 520 * (c.open.len() + c.closed.len()));
    field(&mut out, "{\"window\":", &c.window)?;
    field(&mut out, ",\"filters\":", &c.filters)?;
    out.extend_from_slice(b",\"open\":{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, o) in c.open().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let Some(heads) = heads else {
            serde_json::to_writer(&mut out, &features::open(&o))?;
            continue;
        };
        out.extend_from_slice(heads[o.index].as_bytes());
        out.extend_from_slice(b"\"hours_open\":");
        serde_json::to_writer(&mut out, &o.hours_open)?;
        out.extend_from_slice(b",\"sla_state\":");
        serde_json::to_writer(&mut out, &o.state)?;
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
    match c.window_rows() {
        WindowRows::Recent(recent) => {
            out.extend_from_slice(b",\"closed\":{\"type\":\"FeatureCollection\",\"features\":[");
            for (n, i) in c.closed_positions().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(recent.closed.get(i));
            }
            out.extend_from_slice(b"]}");
        }
        WindowRows::Queried(_) | WindowRows::Open(_) => {
            let closed: features::ClosedCollection =
                c.closed().map(|(t, s)| features::closed(t, s)).collect();
            field(&mut out, ",\"closed\":", &closed)?;
        }
    }
    field(&mut out, ",\"metrics\":", &c.metrics)?;
    field(&mut out, ",\"freshness\":", &c.freshness)?;
    field(&mut out, ",\"replay\":", &c.replay)?;
    out.push(b'}');
    Ok(out)
}

fn field(out: &mut Vec<u8>, name: &str, value: &impl Serialize) -> serde_json::Result<()> {
    out.extend_from_slice(name.as_bytes());
    serde_json::to_writer(out, value)
}
