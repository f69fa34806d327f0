//! The payload's bytes, written fast: every open feature of the live set but its two
//! `as_of`-dependent properties is serialised once per data change (`open_head`), so a
//! cache miss only splices those heads with `hours_open` and `sla_state`; a recorded
//! payload's open features the same way, each version's head written once per data
//! change (`RecordedHeads`); the closed features of the recent tickets (`recent`) are
//! written once per data change too, and copied. The output is byte for byte what serde
//! writes for the typed `Dashboard` (a test holds the two together).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;
use serde::Serialize;

use super::features;
use super::sla::OpenSla;
use super::{Open, Payload, Ticket, WindowRows};
use crate::ticket::Text;

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

/// The open feature heads that a generation's recorded payloads have written, per
/// ticket, each with the version (over its current row's fields) it was written from.
/// A recorded miss writes the heads of the versions it has not met yet and reuses the
/// rest: the instants a user replays (a slider's steps, a post-mortem's hour) share
/// most of their versions. A new generation starts empty, as `places` does (and is keyed
/// with the same fast hash).
#[derive(Debug, Default)]
pub struct RecordedHeads(Mutex<HashMap<Text, (Ticket, Arc<str>), RandomState>>);

/// At most this many tickets' heads are kept (~1 KB each with their versions); past it
/// the map starts again. A generation at 1M tickets replays ~25,000 open ones.
const RECORDED_HEADS: usize = 100_000;

impl RecordedHeads {
    /// `heads[i]` = `open_head(&rows[i])` for each open feature of `c`, empty for the
    /// other rows: what `write_json` splices.
    pub fn of(&self, c: &Payload) -> Vec<Arc<str>> {
        let rows = c.open_rows();
        let mut heads: Vec<Arc<str>> = vec![Arc::from(""); rows.len()];
        let mut missing = Vec::new();
        {
            let known = self.0.lock().expect("not poisoned");
            for o in c.open() {
                match known.get(o.ticket.ticket_id.as_str()) {
                    Some((version, head)) if version == o.ticket => heads[o.index] = head.clone(),
                    _ => missing.push(o.index),
                }
            }
        }
        if missing.is_empty() {
            return heads;
        }
        let written: Vec<(usize, Arc<str>)> = missing
            .into_iter()
            .map(|i| (i, Arc::from(open_head(&rows[i]))))
            .collect();
        let mut known = self.0.lock().expect("not poisoned");
        if known.len() + written.len() > RECORDED_HEADS {
            known.clear();
        }
        for (i, head) in written {
            known.insert(rows[i].ticket_id.clone(), (rows[i].clone(), head.clone()));
            heads[i] = head;
        }
        heads
    }
}

/// The payload as JSON, `heads[i]` = `open_head(&open_rows[i])` for each open feature
/// of the rows it was computed from: the live set's (written once per data change) or
/// `RecordedHeads::of`.
pub fn write_json(c: &Payload, heads: &[impl AsRef<str>]) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 * 1024 + 520 * (c.open.len() + c.closed.len()));
    field(&mut out, "{\"window\":", &c.window)?;
    field(&mut out, ",\"filters\":", &c.filters)?;
    out.extend_from_slice(b",\"open\":{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, o) in c.open().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(heads[o.index].as_ref().as_bytes());
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
