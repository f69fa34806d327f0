//! Cached response bodies: serialised once, compressed at most once per encoding, with
//! a strong ETag; dropped after the TTL and whenever the data changes (on every replica,
//! through the "data changed" event, see `live`).

use std::any::Any;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::error::ApiError;
use crate::metrics::Metrics;

/// A response body and its encodings, with the typed value it was rendered from (so
/// another renderer, e.g. Grafana, reads the same entry without parsing the bytes).
pub struct CachedBody {
    json: Bytes,
    gzip: OnceCell<Bytes>,
    br: OnceCell<Bytes>,
    etag: HeaderValue,
    created: Instant,
    typed: Option<Arc<dyn Any + Send + Sync>>,
}

impl CachedBody {
    pub fn new(json: Vec<u8>) -> CachedBody {
        let hash = xxhash_rust::xxh3::xxh3_128(&json);
        CachedBody {
            etag: HeaderValue::from_str(&format!("\"{hash:032x}\""))
                .expect("hex is a valid header"),
            json: Bytes::from(json),
            gzip: OnceCell::new(),
            br: OnceCell::new(),
            created: Instant::now(),
            typed: None,
        }
    }

    /// The body `json`, rendered from `value`.
    pub fn of<T: Any + Send + Sync>(json: Vec<u8>, value: Arc<T>) -> CachedBody {
        CachedBody {
            typed: Some(value),
            ..CachedBody::new(json)
        }
    }

    /// The strong ETag of the body (its hash, quoted).
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The typed value the body was rendered from, if it is a `T`.
    pub fn typed<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.typed.clone()?.downcast().ok()
    }

    async fn encoded(&self, encoding: Encoding) -> Bytes {
        type Compress = fn(&[u8]) -> Vec<u8>;
        let (cell, compress): (&OnceCell<Bytes>, Compress) = match encoding {
            Encoding::Identity => return self.json.clone(),
            Encoding::Gzip => (&self.gzip, gzip),
            Encoding::Brotli => (&self.br, brotli),
        };
        cell.get_or_init(|| async {
            let json = self.json.clone();
            let compressed = tokio::task::spawn_blocking(move || compress(&json))
                .await
                .expect("compression does not panic");
            Bytes::from(compressed)
        })
        .await
        .clone()
    }

    /// The response for a request with these headers: 304 when `If-None-Match` matches,
    /// else the body in the best encoding the client accepts.
    pub async fn respond(&self, request: &HeaderMap, ttl: Duration) -> Response {
        let max_age = ttl.saturating_sub(self.created.elapsed()).as_secs();
        let mut response = if if_none_match(request, &self.etag) {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let encoding = Encoding::negotiate(request);
            let mut r = Response::new(Body::from(self.encoded(encoding).await));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(name) = encoding.header() {
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
            }
            r
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, self.etag.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("private, max-age={max_age}")).expect("ascii"),
        );
        response
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8),
        flate2::Compression::new(4),
    );
    e.write_all(data).expect("writing to memory");
    e.finish().expect("writing to memory")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 8);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).expect("writing to memory");
    out
}

pub(super) fn if_none_match(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default();
    request.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// Brotli when accepted, else gzip, else none (`q=0` refuses).
    fn negotiate(request: &HeaderMap) -> Encoding {
        let accepted = |name: &str| {
            request.get_all(header::ACCEPT_ENCODING).iter().any(|v| {
                v.to_str().unwrap_or_default().split(',').any(|item| {
                    let mut parts = item.split(';').map(str::trim);
                    let coding = parts.next().unwrap_or_default();
                    let q = parts
                        .find_map(|p| p.strip_prefix("q="))
                        .and_then(|q| q.parse::<f32>().ok())
                        .unwrap_or(1.0);
                    coding.eq_ignore_ascii_case(name) && q > 0.0
                })
            })
        };
        if accepted("br") {
            Encoding::Brotli
        } else if accepted("gzip") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// A moka cache of bodies keyed by `K` (normalised request parameters).
#[derive(Clone)]
pub struct ResponseCache<K> {
    cache: moka::future::Cache<K, Arc<CachedBody>>,
    pub ttl: Duration,
    metrics: Arc<Metrics>,
}

impl<K: Hash + Eq + Send + Sync + Clone + 'static> ResponseCache<K> {
    pub fn new(ttl: Duration, metrics: Arc<Metrics>) -> Self {
        let cache = moka::future::Cache::builder()
            .time_to_live(ttl.max(Duration::from_millis(1)))
            // At most ~256 MiB of JSON bodies (an entry weighs its JSON in KiB; its
            // compressed copies add about a tenth).
            .weigher(|_, body: &Arc<CachedBody>| {
                u32::try_from(body.json.len() / 1024 + 1).unwrap_or(u32::MAX)
            })
            .max_capacity(256 * 1024)
            .build();
        ResponseCache {
            cache,
            ttl,
            metrics,
        }
    }

    /// The cached body, or the one `build` makes (concurrent misses build it once).
    pub async fn get_or_build<F>(&self, key: K, build: F) -> Result<Arc<CachedBody>, ApiError>
    where
        F: std::future::Future<Output = Result<Vec<u8>, ApiError>>,
    {
        self.get_or_build_body(key, async { build.await.map(CachedBody::new) })
            .await
    }

    /// The same, for a build that keeps its typed value beside the bytes.
    pub async fn get_or_build_body<F>(&self, key: K, build: F) -> Result<Arc<CachedBody>, ApiError>
    where
        F: std::future::Future<Output = Result<CachedBody, ApiError>>,
    {
        if self.ttl.is_zero() {
            Metrics::outcome(&self.metrics.cache, "miss");
            return Ok(Arc::new(build.await?));
        }
        let entry = self
            .cache
            .entry(key)
            .or_try_insert_with(async { build.await.map(Arc::new) })
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

    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn negotiates_encodings() {
        assert_eq!(Encoding::negotiate(&headers(&[])), Encoding::Identity);
        assert_eq!(
            Encoding::negotiate(&headers(&[("accept-encoding", "gzip, deflate")])),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::negotiate(&headers(&[("accept-encoding", "gzip, deflate, br")])),
            Encoding::Brotli
        );
        assert_eq!(
            Encoding::negotiate(&headers(&[("accept-encoding", "br;q=0, gzip;q=0.5")])),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::negotiate(&headers(&[("accept-encoding", "identity")])),
            Encoding::Identity
        );
    }

    #[test]
    fn matches_if_none_match_lists_and_weak_tags() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(if_none_match(
            &headers(&[("if-none-match", "\"abc\"")]),
            &etag
        ));
        assert!(if_none_match(
            &headers(&[("if-none-match", "\"x\", W/\"abc\"")]),
            &etag
        ));
        assert!(if_none_match(&headers(&[("if-none-match", "*")]), &etag));
        assert!(!if_none_match(
            &headers(&[("if-none-match", "\"abd\"")]),
            &etag
        ));
        assert!(!if_none_match(&headers(&[]), &etag));
    }

    #[tokio::test]
    async fn encodings_decode_to_the_same_json() {
        let json = br#"{"a":[1,2,3],"b":"x"}"#.repeat(100);
        let body = CachedBody::new(json.clone());
        let gz = body.encoded(Encoding::Gzip).await;
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        assert_eq!(plain, json);
        let br = body.encoded(Encoding::Brotli).await;
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut plain).unwrap();
        assert_eq!(plain, json);
        assert!(br.len() < json.len() / 4);
    }
}
