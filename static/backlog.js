// The panel's backlog chart: /api/v1/inc/backlog for the page's cluster and status
// filters over the last 7 days, hourly (the route's default period), ending at the
// replayed instant when the page replays one; the open backlog with its breached part,
// as inline SVG. Hours before history capture started are left blank.

const $ = (id) => document.getElementById(id);

const [WIDTH, HEIGHT, LEFT, BOTTOM, TOP] = [320, 110, 22, 16, 8];

/** The runs of consecutive points that have a count (nulls break a line). */
function runs(points, key) {
  const out = [];
  let run = [];
  points.forEach((p, i) => {
    if (p[key] == null) {
      if (run.length) out.push(run);
      run = [];
    } else {
      run.push(i);
    }
  });
  if (run.length) out.push(run);
  return out;
}

/**
 * `params()`: cluster, status and (when replaying) `to` as URLSearchParams; `get(url,
 * signal)`: the page's JSON GET (with ETag); `onError`: the page's handler (its error banner);
 * `svg(tag, attrs, children)` and `dayLabel(date)`: the page's drawing helpers; `fleet`
 * gets `backlog` ({url, open, breached}: the series drawn).
 * Returns `refresh()`, which the page calls after each dashboard load.
 */
export function setupBacklog({ params, get, onError, svg, dayLabel, fleet }) {
  fleet.backlog = null;
  const box = $('backlog');
  let inflight = null;

  function draw(body) {
    const points = body.points;
    const times = points.map((p) => new Date(p.end).getTime());
    const [first, last] = [times[0], times[times.length - 1]];
    const x = (i) => LEFT + ((WIDTH - LEFT) * (times[i] - first)) / Math.max(1, last - first);
    const max = Math.max(1, ...points.map((p) => p.open ?? 0));
    const y = (n) => HEIGHT - BOTTOM - ((HEIGHT - BOTTOM - TOP) * n) / max;
    const shapes = ['open', 'breached'].flatMap((key) => runs(points, key).flatMap((run) => {
      const line = run.map((i, k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)} ${y(points[i][key]).toFixed(1)}`).join(' ');
      const base = `L${x(run[run.length - 1]).toFixed(1)} ${y(0)} L${x(run[0]).toFixed(1)} ${y(0)} Z`;
      return [
        svg('path', { d: `${line} ${base}`, class: `backlog-area backlog-${key}` }),
        svg('path', { d: line, class: `backlog-line backlog-${key}`, 'data-points': run.length }),
      ];
    }));
    const latest = [...points].reverse().find((p) => p.open != null);
    const marks = latest ? ['open', 'breached'].map((key) => svg('circle', {
      cx: x(points.lastIndexOf(latest)), cy: y(latest[key]), r: 2.5, class: `backlog-dot backlog-${key}`,
    }, [svg('title', {}, [`${latest[key]} ${key} at ${latest.end}`])])) : [];
    const label = (lx, ly, text, anchor = 'start') => svg('text', { x: lx, y: ly, 'text-anchor': anchor }, [text]);
    // A date under each EAT midnight of the period.
    const midnights = points.flatMap((p, i) => (p.end.slice(11, 16) === '00:00' && i < points.length - 1
      ? [label(x(i), HEIGHT - 3, dayLabel(p.end.slice(0, 10)), 'middle')] : []));
    const chart = svg('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': 'Open backlog per hour over the last 7 days',
      'data-points': points.length,
    }, [
      svg('line', { x1: LEFT, x2: WIDTH, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM, class: 'axis' }),
      label(LEFT - 4, TOP + 8, String(max), 'end'), label(LEFT - 4, HEIGHT - BOTTOM, '0', 'end'),
      ...shapes, ...marks, ...midnights,
    ]);
    const legend = document.createElement('p');
    legend.className = 'keys';
    legend.id = 'backlog-legend';
    if (latest) {
      legend.append(...['open', 'breached'].map((key) => Object.assign(document.createElement('span'), {
        className: `key key-backlog-${key}`, textContent: `${key} ${latest[key]}`,
      })), `at ${latest.end.slice(0, 16).replace('T', ' ')} EAT`);
    } else {
      const since = body.capture_started_at?.slice(0, 16).replace('T', ' ');
      legend.textContent = since ? `No history in these 7 days (capture started ${since} EAT).` : 'No history yet.';
    }
    box.replaceChildren(chart, legend);
  }

  async function refresh() {
    inflight?.abort();
    const controller = new AbortController();
    inflight = controller;
    const url = `/api/v1/inc/backlog?${params()}`;
    box.dataset.state = 'loading';
    try {
      const { body } = await get(url, controller.signal);
      draw(body);
      fleet.backlog = {
        url, open: body.points.map((p) => p.open), breached: body.points.map((p) => p.breached),
      };
      box.dataset.state = 'ready';
    } catch (error) {
      if (error.name === 'AbortError') return;
      box.dataset.state = 'error';
      box.replaceChildren(Object.assign(document.createElement('p'), {
        className: 'note', textContent: 'The backlog could not be loaded (see the message above).',
      }));
      onError(error);
    }
  }

  return () => { refresh(); };
}
