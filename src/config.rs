//! Configuration: every setting is an environment variable with a matching CLI flag and
//! a documented default (see the README's table).

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; the database is created when missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/fleettickets"
    )]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// `statement_timeout` of the read path, in seconds (imports set their own).
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_SECS", default_value_t = 10)]
    pub db_statement_timeout_secs: u64,
}

impl DatabaseConfig {
    pub fn new(database_url: impl Into<String>) -> DatabaseConfig {
        DatabaseConfig {
            database_url: database_url.into(),
            db_max_connections: 10,
            db_statement_timeout_secs: 10,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct HttpConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen_addr: "127.0.0.1:0".into(),
        }
    }
}
