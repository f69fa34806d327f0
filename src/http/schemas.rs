//! The OpenAPI schemas of query and path parameters whose rules no Rust type carries:
//! built from the same constants as the parsers, so the document says exactly which
//! values are accepted (the API fuzz run, `scripts/api-fuzz.sh`, holds both to that).

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::input::MAX_VALUE_CHARS;
use crate::params::STATUSES;

/// A year from 0001 to 9998 (`eat::FIRST_DAY`..=`eat::LAST_DAY`), a month, a day.
const DATE: &str = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
/// RFC 3339's time and offset, without a leap second.
const TIME: &str =
    "[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
/// No control character (Rust's `char::is_control`: U+0000–U+001F, U+007F–U+009F).
const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

fn string(format: Option<KnownFormat>, pattern: String) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .pattern(Some(pattern))
}

/// An RFC 3339 date-time whose written date lies in 0001-01-01..=9998-12-31.
pub struct Instant;

impl PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        string(Some(KnownFormat::DateTime), format!("^{DATE}{TIME}$")).into()
    }
}

impl ToSchema for Instant {}

/// A period bound: `YYYY-MM-DD` (00:00 EAT) or an RFC 3339 date-time, in the same range.
pub struct Bound;

impl PartialSchema for Bound {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(string(Some(KnownFormat::Date), format!("^{DATE}$")))
            .item(Instant::schema())
            .into()
    }
}

impl ToSchema for Bound {}

/// Free text as the input guard lets it through: no control character, at most
/// `MAX_VALUE_CHARS` characters.
pub struct Text;

impl PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        string(None, NO_CONTROL.into())
            .max_length(Some(MAX_VALUE_CHARS))
            .into()
    }
}

impl ToSchema for Text {}

/// A path segment: text, not empty.
pub struct Segment;

impl PartialSchema for Segment {
    fn schema() -> RefOr<Schema> {
        string(None, NO_CONTROL.into())
            .min_length(Some(1))
            .max_length(Some(MAX_VALUE_CHARS))
            .into()
    }
}

impl ToSchema for Segment {}

/// A `normalized_status` a filter may name (`params::STATUSES`; the parser also takes
/// them in any case).
pub struct StatusParam;

impl PartialSchema for StatusParam {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(STATUSES))
            .into()
    }
}

impl ToSchema for StatusParam {}

/// The answers every cached read route (dashboard, teams, backlog) gives beside its 200.
#[derive(utoipa::IntoResponses)]
pub enum CachedReadResponses {
    /// Unchanged since the ETag sent
    #[response(status = 304)]
    NotModified,
    /// A bad parameter, named in the body
    #[response(status = 400)]
    BadParameter(super::error::ErrorBody),
    /// Missing or wrong token
    #[response(status = 401)]
    Unauthorized(super::error::ErrorBody),
    /// The path and query are longer than 8 KiB
    #[response(status = 414)]
    UriTooLong(super::error::ErrorBody),
    /// The database is unreachable (see Retry-After)
    #[response(status = 503)]
    Unavailable(super::error::ErrorBody),
}

/// The refusals of the routes under `/api/v1/inc/tickets/{ticket_id}`.
#[derive(utoipa::IntoResponses)]
pub enum TicketRefusals {
    /// A path segment no ticket id can be (see `Segment`)
    #[response(status = 400)]
    BadId(super::error::ErrorBody),
    /// The path is longer than 8 KiB
    #[response(status = 414)]
    UriTooLong(super::error::ErrorBody),
    /// No such ticket
    #[response(status = 404)]
    NotFound(super::error::ErrorBody),
    /// Missing or wrong token
    #[response(status = 401)]
    Unauthorized(super::error::ErrorBody),
    /// The database is unreachable (see Retry-After)
    #[response(status = 503)]
    Unavailable(super::error::ErrorBody),
}

/// The custom window's bounds of the dashboard and teams.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// Start of the custom window, `YYYY-MM-DD` (00:00 EAT) or RFC 3339. Inclusive. Only with window=custom, which requires both.
    #[param(value_type = Option<Bound>)]
    pub from: Option<String>,
    /// End of the custom window, `YYYY-MM-DD` or RFC 3339. Exclusive; after `from`, at most 366 days later. Only with window=custom, which requires both.
    #[param(value_type = Option<Bound>)]
    pub to: Option<String>,
}

/// The filters of the dashboard, teams and backlog.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Clusters to keep (case-insensitive); repeat or comma-separate.
    #[param(value_type = Option<Vec<Text>>, explode = true)]
    pub cluster: Option<Vec<String>>,
    /// Statuses to keep (case-insensitive); repeat or comma-separate.
    #[param(value_type = Option<Vec<StatusParam>>, explode = true)]
    pub status: Option<Vec<String>>,
}
