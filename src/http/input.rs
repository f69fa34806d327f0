//! What no route can use is refused before any handler runs, with a 4xx JSON error
//! naming what was wrong: a URI longer than any real request, and path segments or query
//! parameters that are not UTF-8 once percent-decoded, hold control characters
//! (PostgreSQL refuses NUL in text, and no ticket id, cluster or date has one) or are
//! longer than any real value.

use std::borrow::Cow;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::params::ParamError;

/// The longest path and query accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The longest decoded parameter value or path segment accepted, in characters (as
/// JSON Schema's `maxLength` counts them, so the OpenAPI document can say it).
pub const MAX_VALUE_CHARS: usize = 1024;
/// The largest header field (name and value) and the largest total accepted. Both are
/// far below hyper's own limit (a ~400 KiB head, 100 fields), whose 431 has no body.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
pub const MAX_HEADERS_BYTES: usize = 32 * 1024;

pub async fn guard(request: Request, next: Next) -> Response {
    match check_headers(request.headers()).and_then(|()| check(request.uri())) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// A 431 naming the largest field when one field or all of them are too large.
fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    fn size<'a>((n, v): (&'a HeaderName, &HeaderValue)) -> (&'a HeaderName, usize) {
        (n, n.as_str().len() + v.len())
    }
    let total: usize = headers.iter().map(|h| size(h).1).sum();
    let Some((largest, size)) = headers.iter().map(size).max_by_key(|&(_, size)| size) else {
        return Ok(());
    };
    if size > MAX_HEADER_BYTES || total > MAX_HEADERS_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request's headers are {total} bytes, the largest `{largest}` {size} bytes; \
             at most {MAX_HEADER_BYTES} bytes a header and {MAX_HEADERS_BYTES} in all are accepted"
        )));
    }
    Ok(())
}

fn check(uri: &Uri) -> Result<(), ApiError> {
    let length = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if length > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(MAX_URI_BYTES));
    }
    for segment in uri.path().split('/') {
        let decoded: Cow<[u8]> = percent_encoding::percent_decode_str(segment).into();
        text(&decoded).map_err(|why| ApiError::BadRequest(format!("a path segment {why}")))?;
    }
    for pair in uri.query().unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name);
        let label = match text(&name) {
            Ok(name) => name.to_owned(),
            Err(why) => {
                return Err(ApiError::BadRequest(format!("a parameter name {why}")));
            }
        };
        text(&form_decode(value)).map_err(|why| {
            ApiError::BadParameter(ParamError {
                param: label,
                detail: format!("the value {why}"),
            })
        })?;
    }
    Ok(())
}

/// For routes that take no query parameters: any given is refused by name, as the
/// dashboard refuses unknown ones (a typo must not be silently ignored).
pub struct NoParameters;

impl<S: Send + Sync> FromRequestParts<S> for NoParameters {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        match form_urlencoded::parse(query.as_bytes()).next() {
            None => Ok(NoParameters),
            Some((name, _)) => Err(ApiError::BadParameter(ParamError {
                param: name.into_owned(),
                detail: "unknown parameter (this route takes none)".into(),
            })),
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Vec<u8> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space).collect()
}

/// The decoded bytes as text, or why they are refused.
fn text(bytes: &[u8]) -> Result<&str, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 once percent-decoded")?;
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "holds the control character U+{:04X}, which no value can contain",
            u32::from(c)
        ));
    }
    match s.chars().count() {
        n if n > MAX_VALUE_CHARS => Err(format!(
            "is {n} characters long; at most {MAX_VALUE_CHARS} are accepted"
        )),
        _ => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(uri: &str) -> Option<(String, Option<String>)> {
        check(&uri.parse().unwrap()).err().map(|e| match e {
            ApiError::BadParameter(p) => (p.detail, Some(p.param)),
            ApiError::BadRequest(d) => (d, None),
            ApiError::UriTooLong(n) => (format!("too long {n}"), None),
            other => panic!("unexpected {other:?}"),
        })
    }

    #[test]
    fn ordinary_requests_pass() {
        for uri in [
            "/api/v1/inc/dashboard",
            "/api/v1/inc/dashboard?window=week&cluster=Westlands,Kilimani&cluster=Quarry+Road",
            "/api/v1/inc/dashboard?as_of=2026-06-16T10:00:00%2B03:00&&status=",
            "/api/v1/inc/tickets/INC%2000123",
            "/?cluster=Mt%20Kenya%20%E2%80%93%20North",
        ] {
            assert_eq!(refusal(uri), None, "{uri}");
        }
    }

    #[test]
    fn control_characters_and_bad_utf8_are_named() {
        let (detail, param) = refusal("/api/v1/inc/dashboard?cluster=%00").unwrap();
        assert_eq!(param.as_deref(), Some("cluster"));
        assert!(detail.contains("U+0000"), "{detail}");
        let (detail, param) = refusal("/x?status=a%0Ab").unwrap();
        assert_eq!(param.as_deref(), Some("status"));
        assert!(detail.contains("U+000A"), "{detail}");
        let (detail, param) = refusal("/x?from=%FF%FE").unwrap();
        assert_eq!(param.as_deref(), Some("from"));
        assert!(detail.contains("not UTF-8"), "{detail}");
        let (detail, param) = refusal("/x?%FF=1").unwrap();
        assert_eq!(param, None);
        assert!(
            detail.starts_with("a parameter name is not UTF-8"),
            "{detail}"
        );
        let (detail, _) = refusal("/api/v1/inc/tickets/%00").unwrap();
        assert!(detail.starts_with("a path segment holds the control character U+0000"));
        let (detail, _) = refusal("/api/v1/inc/tickets/%C3%28").unwrap();
        assert!(detail.contains("not UTF-8"), "{detail}");
    }

    #[test]
    fn values_and_uris_longer_than_any_real_one_are_refused() {
        let value = "a".repeat(MAX_VALUE_CHARS + 1);
        let (detail, param) = refusal(&format!("/x?cluster={value}")).unwrap();
        assert_eq!(param.as_deref(), Some("cluster"));
        assert!(detail.contains("1025 characters long"), "{detail}");
        assert_eq!(
            refusal(&format!("/x?cluster={}", "a".repeat(MAX_VALUE_CHARS))),
            None
        );
        // Characters, not bytes: 600 two-byte characters pass.
        assert_eq!(
            refusal(&format!("/x?cluster={}", "%C3%A9".repeat(600))),
            None
        );
        let long = format!("/x?{}", "a=1&".repeat(MAX_URI_BYTES / 4 + 1));
        assert_eq!(
            refusal(&long).unwrap().0,
            format!("too long {MAX_URI_BYTES}")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]

        /// Whatever the query, the guard and then the dashboard's parser answer without
        /// panicking; what the guard lets through is UTF-8 without control characters,
        /// and a window the parser accepts prints with four-digit years.
        #[test]
        fn no_query_panics_and_accepted_dates_are_in_range(
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["window", "from", "to", "as_of", "cluster", "status", "x"]),
                    proptest::prelude::any::<String>(),
                ),
                0..5,
            )
        ) {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let uri: Uri = format!("/api/v1/inc/dashboard?{query}").parse().unwrap();
            if check(&uri).is_ok() {
                let now = chrono::Utc::now();
                if let Ok(r) = crate::params::parse(&query, now) {
                    let four_digits = |t| crate::eat::rfc3339(t).as_bytes()[..4].iter().all(u8::is_ascii_digit);
                    proptest::prop_assert!(four_digits(r.window.from) && four_digits(r.window.to));
                    proptest::prop_assert!(r.window.from < r.window.to);
                }
            }
        }
    }
}
