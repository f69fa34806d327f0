//! Why the datasource refuses a target or a filter: a 400 whose text Grafana shows under
//! the panel, naming the target (`refId`) and what in it is wrong.

use super::regex::NotLiteral;
use crate::params::ParamError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("ad hoc filter on {0:?}: filterable keys are cluster, status, region, assigned_team")]
    UnknownKey(String),
    /// The filter (described as `ad hoc filter <key> <operator> "<value>"`) has none.
    #[error("{0} has no value")]
    NoValue(String),
    #[error("{filter}: only literal alternatives such as a|b or (a|b) are supported ({why})")]
    NotLiteral { filter: String, why: NotLiteral },
    #[error("{filter}: the operator {operator:?} is not supported (use =, !=, =~, !~, =| or !=|)")]
    Operator { filter: String, operator: String },
    #[error("status {}", .0.detail)]
    Status(ParamError),
    #[error("{0:?} is a variable Grafana did not replace (does the dashboard define it?)")]
    Uninterpolated(String),
    /// A JSON value (as text) where a string was expected.
    #[error("{0} is not a string")]
    NotAString(String),
    #[error("{0} is neither a string nor a list of strings")]
    NotAList(String),
    /// A payload field's value refused: `payload.<field>: <why>`.
    #[error("payload.{field}: {why}")]
    InPayload {
        field: &'static str,
        why: Box<Refusal>,
    },
    #[error("the payload {0} is not a JSON object")]
    PayloadNotAnObject(String),
    #[error("payload.format {0} is neither timeseries nor table")]
    Format(String),
    #[error("{0} is a table; it has no time-series format")]
    TableOnly(&'static str),
    #[error(
        "the backlog can be filtered by one list of clusters and one list of statuses only; \
         the {0} filter is another kind (another key, a negation or a second list)"
    )]
    BacklogFilter(&'static str),
    #[error(transparent)]
    Parameter(#[from] ParamError),
}
