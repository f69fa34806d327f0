"""The Python client that openapi-python-client generates from the document, against a
running server: typed arguments in, typed models out, compared with the server's JSON.

Usage: python_client.py BASE_URL DIR, where DIR holds the generated `fleettickets_client`.
"""

import datetime as dt
import json
import sys
import urllib.request

base, generated = sys.argv[1], sys.argv[2]
sys.path.insert(0, generated)

from fleettickets_client import Client  # noqa: E402
from fleettickets_client.api.dashboard import dashboard  # noqa: E402
from fleettickets_client.api.dispatch import nearest  # noqa: E402
from fleettickets_client.models import (  # noqa: E402
    Dashboard,
    NearestAnswer,
    PointGeometry,
    StatusParam,
    WindowKind,
)

EAT = dt.timezone(dt.timedelta(hours=3))
client = Client(base_url=base)


def raw(path):
    with urllib.request.urlopen(base + path) as response:
        return json.load(response)


# A fixed as_of makes the typed call and the raw one the same request.
as_of = dt.datetime.now(EAT).replace(microsecond=0)
statuses = [StatusParam.OPEN, StatusParam.IN_PROGRESS]
week = dashboard.sync(client=client, window=WindowKind.WEEK, status=statuses, as_of=as_of)
assert isinstance(week, Dashboard), week
query = f"window=week&status=OPEN&status=IN_PROGRESS&as_of={as_of.isoformat().replace('+', '%2B')}"
served = raw(f"/api/v1/inc/dashboard?{query}")
assert week.metrics.open_count == served["metrics"]["open_count"], (week.metrics.open_count, served)
assert week.metrics.open_count == len(week.open_.features) > 0, week.metrics.open_count
assert week.filters.status == ["IN_PROGRESS", "OPEN"], week.filters.status
assert {f.properties.normalized_status for f in week.open_.features} <= {"OPEN", "IN_PROGRESS"}
assert week.window.kind == WindowKind.WEEK

# A custom window: a date for `from`, an aware date-time for `to`.
start = as_of.date() - dt.timedelta(days=30)
custom = dashboard.sync(client=client, window=WindowKind.CUSTOM, from_=start, to=as_of, as_of=as_of)
assert isinstance(custom, Dashboard), custom
assert custom.window.from_ == dt.datetime.combine(start, dt.time(), EAT), custom.window.from_
assert custom.metrics.closed_count == len(custom.closed.features)

# The nearest open tickets to an open ticket's point: one at 0 km first.
located = next(f for f in week.open_.features if isinstance(f.geometry, PointGeometry))
lon, lat = located.geometry.coordinates
near = nearest.sync(client=client, lat=lat, lon=lon, limit=3, as_of=as_of)
assert isinstance(near, NearestAnswer), near
assert near.features[0].properties.distance_km == 0.0, near.features[0].properties
print(f"python-client: ok (open this week: {week.metrics.open_count}, closed in 30 days: {custom.metrics.closed_count})")
