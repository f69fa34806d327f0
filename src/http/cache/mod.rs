//! The response cache: each answer serialised once, compressed at most once per encoding,
//! with a strong ETag; dropped after the TTL and whenever the data changes (on every
//! replica, through the "data changed" event, see `live`). Its bound (`CACHE_MAX_MB`)
//! counts what an entry holds: its JSON, the encodings made so far and the typed value
//! other readers share.

mod body;
mod compress;
mod key;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use moka::ops::compute::Op;

pub use body::{if_none_match, Body};
pub use key::{BacklogKey, CacheKey, DashboardKey, JsonKey};

use super::error::ApiError;
use crate::dashboard::Payload;
use crate::history::Backlog;
use crate::metrics::Metrics;

/// What an entry holds, by its key's variant: the bytes, and the typed value they were
/// rendered from where another reader needs it (Grafana and the teams table read a
/// dashboard's payload, Grafana a backlog's series) without parsing the bytes.
#[derive(Clone)]
pub(crate) enum Cached {
    Dashboard(Arc<Body>, Arc<Payload>),
    Backlog(Arc<Body>, Arc<Backlog>),
    Json(Arc<Body>),
}

/// A value cached beside its JSON, under its own variant of key and of `Cached`.
pub(crate) trait Typed: Sized {
    type Key;
    fn key(key: Self::Key) -> CacheKey;
    fn cached(body: Arc<Body>, value: Arc<Self>) -> Cached;
    /// The body and value of an entry of this type.
    fn of(cached: Cached) -> Option<(Arc<Body>, Arc<Self>)>;
}

impl Typed for Payload {
    type Key = DashboardKey;

    fn key(key: DashboardKey) -> CacheKey {
        CacheKey::Dashboard(key)
    }

    fn cached(body: Arc<Body>, payload: Arc<Payload>) -> Cached {
        Cached::Dashboard(body, payload)
    }

    fn of(cached: Cached) -> Option<(Arc<Body>, Arc<Payload>)> {
        match cached {
            Cached::Dashboard(body, payload) => Some((body, payload)),
            _ => None,
        }
    }
}

impl Typed for Backlog {
    type Key = BacklogKey;

    fn key(key: BacklogKey) -> CacheKey {
        CacheKey::Backlog(key)
    }

    fn cached(body: Arc<Body>, series: Arc<Backlog>) -> Cached {
        Cached::Backlog(body, series)
    }

    fn of(cached: Cached) -> Option<(Arc<Body>, Arc<Backlog>)> {
        match cached {
            Cached::Backlog(body, series) => Some((body, series)),
            _ => None,
        }
    }
}

impl Cached {
    fn body(&self) -> &Arc<Body> {
        match self {
            Cached::Dashboard(body, _) | Cached::Backlog(body, _) | Cached::Json(body) => body,
        }
    }

    /// Bytes the entry keeps alive: the body's and its typed value's.
    fn bytes(&self) -> usize {
        let typed = match self {
            Cached::Dashboard(_, payload) => payload.heap_bytes(),
            Cached::Backlog(_, series) => {
                series.points.capacity() * std::mem::size_of::<crate::history::backlog::Point>()
            }
            Cached::Json(_) => 0,
        };
        self.body().bytes() + typed
    }
}

/// A cached body with the key it is stored under (to weigh it again when it grows).
pub struct Entry {
    key: CacheKey,
    body: Arc<Body>,
}

impl Entry {
    /// The strong ETag of the body (its hash, quoted).
    pub fn etag(&self) -> &HeaderValue {
        self.body.etag()
    }
}

/// Entries live for the TTL from their insertion: weighing one again after it gained
/// an encoding keeps its remaining time (moka's own `time_to_live` would restart it).
struct FromInsertion(Duration);

impl moka::Expiry<CacheKey, Cached> for FromInsertion {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        _: &Cached,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.0)
    }
}

#[derive(Clone)]
pub struct ResponseCache {
    /// `None` when caching is off (a TTL or a bound of 0).
    cache: Option<moka::future::Cache<CacheKey, Cached>>,
    pub ttl: Duration,
    metrics: Arc<Metrics>,
}

impl ResponseCache {
    /// A cache of at most `max_mib` MiB of entries, each for `ttl`; either 0 turns it off.
    pub fn new(ttl: Duration, max_mib: u64, metrics: Arc<Metrics>) -> Self {
        let cache = (!ttl.is_zero() && max_mib > 0).then(|| {
            moka::future::Cache::builder()
                .expire_after(FromInsertion(ttl))
                // Weights in KiB: a u32 weight then covers 4 TiB per entry.
                .weigher(|_, entry: &Cached| {
                    u32::try_from(entry.bytes().div_ceil(1024) + 1).unwrap_or(u32::MAX)
                })
                .max_capacity(max_mib.saturating_mul(1024))
                .build()
        });
        ResponseCache {
            cache,
            ttl,
            metrics,
        }
    }

    /// The entry of `key` with its typed value (a dashboard's payload, a backlog's
    /// series), or the one `build` makes.
    pub(crate) async fn typed<T, F>(
        &self,
        key: T::Key,
        build: F,
    ) -> Result<(Entry, Arc<T>), ApiError>
    where
        T: Typed,
        F: Future<Output = Result<(Body, T), ApiError>>,
    {
        let key = T::key(key);
        let build = async {
            let (body, value) = build.await?;
            Ok(T::cached(Arc::new(body), Arc::new(value)))
        };
        let cached = self.get_or_build(key.clone(), build).await?;
        let (body, value) = T::of(cached).expect("only `typed::<T>` inserts under T's keys");
        Ok((Entry { key, body }, value))
    }

    /// The bytes of `key`, or the JSON `build` writes.
    pub async fn json<F>(&self, key: JsonKey, build: F) -> Result<Entry, ApiError>
    where
        F: Future<Output = Result<Vec<u8>, ApiError>>,
    {
        let key = CacheKey::Json(key);
        let build = async { Ok(Cached::Json(Arc::new(Body::new(build.await?)))) };
        let body = self.get_or_build(key.clone(), build).await?.body().clone();
        Ok(Entry { key, body })
    }

    /// The cached value, or the one `build` makes (concurrent misses build it once).
    async fn get_or_build<F>(&self, key: CacheKey, build: F) -> Result<Cached, ApiError>
    where
        F: Future<Output = Result<Cached, ApiError>>,
    {
        let Some(cache) = &self.cache else {
            Metrics::outcome(&self.metrics.cache, "miss");
            return build.await;
        };
        let entry =
            cache
                .entry(key)
                .or_try_insert_with(build)
                .await
                .map_err(|e: Arc<ApiError>| match Arc::try_unwrap(e) {
                    Ok(e) => e,
                    Err(shared) => ApiError::Shared(shared),
                })?;
        Metrics::outcome(
            &self.metrics.cache,
            if entry.is_fresh() { "miss" } else { "hit" },
        );
        Ok(entry.into_value())
    }

    /// The response for a request with these headers: 304 when `If-None-Match` matches,
    /// else the body in the best encoding the client accepts. An encoding made now is
    /// counted against the bound at once.
    pub async fn respond(&self, entry: &Entry, request: &HeaderMap) -> Response {
        let (response, grew) = entry.body.respond(request, self.ttl).await;
        if let (true, Some(cache)) = (grew, &self.cache) {
            // Put back only the entry that grew: not one that replaced it meanwhile, nor
            // one the data's change dropped.
            cache
                .entry(entry.key.clone())
                .and_compute_with(|current| {
                    std::future::ready(match current {
                        Some(c) if Arc::ptr_eq(c.value().body(), &entry.body) => {
                            Op::Put(c.into_value())
                        }
                        _ => Op::Nop,
                    })
                })
                .await;
        }
        response
    }

    pub fn clear(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::tickets::ChoiceColumn;
    use axum::http::header::ACCEPT_ENCODING;

    fn cache(max_mib: u64) -> ResponseCache {
        ResponseCache::new(
            Duration::from_secs(60),
            max_mib,
            Arc::new(Metrics::default()),
        )
    }

    fn key(generation: u64) -> JsonKey {
        JsonKey::Choices {
            generation,
            column: ChoiceColumn::Cluster,
        }
    }

    async fn weighed_kib(cache: &ResponseCache) -> u64 {
        let moka = cache.cache.as_ref().expect("caching on");
        moka.run_pending_tasks().await;
        moka.weighted_size()
    }

    #[tokio::test]
    async fn an_entry_weighs_its_json_then_the_encodings_made_of_it() {
        let cache = cache(64);
        let json = br#"{"a":[1,2,3],"b":"x"}"#.repeat(10_000);
        let entry = cache
            .json(key(1), async { Ok(json.clone()) })
            .await
            .unwrap();
        let kib = |bytes: usize| bytes.div_ceil(1024) as u64 + 1;
        assert_eq!(weighed_kib(&cache).await, kib(json.len()));
        let mut gzip = HeaderMap::new();
        gzip.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        cache.respond(&entry, &gzip).await;
        let grown = entry.body.bytes();
        assert!(grown > json.len());
        assert_eq!(weighed_kib(&cache).await, kib(grown));
        // A hit is the same entry: nothing new to weigh.
        let again = cache.json(key(1), async { unreachable!() }).await.unwrap();
        assert!(Arc::ptr_eq(&again.body, &entry.body));
    }

    #[tokio::test]
    async fn the_bound_holds_and_zero_turns_the_cache_off() {
        let cache = cache(1);
        for generation in 0..5 {
            let json = vec![b' '; 400 * 1024];
            cache
                .json(key(generation), async { Ok(json) })
                .await
                .unwrap();
        }
        assert!(weighed_kib(&cache).await <= 1024);
        assert!(super::ResponseCache::new(
            Duration::from_secs(60),
            0,
            Arc::new(Metrics::default())
        )
        .cache
        .is_none());
    }
}
