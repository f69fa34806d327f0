//! Configuration: every setting is an environment variable with a matching CLI flag and
//! a documented default (see the README's table).

use clap::Args;
pub use secrecy::{ExposeSecret, SecretString};

/// Secrets are parsed straight into `SecretString`: their `Debug` is `[REDACTED]`, and
/// their flags say `hide_env_values` so `--help` never prints them.
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

#[derive(Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// PostgreSQL URL; the database is created when missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_parser = secret,
        default_value = "postgres://postgres@127.0.0.1:5432/fleettickets"
    )]
    pub database_url: SecretString,
    /// PostgreSQL URL of the read path (a hot standby of `DATABASE_URL`'s server); never
    /// migrated nor written. Unset: the read path uses `DATABASE_URL`.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true, value_parser = secret)]
    pub database_read_url: Option<SecretString>,
    /// How long a change may wait for the read database to replay it before `/readyz`
    /// says `lagging` (the data before it is served meanwhile); at start, how long to
    /// wait for the standby to catch up before giving up.
    #[arg(long, env = "REPLICA_WAIT_SECS", default_value_t = 30)]
    pub replica_wait_secs: u64,
    /// Connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// `statement_timeout` of the read path, in seconds (imports set their own).
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_SECS", default_value_t = 10)]
    pub db_statement_timeout_secs: u64,
    /// How long a request waits for a database connection before answering 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
}

impl DatabaseConfig {
    pub fn new(database_url: impl Into<String>) -> DatabaseConfig {
        DatabaseConfig {
            database_url: SecretString::from(database_url.into()),
            database_read_url: None,
            replica_wait_secs: 30,
            db_max_connections: 10,
            db_statement_timeout_secs: 10,
            db_acquire_timeout_secs: 5,
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct HttpConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: String,
    /// At SIGTERM or Ctrl-C: how long requests in flight may take to finish (an import
    /// in progress is rolled back at once) before the process exits anyway.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
}

/// Where the snapshots are: an S3-compatible bucket, or (with no `S3_ENDPOINT`) a local
/// folder with the same key layout.
#[derive(Args, Clone, Debug)]
pub struct BucketConfig {
    /// S3 endpoint URL (path-style addressing; `http://` allowed). Unset: local folder.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "S3_BUCKET", default_value = "tickets")]
    pub s3_bucket: String,
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    #[arg(long, env = "S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", hide_env_values = true, value_parser = secret)]
    pub s3_secret_access_key: Option<SecretString>,
    /// Retries of a failed bucket request (with exponential backoff) before giving up
    /// until the next run.
    #[arg(long, env = "S3_MAX_RETRIES", default_value_t = 3)]
    pub s3_max_retries: usize,
    /// Timeout of one bucket request, in seconds.
    #[arg(long, env = "S3_TIMEOUT_SECS", default_value_t = 30)]
    pub s3_timeout_secs: u64,
    /// The local-folder bucket used when `S3_ENDPOINT` is unset.
    #[arg(long, env = "BUCKET_DIR", default_value = "./data/bucket")]
    pub bucket_dir: std::path::PathBuf,
}

impl BucketConfig {
    pub fn local(dir: impl Into<std::path::PathBuf>) -> BucketConfig {
        BucketConfig {
            s3_endpoint: None,
            s3_bucket: "tickets".into(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_max_retries: 3,
            s3_timeout_secs: 30,
            bucket_dir: dir.into(),
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct IngestConfig {
    /// When `serve` checks the bucket: a cron expression (5 fields, or 6 with seconds)
    /// evaluated in Africa/Nairobi, or `off` (a replica that only serves).
    #[arg(long, env = "INGEST_CRON", default_value = "15 7-19 * * *")]
    pub ingest_cron: String,
    /// Also run one ingest as soon as `serve` starts.
    #[arg(long, env = "INGEST_ON_START")]
    pub ingest_on_start: bool,
    /// Drop history versions closed more than this many days ago, after each scheduled
    /// ingest run (capture start moves forward). Unset: history is kept for good.
    #[arg(long, env = "HISTORY_RETENTION_DAYS")]
    pub history_retention_days: Option<u32>,
}

/// Everything `serve` needs.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    #[command(flatten)]
    pub db: DatabaseConfig,
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub bucket: BucketConfig,
    #[command(flatten)]
    pub ingest: IngestConfig,
    #[command(flatten)]
    pub api: ApiConfig,
    #[command(flatten)]
    pub geocoder: GeocoderConfig,
}

impl Settings {
    /// The settings `serve` would get from these flags (and the environment).
    pub fn from_flags<I, T>(flags: I) -> Result<Settings, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            settings: Settings,
        }
        let args = std::iter::once(std::ffi::OsString::from("serve"))
            .chain(flags.into_iter().map(Into::into));
        <Serve as clap::Parser>::try_parse_from(args).map(|s| s.settings)
    }
}

/// The read API.
#[derive(Args, Clone, Debug)]
pub struct ApiConfig {
    /// Bearer tokens, `name:role:token,...` with role `reader` or `admin`. None: the read
    /// API is open and admin routes are refused.
    #[arg(
        long,
        env = "API_TOKENS",
        hide_env_values = true,
        value_parser = secret,
        default_value = ""
    )]
    pub api_tokens: SecretString,
    /// Origins allowed by CORS (the FleetOps web app), comma-separated.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// How long a dashboard response stays cached, in seconds.
    #[arg(long, env = "CACHE_TTL_SECS", default_value_t = 60)]
    pub cache_ttl_secs: u64,
    /// The response cache's bound in MiB: an entry counts its JSON, its compressed copies
    /// and the typed value it keeps for other readers. 0 turns the cache off.
    #[arg(long, env = "CACHE_MAX_MB", default_value_t = 256)]
    pub cache_max_mb: u64,
    /// Recorded dashboards (time travel) of the last hours before the newest history
    /// time are answered from versions held in memory (read once per data change; at
    /// most 100,000, about 110 MB); older instants query the history. 0: none held.
    #[arg(long, env = "RECORDED_MEMORY_HOURS", default_value_t = 192)]
    pub recorded_memory_hours: u32,
    /// A request taking longer is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// The SLA target of open tickets, in hours (at risk from 75 %).
    #[arg(long, env = "SLA_TARGET_HOURS", default_value_t = 24.0)]
    pub sla_target_hours: f64,
    /// The data is stale when no snapshot was checked for this long.
    #[arg(long, env = "STALE_AFTER_HOURS", default_value_t = 3.0)]
    pub stale_after_hours: f64,
    /// A folder whose files are served instead of the live map's embedded files of the
    /// same name (to restyle the page). Unset: the embedded files only.
    #[arg(long, env = "STATIC_DIR")]
    pub static_dir: Option<std::path::PathBuf>,
    /// Event streams (`GET /api/v1/events`) this replica serves at once; more are
    /// answered 503 with `Retry-After`.
    #[arg(long, env = "EVENTS_MAX_CLIENTS", default_value_t = 10_000)]
    pub events_max_clients: usize,
    /// The map's basemap tiles (`{z}/{x}/{y}` template); `none` draws on a plain background.
    #[arg(
        long,
        env = "MAP_TILE_URL",
        default_value = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    )]
    pub map_tile_url: String,
    /// The basemap's attribution.
    #[arg(
        long,
        env = "MAP_TILE_ATTRIBUTION",
        default_value = "&copy; OpenStreetMap contributors"
    )]
    pub map_tile_attribution: String,
}

/// Geocoding (LocationIQ). Without a key, cluster centroids come from the shipped
/// gazetteer and locations are not geocoded.
#[derive(Args, Clone, Debug)]
pub struct GeocoderConfig {
    /// LocationIQ's base URL (`/v1/search` is appended).
    #[arg(
        long,
        env = "GEOCODER_URL",
        default_value = "https://us1.locationiq.com"
    )]
    pub geocoder_url: String,
    /// LocationIQ API key.
    #[arg(long, env = "GEOCODER_KEY", hide_env_values = true, value_parser = secret)]
    pub geocoder_key: Option<SecretString>,
    /// Requests per second at most.
    #[arg(long, env = "GEOCODER_RPS", default_value_t = 2.0)]
    pub geocoder_rps: f64,
    /// Timeout of one request, in seconds.
    #[arg(long, env = "GEOCODER_TIMEOUT_SECS", default_value_t = 10.0)]
    pub geocoder_timeout_secs: f64,
    /// Failures in a row that stop geocoding until the next run.
    #[arg(long, env = "GEOCODER_MAX_FAILURES", default_value_t = 3)]
    pub geocoder_max_failures: u32,
    /// Misses and wrong-city answers are asked again after this many days.
    #[arg(long, env = "GEOCODER_RETRY_MISSES_DAYS", default_value_t = 30)]
    pub geocoder_retry_misses_days: u32,
}
