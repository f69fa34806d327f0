//! A ticket's fields, declared once (`ticket_fields!`). Every struct that carries them
//! (`CleanRow`, the dashboard's `Ticket`, `TicketDetail`, the timeline's `Tracked`, the
//! map features' properties, `read::places::Place`) and the tables the SQL is built from
//! (`FIELDS`, `columns::COLUMNS`) are generated from that one list, so a new field is one
//! line there plus its migration (`tests/api/columns.rs` checks the migrations).

/// The declaration. Each line is `name kind clean origin [tracked map props detail]`:
/// - `kind`, its types (`kind_sql`, `Read`, `AsValue`): `text`, `flag` (boolean),
///   `minutes` (an integer read from decimal hours), `time` (timestamptz read as EAT
///   local time), `degrees` (a coordinate);
/// - `clean`, how cleaning normalises a text value: `keep`, `trim`, `upper`, `lower`;
/// - `origin`: `csv` (read from the snapshot's column of that name), `importer` (set by
///   the importer) or `geocoder` (written by geocoding, never by an import);
/// - the views it is in, or `-`: `tracked` (versioned by history, `history.md`), `map`
///   (the dashboard's `Ticket`), `props` (every map feature's properties) and `detail`
///   (the ticket detail).
///
/// `$then` receives `$args ; <the lines>`.
macro_rules! ticket_fields {
    ($($then:ident)::+ ; $($args:tt)*) => {
        $($then)::+! { $($args)* ;
            normalized_status  text    upper csv      [tracked map props detail]
            raw_status         text    upper csv      [- map props detail]
            bucket             text    keep  csv      [- - - detail]
            is_actionable      flag    keep  csv      [tracked map - detail]
            cluster            text    trim  csv      [tracked map props detail]
            region             text    lower csv      [tracked map props detail]
            location_name      text    keep  csv      [- map props detail]
            assigned_team      text    keep  csv      [tracked map props detail]
            owner              text    keep  csv      [tracked map props detail]
            sla_status         text    keep  csv      [tracked map - detail]
            #[doc = "Minutes."]
            mttr               minutes keep  csv      [tracked map - detail]
            created_at_service time    keep  csv      [tracked map props detail]
            scheduled_at       time    keep  csv      [- - - detail]
            closed_at          time    keep  csv      [tracked map - detail]
            first_seen_at      time    keep  csv      [tracked map - detail]
            last_seen_at       time    keep  csv      [- - - detail]
            source_created_at  time    keep  csv      [- - - detail]
            source_updated_at  time    keep  csv      [- - - detail]
            #[doc = "What geocoding looks up (actionable rows without a usable feed point)."]
            location_query     text    keep  importer [- - - -]
            latitude           degrees keep  geocoder [- map - detail]
            longitude          degrees keep  geocoder [- map - detail]
            #[doc = "`feed`, `location` or `cluster`; null without a point."]
            geo_source         text    keep  geocoder [- map props detail]
        }
    };
}
pub(crate) use ticket_fields;

/// `select_fields!(view => path::callback!{ args })` calls `callback! { args [items] }`
/// with the declared fields of `view`, in declaration order, each as
/// `{ #[attrs] name kind clean origin [views] }`. Views: those of the declaration, plus
/// `place` (the map's untracked fields: what a recorded ticket takes from today's row),
/// `stored` (what an import writes: origin `csv` or `importer`) and `all`.
macro_rules! select_fields {
    ($view:ident => $($cb:ident)::+ ! { $($args:tt)* }) => {
        $crate::ticket::fields::ticket_fields! {
            $crate::ticket::fields::select_fields; @munch $view [$($cb)::+] [$($args)*] []
        }
    };
    (@munch $view:ident [$($cb:tt)*] [$($args:tt)*] [$($acc:tt)*] ;) => {
        $($cb)*! { $($args)* [$($acc)*] }
    };
    (@munch tracked $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident [tracked $m:tt $p:tt $d:tt] $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch tracked $cb $args [$($acc)* { $(#[$a])* $n $k $c $o [tracked $m $p $d] }] ; $($rest)* }
    };
    (@munch map $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident [$t:tt map $p:tt $d:tt] $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch map $cb $args [$($acc)* { $(#[$a])* $n $k $c $o [$t map $p $d] }] ; $($rest)* }
    };
    (@munch props $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident [$t:tt $m:tt props $d:tt] $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch props $cb $args [$($acc)* { $(#[$a])* $n $k $c $o [$t $m props $d] }] ; $($rest)* }
    };
    (@munch detail $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident [$t:tt $m:tt $p:tt detail] $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch detail $cb $args [$($acc)* { $(#[$a])* $n $k $c $o [$t $m $p detail] }] ; $($rest)* }
    };
    (@munch place $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident [- map $p:tt $d:tt] $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch place $cb $args [$($acc)* { $(#[$a])* $n $k $c $o [- map $p $d] }] ; $($rest)* }
    };
    (@munch stored $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident csv $f:tt $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch stored $cb $args [$($acc)* { $(#[$a])* $n $k $c csv $f }] ; $($rest)* }
    };
    (@munch stored $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident importer $f:tt $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch stored $cb $args [$($acc)* { $(#[$a])* $n $k $c importer $f }] ; $($rest)* }
    };
    (@munch all $cb:tt $args:tt [$($acc:tt)*] ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident $f:tt $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch all $cb $args [$($acc)* { $(#[$a])* $n $k $c $o $f }] ; $($rest)* }
    };
    // Not in the view.
    (@munch $view:ident $cb:tt $args:tt $acc:tt ; $(#[$a:meta])* $n:ident $k:ident $c:ident $o:ident $f:tt $($rest:tt)*) => {
        $crate::ticket::fields::select_fields! { @munch $view $cb $args $acc ; $($rest)* }
    };
}
pub(crate) use select_fields;

/// A struct with a view's fields between its own leading and trailing ones:
/// `ticket_struct!(view, style; [#[derive(..)] pub struct Name] { leading } { trailing })`.
/// Styles: `plain` (owned values), `read` (owned, text as `ticket::Text`), `serial`
/// (owned, times serialised in EAT and typed as date-times in OpenAPI), `props`
/// (borrowed from a `Ticket` for `'a`, times as `EatTime`).
macro_rules! ticket_struct {
    ($view:ident, $style:ident; [$($before:tt)*] { $($head:tt)* } { $($tail:tt)* }) => {
        $crate::ticket::fields::select_fields!($view => $crate::ticket::fields::ticket_struct! {
            @render $style [$($before)*] [$($head)*] [$($tail)*] []
        });
    };
    (@render $style:ident [$($before:tt)*] [$($head:tt)*] [$($tail:tt)*] [$($out:tt)*] [$($item:tt)*]) => {
        $crate::ticket::fields::ticket_struct! { @field $style [$($before)*] [$($head)*] [$($tail)*] [$($out)*] $($item)* }
    };
    (@field $style:ident [$($before:tt)*] [$($head:tt)*] [$($tail:tt)*] [$($out:tt)*]) => {
        $($before)* { $($head)* $($out)* $($tail)* }
    };
    (@field serial $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident time $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field serial $b $h $t [$($out)*
            $(#[$a])*
            #[serde(serialize_with = "crate::eat::serialize_opt")]
            #[schema(value_type = Option<String>, format = DateTime)]
            pub $n: Option<::chrono::DateTime<::chrono::Utc>>,
        ] $($rest)* }
    };
    (@field props $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident time $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field props $b $h $t [$($out)*
            $(#[$a])*
            #[schema(value_type = Option<String>, format = DateTime)]
            pub $n: Option<$crate::eat::EatTime>,
        ] $($rest)* }
    };
    (@field props $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident text $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field props $b $h $t [$($out)* $(#[$a])* pub $n: Option<&'a str>,] $($rest)* }
    };
    (@field read $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident text $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field read $b $h $t [$($out)* $(#[$a])* pub $n: Option<$crate::ticket::Text>,] $($rest)* }
    };
    (@field $style:ident $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident text $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field $style $b $h $t [$($out)* $(#[$a])* pub $n: Option<String>,] $($rest)* }
    };
    (@field $style:ident $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident flag $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field $style $b $h $t [$($out)* $(#[$a])* pub $n: Option<bool>,] $($rest)* }
    };
    (@field $style:ident $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident minutes $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field $style $b $h $t [$($out)* $(#[$a])* pub $n: Option<i32>,] $($rest)* }
    };
    (@field $style:ident $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident time $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field $style $b $h $t [$($out)* $(#[$a])* pub $n: Option<::chrono::DateTime<::chrono::Utc>>,] $($rest)* }
    };
    (@field $style:ident $b:tt $h:tt $t:tt [$($out:tt)*] { $(#[$a:meta])* $n:ident degrees $c:ident $o:ident $f:tt } $($rest:tt)*) => {
        $crate::ticket::fields::ticket_struct! { @field $style $b $h $t [$($out)* $(#[$a])* pub $n: Option<f64>,] $($rest)* }
    };
}
pub(crate) use ticket_struct;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Flag,
    Minutes,
    Time,
    Degrees,
}

impl Kind {
    /// Its column type in `tickets.inc` (and the staging table and the history).
    pub const fn sql(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Flag => "boolean",
            Kind::Minutes => "integer",
            Kind::Time => "timestamptz",
            Kind::Degrees => "double precision",
        }
    }
}

/// How cleaning normalises a text value (`inc-csv.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clean {
    Keep,
    Trim,
    Upper,
    Lower,
}

impl Clean {
    pub fn apply(self, value: &str) -> String {
        match self {
            Clean::Keep => value.to_owned(),
            Clean::Trim => value.trim().to_owned(),
            Clean::Upper => value.trim().to_uppercase(),
            Clean::Lower => value.trim().to_lowercase(),
        }
    }
}

/// Who writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the snapshot's column of the same name.
    Csv,
    /// Set by the importer.
    Importer,
    /// Written by geocoding; an import never writes it.
    Geocoder,
}

/// One declared field, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub clean: Clean,
    pub origin: Origin,
    pub tracked: bool,
    pub map: bool,
    pub props: bool,
    pub detail: bool,
}

/// The `Field` of a declaration line (without its attributes).
macro_rules! field {
    ($n:ident $k:ident $c:ident $o:ident [$t:tt $m:tt $p:tt $d:tt]) => {
        $crate::ticket::fields::Field {
            name: stringify!($n),
            kind: $crate::ticket::fields::token!(kind $k),
            clean: $crate::ticket::fields::token!(clean $c),
            origin: $crate::ticket::fields::token!(origin $o),
            tracked: $crate::ticket::fields::token!(view $t),
            map: $crate::ticket::fields::token!(view $m),
            props: $crate::ticket::fields::token!(view $p),
            detail: $crate::ticket::fields::token!(view $d),
        }
    };
}
pub(crate) use field;

macro_rules! field_table {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
        /// Every declared field, in declaration order.
        pub const FIELDS: &[Field] = &[$(field!($n $($decl)*)),*];
    };
}

/// The value a declaration token stands for.
macro_rules! token {
    (kind text) => {
        $crate::ticket::fields::Kind::Text
    };
    (kind flag) => {
        $crate::ticket::fields::Kind::Flag
    };
    (kind minutes) => {
        $crate::ticket::fields::Kind::Minutes
    };
    (kind time) => {
        $crate::ticket::fields::Kind::Time
    };
    (kind degrees) => {
        $crate::ticket::fields::Kind::Degrees
    };
    (clean keep) => {
        $crate::ticket::fields::Clean::Keep
    };
    (clean trim) => {
        $crate::ticket::fields::Clean::Trim
    };
    (clean upper) => {
        $crate::ticket::fields::Clean::Upper
    };
    (clean lower) => {
        $crate::ticket::fields::Clean::Lower
    };
    (origin csv) => {
        $crate::ticket::fields::Origin::Csv
    };
    (origin importer) => {
        $crate::ticket::fields::Origin::Importer
    };
    (origin geocoder) => {
        $crate::ticket::fields::Origin::Geocoder
    };
    (view -) => {
        false
    };
    (view $view:ident) => {
        true
    };
}
pub(crate) use token;

select_fields!(all => field_table! {});

/// `each` of the declared fields `keep` selects, comma-separated: a select list.
pub fn join(keep: impl Fn(&Field) -> bool, each: impl Fn(&Field) -> String) -> String {
    FIELDS
        .iter()
        .filter(|f| keep(f))
        .map(each)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of the declared fields `keep` selects, comma-separated, each with `prefix`.
pub fn names(prefix: &str, keep: impl Fn(&Field) -> bool) -> String {
    join(keep, |f| format!("{prefix}{}", f.name))
}

/// The declared fields `keep` selects as typed nulls (`NULL::text AS name`),
/// comma-separated.
pub fn typed_nulls(keep: impl Fn(&Field) -> bool) -> String {
    join(keep, |f| format!("NULL::{} AS {}", f.kind.sql(), f.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_views_are_the_declarations() {
        let named = |keep: fn(&Field) -> bool| names("", keep);
        assert_eq!(
            named(|f| f.tracked),
            "normalized_status, is_actionable, cluster, region, assigned_team, owner, \
             sla_status, mttr, created_at_service, closed_at, first_seen_at"
        );
        assert_eq!(
            named(|f| f.props),
            "normalized_status, raw_status, cluster, region, location_name, assigned_team, \
             owner, created_at_service, geo_source"
        );
        assert_eq!(
            named(|f| f.map && !f.tracked),
            "raw_status, location_name, latitude, longitude, geo_source"
        );
        assert_eq!(FIELDS.len(), 22);
        let geocoded = named(|f| f.origin == Origin::Geocoder);
        assert_eq!(geocoded, "latitude, longitude, geo_source");
    }

    #[test]
    fn cleaning_rules_trim_and_fold_as_declared() {
        assert_eq!(Clean::Upper.apply(" Resolved "), "RESOLVED");
        assert_eq!(Clean::Lower.apply(" Nairobi "), "nairobi");
        assert_eq!(Clean::Trim.apply(" KISUMU "), "KISUMU");
        assert_eq!(Clean::Keep.apply(" Site 4 "), " Site 4 ");
    }
}
