"""schemathesis hooks: the rules between parameters that an OpenAPI parameter schema
cannot state (each one is in the parameter's description). Only schema-valid cases are
touched, and only to obey those rules, so that `positive_data_acceptance` holds the
server to everything else; negative cases are sent as generated.

- dashboard and teams: `from` and `to` only with `window=custom`, which needs both, `to`
  after `from` and at most 366 days later;
- backlog: `from` before `to` (at most now) and at most 8,784 buckets of `interval`.

And one more, for coverage rather than a rule: no generated ticket id exists, so every
other valid ticket (and ticket history) request asks for a real one (API_FUZZ_TICKET_ID)
and its 200 answer is checked against the document too.
"""

import datetime as dt
import os
import time

import schemathesis

DAY = 86_400
EAT = 3 * 3600
WINDOWED = {"/api/v1/inc/dashboard", "/api/v1/inc/teams"}
BACKLOG = "/api/v1/inc/backlog"
TICKET = "/api/v1/inc/tickets/{ticket_id}"
TICKET_ROUTES = {TICKET, TICKET + "/history"}
MAX_BUCKETS = 8_784


def seconds(text):
    """Seconds since 0001-01-01T00:00Z of a bound (`YYYY-MM-DD` is 00:00 EAT), or None.

    Counted by hand: year 1 in EAT is year 0 in UTC, which `datetime` cannot hold."""
    if not isinstance(text, str):
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).toordinal() * DAY - EAT
        t = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    offset = t.utcoffset().total_seconds()
    return t.toordinal() * DAY + t.hour * 3600 + t.minute * 60 + t.second - offset


def days_later(text, days):
    """The bound `days` later, written the same way, or None past the supported range."""
    date = dt.date.fromisoformat(text[:10]) + dt.timedelta(days=days)
    return None if date.year > 9998 else date.isoformat() + text[10:]


def custom_window(query):
    start, end = seconds(query.get("from")), seconds(query.get("to"))
    if start is not None and end is not None and start < end <= start + 366 * DAY:
        return
    start_text = query["from"] if start is not None else "2026-06-01"
    end_text = days_later(start_text, 1)
    if end_text is None:
        start_text, end_text = "9998-12-30", "9998-12-31"
    query["from"], query["to"] = start_text, end_text


def backlog(query):
    now = time.time() + dt.date(1970, 1, 1).toordinal() * DAY
    end = min(seconds(query.get("to")) or now, now)
    start = seconds(query.get("from"))
    if start is None:
        return
    span = end - start
    hourly = query.get("interval") == "hour" or (not query.get("interval") and span <= 7 * DAY)
    buckets = span / (3600 if hourly else DAY) + 2
    if span < 60 or buckets > MAX_BUCKETS:
        del query["from"]  # then it is `to` - 7 days, always a valid period


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    path = case.operation.path
    if path in TICKET_ROUTES and len(case.path_parameters["ticket_id"]) % 2:
        case.path_parameters["ticket_id"] = os.environ["API_FUZZ_TICKET_ID"]
    if case.query is None:
        return case
    if path in WINDOWED:
        if case.query.get("window") == "custom":
            custom_window(case.query)
        else:
            case.query.pop("from", None)
            case.query.pop("to", None)
    elif path == BACKLOG:
        backlog(case.query)
    return case
