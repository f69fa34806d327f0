//! Bearer tokens with a role, as extractors: `Reader` for the read API, `Admin` for
//! admin routes. Tokens never reach the logs (only their names do).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::ExposeSecret;

use super::error::ApiError;
use super::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Reader,
    Admin,
}

#[derive(Clone)]
struct Token {
    name: String,
    role: Role,
    secret: secrecy::SecretString,
}

/// The configured tokens (`name:role:token,...`).
#[derive(Clone, Default)]
pub struct Tokens(Vec<Token>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|t| &t.name))
            .finish()
    }
}

impl Tokens {
    pub fn parse(spec: &str) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(secret)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err("API_TOKENS entries are name:role:token".into());
            };
            let role = match role {
                "reader" => Role::Reader,
                "admin" => Role::Admin,
                other => {
                    return Err(format!(
                        "API_TOKENS: token {name:?} has role {other:?}; use reader or admin"
                    ))
                }
            };
            if secret.len() < 16 {
                return Err(format!(
                    "API_TOKENS: token {name:?} is shorter than 16 characters"
                ));
            }
            tokens.push(Token {
                name: name.to_owned(),
                role,
                secret: secret.into(),
            });
        }
        Ok(Tokens(tokens))
    }

    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// The role of the request's bearer token; `Err(Unauthorized)` for a missing or wrong one.
    fn role(&self, parts: &Parts) -> Result<Role, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        self.0
            .iter()
            .find(|t| constant_time_eq(t.secret.expose_secret().as_bytes(), presented.as_bytes()))
            .map(|t| {
                tracing::debug!(token = %t.name, "authenticated");
                t.role
            })
            .ok_or(ApiError::Unauthorized)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// May read: any valid token, or anyone when no token is configured.
pub struct Reader;

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.tokens.is_open() {
            return Ok(Reader);
        }
        state.tokens.role(parts).map(|_| Reader)
    }
}

/// May run admin actions: an admin token (admin routes are refused without tokens).
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.tokens.is_open() {
            return Err(ApiError::Forbidden(
                "admin routes need API_TOKENS with an admin token",
            ));
        }
        match state.tokens.role(parts)? {
            Role::Admin => Ok(Admin),
            Role::Reader => Err(ApiError::Forbidden(
                "this token's role is reader; admin is required",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tokens_and_refuses_bad_specs() {
        let t = Tokens::parse(
            "grafana:reader:0123456789abcdef, ops:admin:fedcba9876543210:with:colons",
        )
        .unwrap();
        assert_eq!(
            format!("{t:?}"),
            r#"["grafana", "ops"]"#,
            "only names are printed"
        );
        assert_eq!(
            t.0[1].secret.expose_secret(),
            "fedcba9876543210:with:colons"
        );
        assert!(Tokens::parse("").unwrap().is_open());
        assert!(Tokens::parse("x:reader").is_err());
        assert!(Tokens::parse("x:root:0123456789abcdef").is_err());
        assert!(Tokens::parse("x:reader:short").is_err());
    }

    #[test]
    fn compares_in_constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
