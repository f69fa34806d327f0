//! The payload's bytes, written fast: every open feature of the live set but its two
//! `as_of`-dependent properties is serialised once per data change (`open_head`), so a
//! cache miss only splices those heads with `hours_open` and `sla_state`; a recorded
//! payload's open features the same way, each version's head (and closed feature)
//! written once per data change (`RecordedFeatures`); the closed features of the recent
//! tickets (`recent`) are written once per data change too, and copied. The output is
//! byte for byte what serde writes for the typed `Dashboard` (a test holds the two
//! together).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;
use serde::Serialize;

use super::sla::{self, OpenSla};
use super::{features, prefetch};
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

    /// Hints that `get(i)` is about to be read (`prefetch`).
    fn prefetch(&self, i: usize) {
        let piece = self.get(i);
        prefetch::bytes(piece.as_ptr(), piece.len());
    }

    /// The bytes they hold.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// The open features' heads a payload's JSON splices, by open row (`Open::index`).
pub trait Heads {
    fn head(&self, i: usize) -> &[u8];

    /// Hints that `head(i)` is about to be read.
    fn prefetch(&self, _i: usize) {}
}

/// Written once per data change: the live set's and the recent history's, in one buffer
/// (a request reads a few thousand of them, scattered: one allocation each would cost a
/// cache miss more per head).
impl Heads for Pieces {
    fn head(&self, i: usize) -> &[u8] {
        self.get(i)
    }

    fn prefetch(&self, i: usize) {
        Pieces::prefetch(self, i);
    }
}

/// Written per recorded miss (`RecordedFeatures::open_heads`).
impl<S: AsRef<str>> Heads for Vec<S> {
    fn head(&self, i: usize) -> &[u8] {
        self[i].as_ref().as_bytes()
    }
}

/// `heads[i]`: `open_head(&tickets[i])` if it is open, else empty.
pub fn open_heads(tickets: &[Ticket]) -> Pieces {
    Pieces::of(tickets, |t, out| {
        if t.is_open() {
            out.extend_from_slice(open_head(t).as_bytes());
        }
    })
}

/// `closed[i]`: the closed feature of `tickets[i]` if it has `closed_at`, else empty. A
/// closed feature does not depend on `as_of`, so it is written once per data change for
/// the tickets held in memory (`recent`, `versions`).
pub fn closed_features(tickets: &[Ticket]) -> Pieces {
    Pieces::of(tickets, |t, out| {
        if t.closed_at.is_some() {
            let feature = features::closed(t, sla::closed(t.sla_status.as_deref()));
            serde_json::to_writer(out, &feature).expect("a feature serialises");
        }
    })
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

/// The features that a generation's recorded payloads have written, per ticket, each
/// with the version (over its current row's fields) it was written from: the open
/// features' heads and the closed features whole (neither depends on `as_of`). A
/// recorded miss writes those of the versions it has not met yet and reuses the rest:
/// the instants a user replays (a slider's steps, a post-mortem's hour) share most of
/// their versions. A new generation starts empty, as `places` does (and is keyed with
/// the same fast hash).
#[derive(Debug, Default)]
pub struct RecordedFeatures {
    open: Written,
    closed: Written,
}

type Written = Mutex<HashMap<Text, (Ticket, Arc<str>), RandomState>>;

/// At most this many tickets are kept in each map (~1 KB each with their versions);
/// past it the map starts again. A generation at 1M tickets replays ~25,000 open ones.
const RECORDED_FEATURES: usize = 100_000;

impl RecordedFeatures {
    /// `heads[i]` = `open_head(&rows[i])` for each open feature of `c`, empty for the
    /// other rows: what `write_json` splices.
    pub fn open_heads(&self, c: &Payload) -> Vec<Arc<str>> {
        let mut heads: Vec<Arc<str>> = vec![Arc::from(""); c.open_rows().len()];
        let written = reuse(&self.open, c.open().map(|o| (o.ticket, ())), |t, ()| {
            open_head(t)
        });
        for (o, head) in c.open().zip(written) {
            heads[o.index] = head;
        }
        heads
    }

    /// The closed features of `c`, in its order.
    pub fn closed(&self, c: &Payload) -> Vec<Arc<str>> {
        // The closed SLA is derived from the version's own fields (`compute`), so the
        // version is the key.
        reuse(&self.closed, c.closed(), |t, sla| {
            serde_json::to_string(&features::closed(t, sla)).expect("a feature serialises")
        })
    }
}

/// `write(t, with)` of each item, taken from `written` where its ticket's version is the
/// same (what it is written `with` must follow from the version), else written and kept.
fn reuse<'t, W: Copy>(
    written: &Written,
    items: impl Iterator<Item = (&'t Ticket, W)>,
    write: impl Fn(&Ticket, W) -> String,
) -> Vec<Arc<str>> {
    let items: Vec<(&Ticket, W)> = items.collect();
    let mut out: Vec<Option<Arc<str>>> = {
        let known = written.lock().expect("not poisoned");
        items
            .iter()
            .map(|(t, _)| match known.get(t.ticket_id.as_str()) {
                Some((version, piece)) if version == *t => Some(piece.clone()),
                _ => None,
            })
            .collect()
    };
    let new: Vec<(usize, Arc<str>)> = (0..items.len())
        .filter(|&i| out[i].is_none())
        .map(|i| (i, Arc::from(write(items[i].0, items[i].1))))
        .collect();
    if !new.is_empty() {
        let mut known = written.lock().expect("not poisoned");
        if known.len() + new.len() > RECORDED_FEATURES {
            known.clear();
        }
        for (i, piece) in new {
            let t = items[i].0;
            known.insert(t.ticket_id.clone(), (t.clone(), piece.clone()));
            out[i] = Some(piece);
        }
    }
    out.into_iter().map(|p| p.expect("written above")).collect()
}

/// The payload as JSON, `heads.head(i)` = `open_head(&open_rows[i])` for each open
/// feature of the rows it was computed from: the live set's or the recent history's
/// (written once per data change) or `RecordedFeatures::open_heads`. The closed features
/// are the recent tickets' or the recent history's (written once per data change),
/// `closed` (`RecordedFeatures::closed`) or written here.
pub fn write_json(
    c: &Payload,
    heads: &(impl Heads + ?Sized),
    closed: Option<&[Arc<str>]>,
) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 * 1024 + 520 * (c.open.len() + c.closed.len()));
    field(&mut out, "{\"window\":", &c.window)?;
    field(&mut out, ",\"filters\":", &c.filters)?;
    out.extend_from_slice(b",\"open\":{\"type\":\"FeatureCollection\",\"features\":[");
    let open: Vec<Open> = c.open().collect();
    for (n, o) in prefetch::ahead(&open, |o| heads.prefetch(o.index)).enumerate() {
        comma(&mut out, n);
        out.extend_from_slice(heads.head(o.index));
        out.extend_from_slice(b"\"hours_open\":");
        serde_json::to_writer(&mut out, &o.hours_open)?;
        out.extend_from_slice(b",\"sla_state\":");
        serde_json::to_writer(&mut out, &o.state)?;
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]},\"closed\":{\"type\":\"FeatureCollection\",\"features\":[");
    let by_row = match c.window_rows() {
        WindowRows::Recent(recent) => Some(&recent.closed),
        WindowRows::Held(held, _) => Some(&held.closed),
        WindowRows::Queried(_) | WindowRows::Open(_) => None,
    };
    match (by_row, closed) {
        (Some(pieces), _) => {
            let positions: Vec<usize> = c.closed_positions().collect();
            for (n, &i) in prefetch::ahead(&positions, |&i| pieces.prefetch(i)).enumerate() {
                comma(&mut out, n);
                out.extend_from_slice(pieces.get(i));
            }
        }
        (_, Some(closed)) => {
            for (n, piece) in closed.iter().enumerate() {
                comma(&mut out, n);
                out.extend_from_slice(piece.as_bytes());
            }
        }
        (_, None) => {
            for (n, (t, s)) in c.closed().enumerate() {
                comma(&mut out, n);
                serde_json::to_writer(&mut out, &features::closed(t, s))?;
            }
        }
    }
    out.extend_from_slice(b"]}");
    field(&mut out, ",\"metrics\":", &c.metrics)?;
    field(&mut out, ",\"freshness\":", &c.freshness)?;
    field(&mut out, ",\"replay\":", &c.replay)?;
    out.push(b'}');
    Ok(out)
}

/// The separator before the `n`th item of a JSON array.
fn comma(out: &mut Vec<u8>, n: usize) {
    if n > 0 {
        out.push(b',');
    }
}

fn field(out: &mut Vec<u8>, name: &str, value: &impl Serialize) -> serde_json::Result<()> {
    out.extend_from_slice(name.as_bytes());
    serde_json::to_writer(out, value)
}
