//! A cached response body: its JSON, the encodings made of it so far and its strong ETag.

use std::time::{Duration, Instant};

use axum::body::Body as HttpBody;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::OnceCell;

use super::compress;

pub struct Body {
    json: Bytes,
    gzip: OnceCell<Bytes>,
    br: OnceCell<Bytes>,
    etag: HeaderValue,
    created: Instant,
}

impl Body {
    pub fn new(json: Vec<u8>) -> Body {
        let hash = xxhash_rust::xxh3::xxh3_128(&json);
        Body {
            etag: HeaderValue::from_str(&format!("\"{hash:032x}\""))
                .expect("hex is a valid header"),
            json: Bytes::from(json),
            gzip: OnceCell::new(),
            br: OnceCell::new(),
            created: Instant::now(),
        }
    }

    /// The strong ETag of the body (its hash, quoted).
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// Bytes held: the JSON and the encodings made so far.
    pub fn bytes(&self) -> usize {
        let made = |cell: &OnceCell<Bytes>| cell.get().map_or(0, Bytes::len);
        self.json.len() + made(&self.gzip) + made(&self.br)
    }

    /// The body in `encoding`, and whether that encoding was made by this call.
    async fn encoded(&self, encoding: Encoding) -> (Bytes, bool) {
        type Compress = fn(&[u8]) -> Vec<u8>;
        let (cell, compress): (&OnceCell<Bytes>, Compress) = match encoding {
            Encoding::Identity => return (self.json.clone(), false),
            Encoding::Gzip => (&self.gzip, compress::gzip),
            Encoding::Brotli => (&self.br, compress::brotli),
        };
        let mut made = false;
        let bytes = cell
            .get_or_init(|| async {
                made = true;
                let json = self.json.clone();
                let compressed = tokio::task::spawn_blocking(move || compress(&json))
                    .await
                    .expect("compression does not panic");
                Bytes::from(compressed)
            })
            .await
            .clone();
        (bytes, made)
    }

    /// The response for a request with these headers: 304 when `If-None-Match` matches,
    /// else the body in the best encoding the client accepts; and whether the body grew
    /// (an encoding made for it).
    pub async fn respond(&self, request: &HeaderMap, ttl: Duration) -> (Response, bool) {
        let max_age = ttl.saturating_sub(self.created.elapsed()).as_secs();
        let (mut response, grew) = if if_none_match(request, &self.etag) {
            let mut r = Response::new(HttpBody::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            (r, false)
        } else {
            let encoding = Encoding::negotiate(request, self.json.len());
            let (bytes, made) = self.encoded(encoding).await;
            let mut r = Response::new(HttpBody::from(bytes));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(name) = encoding.header() {
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
            }
            (r, made)
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, self.etag.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("private, max-age={max_age}")).expect("ascii"),
        );
        (response, grew)
    }
}

pub fn if_none_match(request: &HeaderMap, etag: &HeaderValue) -> bool {
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
    /// Brotli when accepted (gzip instead, when also accepted, for a body of more than
    /// `BROTLI_UP_TO` bytes), else gzip, else none (`q=0` refuses).
    fn negotiate(request: &HeaderMap, size: usize) -> Encoding {
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
        let gzip = accepted("gzip");
        if accepted("br") && (size <= compress::BROTLI_UP_TO || !gzip) {
            Encoding::Brotli
        } else if gzip {
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
        for (accepted, chosen) in [
            (None, Encoding::Identity),
            (Some("gzip, deflate"), Encoding::Gzip),
            (Some("gzip, deflate, br"), Encoding::Brotli),
            (Some("br;q=0, gzip;q=0.5"), Encoding::Gzip),
            (Some("identity"), Encoding::Identity),
        ] {
            let asked: Vec<(&str, &str)> = accepted
                .map(|a| ("accept-encoding", a))
                .into_iter()
                .collect();
            assert_eq!(
                Encoding::negotiate(&headers(&asked), 10),
                chosen,
                "{accepted:?}"
            );
        }
    }

    #[test]
    fn a_body_past_brotlis_size_goes_as_gzip_where_gzip_is_accepted() {
        let big = compress::BROTLI_UP_TO + 1;
        let both = headers(&[("accept-encoding", "gzip, br")]);
        assert_eq!(Encoding::negotiate(&both, big), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(&both, big - 1), Encoding::Brotli);
        let br = headers(&[("accept-encoding", "br")]);
        assert_eq!(Encoding::negotiate(&br, big), Encoding::Brotli);
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
        let body = Body::new(json.clone());
        let (gz, made) = body.encoded(Encoding::Gzip).await;
        assert!(made);
        assert_eq!(body.bytes(), json.len() + gz.len());
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        assert_eq!(plain, json);
        let (br, _) = body.encoded(Encoding::Brotli).await;
        assert_eq!(body.bytes(), json.len() + gz.len() + br.len());
        assert!(!body.encoded(Encoding::Gzip).await.1, "made once");
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut plain).unwrap();
        assert_eq!(plain, json);
        assert!(br.len() < json.len() / 4);
    }
}
