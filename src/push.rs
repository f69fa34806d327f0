//! Server-sent events for `GET /api/v1/events`: a bounded ring of the last events (for
//! `Last-Event-ID` replay), a broadcast to the connected clients, a cap on how many are
//! connected, and the shutdown that ends every stream. Frames are rendered once and
//! shared by every client (`Bytes` is reference-counted).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::{broadcast, watch};

/// Events kept for replay. Imports are hourly: this is days of them.
const RING: usize = 256;
/// Events a client may be behind before it is dropped: what one client can hold back
/// is bounded (the frames are shared; a receiver only keeps its position).
const CLIENT_BUFFER: usize = 16;
/// A comment line this often keeps proxies and browsers from timing the stream out.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// What a browser's `EventSource` waits before reconnecting (the `retry:` field), ms.
const RETRY_MS: u32 = 2000;

/// One rendered event: `id` is the import id it carries; `seq` orders this replica's
/// events (several may carry the same import id, e.g. after geocoding).
#[derive(Debug)]
pub struct Frame {
    seq: u64,
    id: i64,
    bytes: Bytes,
}

/// What a (re)connecting client is sent first.
#[derive(Debug, PartialEq, Eq)]
pub enum Resume {
    /// No `Last-Event-ID`: only what happens from now on.
    Fresh,
    /// The events after the client's last one (possibly none).
    Replay(Vec<Bytes>),
    /// The id cannot be resumed from (garbage, out of range, evicted, or from the
    /// future): one `resync` event, the client reloads everything.
    Resync(Bytes),
}

#[derive(Debug, Default)]
struct Ring {
    frames: VecDeque<Arc<Frame>>,
    /// Every event with an import id above this one is in `frames` (`None` until the
    /// import served at start is known).
    floor: Option<i64>,
    next_seq: u64,
}

impl Ring {
    fn latest(&self) -> Option<i64> {
        self.frames.back().map(|f| f.id).max(self.floor)
    }

    fn push(&mut self, id: i64, bytes: Bytes) -> Arc<Frame> {
        // Not known at start: the events from this one on can be replayed.
        self.floor.get_or_insert(id);
        self.next_seq += 1;
        let frame = Arc::new(Frame {
            seq: self.next_seq,
            id,
            bytes,
        });
        self.frames.push_back(frame.clone());
        if self.frames.len() > RING {
            if let Some(gone) = self.frames.pop_front() {
                self.floor = Some(self.floor.map_or(gone.id, |f| f.max(gone.id)));
            }
        }
        frame
    }

    /// Pure: what a client whose `Last-Event-ID` is `last` gets first.
    fn resume(&self, last: Option<&str>) -> Resume {
        let Some(last) = last else {
            return Resume::Fresh;
        };
        let latest = self.latest();
        let parsed = parse_id(last);
        match (parsed, self.floor, latest) {
            (Some(id), Some(floor), Some(latest)) if id >= floor && id <= latest => Resume::Replay(
                self.frames
                    .iter()
                    .filter(|f| f.id > id)
                    .map(|f| f.bytes.clone())
                    .collect(),
            ),
            _ => Resume::Resync(resync_frame(latest)),
        }
    }
}

/// An import id as a client sends it back: decimal digits that fit an `i64`.
fn parse_id(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `event: <name>`, `id:` and one `data:` line (JSON has no raw newlines).
pub fn frame(name: &str, id: Option<i64>, data: &str) -> Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    Bytes::from(format!("event: {name}\n{id}data: {data}\n\n"))
}

fn resync_frame(latest: Option<i64>) -> Bytes {
    let data = serde_json::json!({ "import_id": latest }).to_string();
    frame("resync", latest, &data)
}

/// The hub every stream of this replica hangs from.
#[derive(Clone)]
pub struct Push(Arc<Inner>);

struct Inner {
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<Frame>>,
    clients: AtomicUsize,
    max_clients: usize,
    closing: watch::Sender<bool>,
}

/// A connected client's place under `EVENTS_MAX_CLIENTS`, given back when dropped.
pub struct Slot(Arc<Inner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Push {
    pub fn new(max_clients: usize) -> Push {
        Push(Arc::new(Inner {
            ring: Mutex::default(),
            live: broadcast::channel(CLIENT_BUFFER).0,
            clients: AtomicUsize::new(0),
            max_clients,
            closing: watch::channel(false).0,
        }))
    }

    pub fn max_clients(&self) -> usize {
        self.0.max_clients
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.0.clients.load(Ordering::Relaxed)
    }

    /// A place for one more client, or `None` at the limit.
    pub fn admit(&self) -> Option<Slot> {
        let before = self.0.clients.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(self.0.clone());
        (before < self.0.max_clients).then_some(slot)
    }

    /// The import this replica served when it started: replay covers what comes after.
    pub fn start_at(&self, id: i64) {
        let mut ring = self.0.ring.lock().expect("not poisoned");
        ring.floor.get_or_insert(id);
    }

    /// Sends an event to every client and keeps it for replay.
    pub fn publish(&self, name: &str, id: i64, data: &str) {
        let mut ring = self.0.ring.lock().expect("not poisoned");
        let frame = ring.push(id, frame(name, Some(id), data));
        // Sent under the lock: a client subscribing meanwhile sees it in one place or
        // the other (duplicates are skipped by `seq`).
        self.0.live.send(frame).ok();
    }

    /// Ends every stream (at shutdown); new ones end at once.
    pub fn close(&self) {
        self.0.closing.send_replace(true);
    }

    /// The body of one client's stream: `retry:`, what `Last-Event-ID` calls for, then
    /// the live events and a heartbeat comment every `HEARTBEAT`. It ends at shutdown,
    /// or when the client fell `CLIENT_BUFFER` events behind (it reconnects and
    /// resumes from its `Last-Event-ID`).
    pub fn stream(
        &self,
        slot: Slot,
        last_event_id: Option<&str>,
    ) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
        let (rx, first, seen) = {
            let ring = self.0.ring.lock().expect("not poisoned");
            let rx = self.0.live.subscribe();
            let first = match ring.resume(last_event_id) {
                Resume::Fresh => Vec::new(),
                Resume::Replay(frames) => frames,
                Resume::Resync(frame) => vec![frame],
            };
            (rx, first, ring.next_seq)
        };
        let mut queue: VecDeque<Bytes> = first.into();
        queue.push_front(Bytes::from(format!("retry: {RETRY_MS}\n\n")));
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let client = Client {
            queue,
            seen,
            rx,
            heartbeat,
            closing: self.0.closing.subscribe(),
            _slot: slot,
        };
        futures::stream::unfold(client, |mut client| async move {
            let bytes = client.next().await?;
            Some((Ok(bytes), client))
        })
    }
}

struct Client {
    queue: VecDeque<Bytes>,
    /// The last `seq` sent (or replayed): live frames up to it are not sent again.
    seen: u64,
    rx: broadcast::Receiver<Arc<Frame>>,
    heartbeat: tokio::time::Interval,
    closing: watch::Receiver<bool>,
    _slot: Slot,
}

impl Client {
    async fn next(&mut self) -> Option<Bytes> {
        if *self.closing.borrow() {
            return None;
        }
        if let Some(bytes) = self.queue.pop_front() {
            return Some(bytes);
        }
        loop {
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(frame) if frame.seq <= self.seen => continue,
                    Ok(frame) => {
                        self.seen = frame.seq;
                        return Some(frame.bytes.clone());
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "an event stream fell behind; dropping it");
                        return None;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": heartbeat\n\n")),
                _ = self.closing.wait_for(|closing| *closing) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn ring(floor: Option<i64>, ids: &[i64]) -> Ring {
        let mut ring = Ring {
            floor,
            ..Ring::default()
        };
        for &id in ids {
            ring.push(
                id,
                frame("data_changed", Some(id), &format!("{{\"n\":{id}}}")),
            );
        }
        ring
    }

    fn texts(resume: Resume) -> Vec<String> {
        match resume {
            Resume::Replay(frames) => frames
                .iter()
                .map(|b| String::from_utf8(b.to_vec()).unwrap())
                .collect(),
            other => panic!("not a replay: {other:?}"),
        }
    }

    #[test]
    fn replays_what_came_after_the_last_event_id() {
        let r = ring(Some(10), &[11, 12, 12, 14]);
        assert_eq!(r.resume(None), Resume::Fresh);
        assert_eq!(
            texts(r.resume(Some("12"))),
            ["event: data_changed\nid: 14\ndata: {\"n\":14}\n\n"]
        );
        assert_eq!(texts(r.resume(Some("10"))).len(), 4);
        assert_eq!(texts(r.resume(Some(" 13 "))).len(), 1, "ids between events");
        assert!(texts(r.resume(Some("14"))).is_empty(), "up to date");
    }

    #[test]
    fn garbage_huge_old_or_future_ids_resync_once() {
        let r = ring(Some(10), &[11, 12]);
        let resync = Resume::Resync(Bytes::from(
            "event: resync\nid: 12\ndata: {\"import_id\":12}\n\n",
        ));
        for bad in [
            "",
            "x",
            "-1",
            "12a",
            "1e3",
            "9",
            "13",
            "99999999999999999999999",
            "１２",
        ] {
            assert_eq!(r.resume(Some(bad)), resync, "{bad:?}");
        }
        let unknown = ring(None, &[]);
        assert_eq!(
            unknown.resume(Some("5")),
            Resume::Resync(Bytes::from("event: resync\ndata: {\"import_id\":null}\n\n"))
        );
    }

    #[test]
    fn evicted_events_raise_the_floor() {
        let ids: Vec<i64> = (1..=RING as i64 + 5).collect();
        let r = ring(Some(0), &ids);
        assert_eq!(r.frames.len(), RING);
        assert_eq!(r.floor, Some(5));
        assert!(matches!(r.resume(Some("4")), Resume::Resync(_)));
        assert_eq!(texts(r.resume(Some("5"))).len(), RING);
    }

    #[tokio::test]
    async fn admits_up_to_the_limit_and_frees_places() {
        let push = Push::new(2);
        let (a, b) = (push.admit(), push.admit());
        assert!(a.is_some() && b.is_some());
        assert!(push.admit().is_none());
        assert_eq!(push.clients(), 2);
        drop(a);
        assert!(push.admit().is_some());
        assert_eq!(push.clients(), 1);
    }

    async fn next(
        stream: &mut (impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Unpin),
    ) -> Option<String> {
        let bytes = stream.next().await?.unwrap();
        Some(String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_stream_gets_replay_then_live_events_without_duplicates_and_ends_at_close() {
        let push = Push::new(10);
        push.start_at(1);
        push.publish("data_changed", 2, "{}");
        let mut stream = Box::pin(push.stream(push.admit().unwrap(), Some("1")));
        assert_eq!(next(&mut stream).await.unwrap(), "retry: 2000\n\n");
        assert_eq!(
            next(&mut stream).await.unwrap(),
            "event: data_changed\nid: 2\ndata: {}\n\n"
        );
        push.publish("data_changed", 3, "{}");
        assert_eq!(
            next(&mut stream).await.unwrap(),
            "event: data_changed\nid: 3\ndata: {}\n\n"
        );
        push.close();
        assert_eq!(next(&mut stream).await, None);
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_is_dropped() {
        let push = Push::new(10);
        push.start_at(0);
        let mut stream = Box::pin(push.stream(push.admit().unwrap(), None));
        stream.next().await; // retry:
        for id in 1..=(CLIENT_BUFFER as i64 + 1) {
            push.publish("data_changed", id, "{}");
        }
        assert!(stream.next().await.is_none());
        drop(stream);
        assert_eq!(push.clients(), 0, "its place is given back");
    }
}
