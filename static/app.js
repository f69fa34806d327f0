// The live INC map: draws the dashboard payload (/api/v1/inc/dashboard) with Leaflet,
// keeps the whole view in the URL and refreshes with If-None-Match.

import { setupBacklog } from './backlog.js';
import { setupLive } from './events.js';
import { setupNearest } from './nearest.js';
import { setupTeams } from './teams.js';
import { setupTimeTravel, timelineSection } from './timetravel.js';

const L = window.L;
const $ = (id) => document.getElementById(id);

const KENYA = { center: [-0.5, 37.5], zoom: 6 };
const TOKEN_KEY = 'fleettickets.token';
const TZ = 'Africa/Nairobi';
const SLA_LABELS = {
  within: 'Within SLA', at_risk: 'At risk', breached: 'Breached', unknown: 'Unknown', met: 'Met',
};
const WORST_FIRST = ['breached', 'at_risk', 'within', 'unknown'];

// The test hooks and a quick look from the console: what the page currently shows.
const fleet = (window.__fleet = {
  openMarkers: 0, closedMarkers: 0, unplaced: 0, unplacedClosed: 0,
  responses: 0, renders: 0, lastStatus: null, url: null,
});

// ---------------------------------------------------------------- view state (URL)

function listParam(query, name) {
  return query.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

function readState() {
  const q = new URLSearchParams(location.search);
  return {
    window: q.get('window') || 'today',
    from: q.get('from') || '',
    to: q.get('to') || '',
    cluster: listParam(q, 'cluster'),
    status: listParam(q, 'status'),
    asOf: q.get('as_of') || '',
    closed: q.get('closed') !== '0',
    map: q.get('map') || '',
    refresh: Number(q.get('refresh')) || 0,
  };
}

/** The dashboard's own parameters. */
function apiParams(state) {
  const q = new URLSearchParams({ window: state.window });
  if (state.window === 'custom') {
    q.set('from', state.from);
    q.set('to', state.to);
  }
  state.cluster.forEach((c) => q.append('cluster', c));
  state.status.forEach((s) => q.append('status', s));
  if (state.asOf) q.set('as_of', state.asOf);
  return q;
}

/** The backlog chart's query: the filters; the last 7 days end at the replayed instant. */
function backlogParams(state) {
  const q = new URLSearchParams();
  state.cluster.forEach((c) => q.append('cluster', c));
  state.status.forEach((s) => q.append('status', s));
  if (state.asOf) q.set('to', state.asOf);
  return q;
}

/** The page's query string: the API's parameters plus what only the page uses. */
function pageQuery(state) {
  const q = apiParams(state);
  if (!state.closed) q.set('closed', '0');
  if (state.refresh) q.set('refresh', String(state.refresh));
  if (state.map) q.set('map', state.map);
  return `?${q}`;
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const etags = new Map(); // url -> {etag, body}: the last answer per URL

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return new ApiError(response.status, [body.error, body.detail].filter(Boolean).join(': '));
  } catch {
    return new ApiError(response.status, response.statusText || 'no details');
  }
}

/** GET a JSON resource; `changed` is false when the server answered 304. */
async function getJson(url, signal) {
  const headers = authHeaders();
  const cached = etags.get(url);
  if (cached) headers['If-None-Match'] = cached.etag;
  const response = await fetch(url, { headers, signal, cache: 'no-store' });
  if (response.status === 304 && cached) return { body: cached.body, changed: false };
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  const etag = response.headers.get('ETag');
  if (etag) etags.set(url, { etag, body });
  return { body, changed: true };
}

// ---------------------------------------------------------------- formatting

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
});
const dayFormat = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, day: 'numeric', month: 'short' });
const isoDay = new Intl.DateTimeFormat('en-CA', { timeZone: TZ }); // YYYY-MM-DD

const dayLabel = (date) => dayFormat.format(new Date(`${date}T12:00:00+03:00`));
const formatTime = (iso) => (iso ? `${timeFormat.format(new Date(iso))} EAT` : 'unknown');

function formatDuration(minutes) {
  if (minutes == null) return 'unknown';
  const total = Math.round(minutes);
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  if (days) return `${days} d ${hours} h`;
  return hours ? `${hours} h ${total % 60} min` : `${total} min`;
}

const formatRate = (rate) => (rate == null ? '–' : `${(rate * 100).toFixed(1)} %`);

// ---------------------------------------------------------------- small DOM helpers

function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  node.append(...children);
  return node;
}

function slaChip(state) {
  const chip = el('span', { className: 'chip', textContent: SLA_LABELS[state] || state });
  chip.dataset.sla = state;
  return chip;
}

// ---------------------------------------------------------------- tickets

/** The facts shown for one ticket, in the popup and in the list. */
function ticketFacts(p, kind) {
  const status = p.raw_status && p.raw_status !== p.normalized_status
    ? `${p.normalized_status} (${p.raw_status})` : p.normalized_status;
  const facts = [
    ['Status', status], ['Cluster', p.cluster], ['Location', p.location_name],
    ['Team', p.assigned_team], ['Owner', p.owner],
  ];
  if (kind === 'open') {
    facts.push(['Open for', p.hours_open == null ? 'unknown' : formatDuration(p.hours_open * 60)]);
  } else {
    facts.push(['Closed', formatTime(p.closed_at)], ['MTTR', formatDuration(p.mttr_minutes)]);
  }
  return facts;
}

const slaOf = (p, kind) => (kind === 'open' ? p.sla_state : p.sla_status);

function ticketCard(p, kind) {
  const rows = ticketFacts(p, kind).map(([label, value]) => el('div', {}, [
    el('dt', { textContent: label }), el('dd', { textContent: value ?? '–' }),
  ]));
  rows.push(el('div', {}, [el('dt', { textContent: 'SLA' }), el('dd', {}, [slaChip(slaOf(p, kind))])]));
  return el('div', { className: `ticket ticket-${kind}` }, [
    el('strong', { textContent: p.ticket_id }),
    el('dl', {}, rows),
  ]);
}

function ticketMarker(feature, kind) {
  const [lon, lat] = feature.geometry.coordinates;
  const sla = slaOf(feature.properties, kind);
  const marker = L.circleMarker([lat, lon], {
    sla,
    pane: kind === 'open' ? 'overlayPane' : 'closed',
    className: kind === 'open' ? `marker sla-${sla}` : 'marker closed',
    radius: kind === 'open' && sla === 'breached' ? 9 : 7,
    weight: 2,
    fillOpacity: 0.9,
  });
  return marker.bindPopup(() => {
    const card = ticketCard(feature.properties, kind);
    card.append(timelineSection(feature.properties.ticket_id, { get: getJson, formatTime, el }));
    return card;
  });
}

function clusterIcon(cluster, kind) {
  const count = cluster.getChildCount();
  const states = new Set(cluster.getAllChildMarkers().map((m) => m.options.sla));
  const tone = kind === 'open' ? WORST_FIRST.find((s) => states.has(s)) : 'closed';
  const size = count < 10 ? 32 : count < 100 ? 38 : 46;
  return L.divIcon({
    html: `<span>${count}</span>`,
    className: `cluster cluster-${tone}`,
    iconSize: L.point(size, size),
  });
}

function clusterGroup(kind) {
  return L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 45,
    clusterPane: kind === 'open' ? 'markerPane' : 'closed',
    iconCreateFunction: (cluster) => clusterIcon(cluster, kind),
  });
}

function listItem(p, kind) {
  const summary = el('summary', {}, [
    el('strong', { textContent: p.ticket_id }), ' ', slaChip(slaOf(p, kind)),
    el('span', { className: 'meta', textContent: [p.cluster, p.location_name].filter(Boolean).join(' · ') }),
  ]);
  const details = el('details', {}, [summary]);
  details.addEventListener('toggle', () => details.append(ticketCard(p, kind)), { once: true });
  return el('li', {}, [details]);
}

// ---------------------------------------------------------------- metrics panel

function setMetric(name, value, text) {
  const node = document.querySelector(`[data-metric="${name}"]`);
  node.textContent = text;
  node.dataset.value = value ?? '';
}

function renderSplit(box, counts, keys) {
  const bar = el('div', { className: 'bar' }, keys.filter((k) => counts[k]).map((k) => {
    const part = el('span', { title: `${SLA_LABELS[k]}: ${counts[k]}` });
    part.dataset.sla = k;
    part.style.flexGrow = counts[k];
    return part;
  }));
  const keysRow = el('div', { className: 'keys' }, keys.map((k) => {
    const key = el('span', { className: 'key', textContent: `${SLA_LABELS[k]} ${counts[k]}` });
    Object.assign(key.dataset, { sla: k, count: counts[k] });
    return key;
  }));
  box.replaceChildren(bar, keysRow);
}

/** Grouped bars, created and closed per day, as inline SVG. */
function renderDaily(box, daily) {
  const [width, height, left, bottom, top] = [320, 110, 22, 16, 8];
  const max = Math.max(1, ...daily.flatMap((d) => [d.created, d.closed]));
  const step = (width - left) / Math.max(1, daily.length);
  const barWidth = Math.max(1, step * 0.4);
  const bar = (x, series, day) => {
    const h = ((height - bottom - top) * day[series]) / max;
    return svg('rect', {
      x, y: height - bottom - h, width: barWidth, height: h,
      class: `bar-${series}`, 'data-date': day.date, 'data-count': day[series],
    }, [svg('title', {}, [`${day.date}: ${day[series]} ${series}`])]);
  };
  const bars = daily.flatMap((day, i) => {
    const x = left + i * step + step * 0.1;
    return [bar(x, 'created', day), bar(x + barWidth, 'closed', day)];
  });
  const label = (x, y, text, anchor = 'start') => svg('text', { x, y, 'text-anchor': anchor }, [text]);
  const every = Math.ceil(daily.length / 7); // at most about seven date labels
  const labels = daily.flatMap((d, i) => (i % every
    ? [] : [label(left + i * step + step / 2, height - 3, dayLabel(d.date), 'middle')]));
  box.replaceChildren(svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Tickets created and closed per day',
  }, [
    svg('line', { x1: left, x2: width, y1: height - bottom, y2: height - bottom, class: 'axis' }),
    label(left - 4, top + 8, String(max), 'end'), label(left - 4, height - bottom, '0', 'end'),
    ...bars, ...labels,
  ]), el('p', { className: 'keys' }, [
    el('span', { className: 'key key-created', textContent: 'created' }),
    el('span', { className: 'key key-closed-day', textContent: 'closed' }),
  ]));
}

function renderMetrics(m) {
  setMetric('open_count', m.open_count, String(m.open_count));
  setMetric('closed_count', m.closed_count, String(m.closed_count));
  setMetric('closure_rate', m.closure_rate, formatRate(m.closure_rate));
  setMetric('avg_mttr_minutes', m.avg_mttr_minutes,
    m.avg_mttr_minutes == null ? '–' : formatDuration(m.avg_mttr_minutes));
  renderSplit($('sla-open'), m.sla.open, ['within', 'at_risk', 'breached', 'unknown']);
  renderSplit($('sla-closed'), m.sla.closed, ['met', 'breached', 'unknown']);
  renderDaily($('daily'), m.daily);
  $('inconsistent').hidden = !m.inconsistent;
  $('inconsistent').textContent = `${m.inconsistent} ${m.inconsistent === 1 ? 'ticket is' : 'tickets are'} `
    + 'still actionable but carry a closing time in this window (counted in both sets).';
}

// ---------------------------------------------------------------- freshness and window

function renderFreshness(f) {
  const badge = $('freshness');
  const when = f.snapshot_at ? `Snapshot ${formatTime(f.snapshot_at)}` : `Imported ${formatTime(f.last_import_at)}`;
  const parts = [when, `content lag ${f.content_lag_hours ?? '?'} h`];
  if (f.truncated) parts.push('snapshot truncated');
  badge.textContent = parts.join(' · ');
  badge.title = `Source ${f.source_key ?? 'none'} · last import ${formatTime(f.last_import_at)} · last checked ${formatTime(f.last_checked_at)}`;
  badge.classList.toggle('is-stale', Boolean(f.stale));
  const stale = $('stale');
  stale.hidden = !f.stale;
  stale.textContent = `⚠ Stale data: no new snapshot was checked since ${formatTime(f.last_checked_at)}. `
    + 'The tickets on this map may be out of date.';
}

function renderWindow(w) {
  const last = new Date(new Date(w.to).getTime() - 1);
  $('window-range').textContent = `${dayFormat.format(new Date(w.from))} – ${dayFormat.format(last)}`;
}

// ---------------------------------------------------------------- map

/** Faint 1° lines over East Africa: some sense of place when there are no tiles. */
function addGraticule(map) {
  const lines = [];
  for (let lat = -6; lat <= 6; lat += 1) lines.push([[lat, 31], [lat, 44]]);
  for (let lng = 31; lng <= 44; lng += 1) lines.push([[-6, lng], [6, lng]]);
  L.polyline(lines, { className: 'graticule', interactive: false }).addTo(map);
}

function addBasemap(map, config) {
  L.control.scale({ imperial: false }).addTo(map);
  if (!config.tile_url || config.tile_url === 'none') {
    addGraticule(map);
    return;
  }
  const tiles = L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 18 });
  let failures = 0;
  tiles.on('tileerror', () => {
    failures += 1;
    if (failures === 4) { // no network: keep drawing the tickets on the plain background
      map.removeLayer(tiles);
      addGraticule(map);
      map.attributionControl.addAttribution('basemap unavailable');
    }
  });
  tiles.addTo(map);
}

function parseView(text) {
  const [lat, lng, zoom] = text.split(',').map(Number);
  return [lat, lng, zoom].every(Number.isFinite) ? { center: [lat, lng], zoom } : null;
}

function createMap(app, config) {
  const map = L.map('map', { maxZoom: 18, minZoom: 3 });
  map.createPane('closed').style.zIndex = 350; // closed tickets under the open ones
  const view = parseView(app.state.map) || KENYA;
  map.setView(view.center, view.zoom);
  addBasemap(map, config);
  map.on('moveend', () => {
    const c = map.getCenter();
    app.state.map = `${c.lat.toFixed(4)},${c.lng.toFixed(4)},${map.getZoom()}`;
    history.replaceState(null, '', pageQuery(app.state));
  });
  return map;
}

function fitToTickets(app) {
  const bounds = L.latLngBounds([]);
  [app.open, app.closed].filter((g) => app.map.hasLayer(g) && g.getLayers().length)
    .forEach((g) => bounds.extend(g.getBounds()));
  if (bounds.isValid()) app.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 11, animate: false });
  else app.map.setView(KENYA.center, KENYA.zoom);
}

function showClosed(app) {
  if (app.state.closed) app.closed.addTo(app.map);
  else app.map.removeLayer(app.closed);
  $('unplaced-closed').hidden = !app.state.closed || !fleet.unplacedClosed;
  $('unplaced-closed-title').hidden = $('unplaced-closed').hidden;
}

// ---------------------------------------------------------------- rendering a payload

function drawSet(group, list, features, kind) {
  const placed = features.filter((f) => f.geometry);
  const unplaced = features.filter((f) => !f.geometry);
  group.clearLayers();
  group.addLayers(placed.map((f) => ticketMarker(f, kind)));
  list.replaceChildren(...unplaced.map((f) => listItem(f.properties, kind)));
  return unplaced.length;
}

function render(app, payload, fit) {
  fleet.unplaced = drawSet(app.open, $('unplaced-open'), payload.open.features, 'open');
  fleet.unplacedClosed = drawSet(app.closed, $('unplaced-closed'), payload.closed.features, 'closed');
  fleet.openMarkers = app.open.getLayers().length;
  fleet.closedMarkers = app.closed.getLayers().length;
  $('unplaced-count').textContent = fleet.unplaced;
  $('unplaced-closed-count').textContent = fleet.unplacedClosed;
  showClosed(app);
  renderMetrics(payload.metrics);
  renderFreshness(payload.freshness);
  renderWindow(payload.window);
  app.renderReplay(payload);
  if (fit) fitToTickets(app);
  fleet.renders += 1;
}

// ---------------------------------------------------------------- errors and token

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message || '';
}

function askForToken(message) {
  $('token-message').textContent = message;
  $('token-form').hidden = false;
  document.body.dataset.state = 'token';
}

function explain(error) {
  if (error instanceof ApiError) {
    const what = error.status === 503 ? 'The server is unavailable right now' : 'The API refused the request';
    return `${what} (HTTP ${error.status}): ${error.message}`;
  }
  return `Cannot reach the server (${error.message}). Trying again at the next refresh.`;
}

function handleError(error) {
  if (error.name === 'AbortError') return;
  if (!fleet.renders) $('freshness').textContent = 'No data';
  if (error instanceof ApiError && error.status === 401) {
    askForToken(localStorage.getItem(TOKEN_KEY)
      ? 'The server refused this token; paste another one.' : 'This API needs a token.');
    return;
  }
  showError(explain(error));
  document.body.dataset.state = 'error';
}

// ---------------------------------------------------------------- loading

async function loadDashboard(app, { fit }) {
  app.inflight?.abort();
  const controller = new AbortController();
  app.inflight = controller;
  const url = `/api/v1/inc/dashboard?${apiParams(app.state)}`;
  document.body.dataset.state = 'loading';
  try {
    const { body, changed } = await getJson(url, controller.signal);
    fleet.responses += 1;
    fleet.lastStatus = changed ? 200 : 304;
    if (changed || url !== fleet.url) render(app, body, fit);
    fleet.url = url;
    app.refreshTeams?.();
    app.refreshBacklog?.();
    showError(null);
    document.body.dataset.state = 'ready';
  } catch (error) {
    handleError(error);
  }
}

function fillPicker(select, items, chosen) {
  const names = items.map((i) => i.name).filter(Boolean);
  const extra = chosen.filter((c) => !names.includes(c)); // from the URL, unknown to the API
  select.replaceChildren(
    ...items.filter((i) => i.name).map((i) => el('option', {
      value: i.name, textContent: `${i.name} (${i.open})`, title: `${i.open} open of ${i.total}`,
    })),
    ...extra.map((c) => el('option', { value: c, textContent: c })),
  );
  [...select.options].forEach((o) => { o.selected = chosen.includes(o.value); });
}

async function loadPickers(app) {
  const [clusters, statuses] = await Promise.all(
    ['/api/v1/clusters', '/api/v1/statuses'].map((url) => getJson(url)),
  );
  fillPicker($('cluster'), clusters.body, app.state.cluster);
  fillPicker($('status'), statuses.body, app.state.status);
}

async function start(app) {
  $('token-form').hidden = true;
  try {
    await loadPickers(app);
  } catch (error) {
    handleError(error);
    if (error.status === 401) return; // otherwise the map is still worth drawing
  }
  await loadDashboard(app, { fit: !app.state.map });
  if (!app.live) {
    // The event stream refreshes the map; the poll runs only while it is down.
    app.live = setupLive({
      headers: authHeaders,
      refresh: () => loadDashboard(app, { fit: false }),
      pollSeconds: Math.max(1, app.state.refresh || app.config.refresh_secs || 60),
      fleet,
      header: document.querySelector('header.top'),
    });
  }
}

// ---------------------------------------------------------------- controls

const selected = (select) => [...select.selectedOptions].map((o) => o.value);

function showState(state) {
  $('window').value = state.window;
  $('from').value = state.from;
  $('to').value = state.to;
  $('controls').dataset.window = state.window;
  $('closed').checked = state.closed;
  ['cluster', 'status'].forEach((name) => {
    [...$(name).options].forEach((o) => { o.selected = state[name].includes(o.value); });
  });
}

/** Default custom dates: the week before "now" (as_of or the clock), today included. */
function defaultDates(state) {
  const now = state.asOf ? new Date(state.asOf) : new Date();
  const day = (offset) => isoDay.format(new Date(now.getTime() + offset * 86400000));
  return { from: day(-6), to: day(1) };
}

function onFiltersChange(app) {
  const state = {
    ...app.state,
    window: $('window').value,
    from: $('from').value,
    to: $('to').value,
    cluster: selected($('cluster')),
    status: selected($('status')),
    map: '',
  };
  if (state.window === 'custom' && !state.from && !state.to) Object.assign(state, defaultDates(state));
  app.state = state;
  showState(state);
  history.pushState(null, '', pageQuery(state));
  loadDashboard(app, { fit: true });
}

function wireControls(app) {
  ['window', 'from', 'to', 'cluster', 'status'].forEach((id) => {
    $(id).addEventListener('change', () => onFiltersChange(app));
  });
  $('clear').addEventListener('click', () => {
    ['cluster', 'status'].forEach((id) => { $(id).selectedIndex = -1; });
    onFiltersChange(app);
  });
  $('closed').addEventListener('change', () => {
    app.state.closed = $('closed').checked;
    history.replaceState(null, '', pageQuery(app.state));
    showClosed(app);
  });
  $('controls').addEventListener('submit', (event) => event.preventDefault());
  window.addEventListener('popstate', () => {
    app.state = readState();
    showState(app.state);
    const view = parseView(app.state.map);
    if (view) app.map.setView(view.center, view.zoom);
    loadDashboard(app, { fit: !view });
  });
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    $('token-input').value = '';
    start(app);
  });
}

async function main() {
  // index.html's handler shows the rejection (and which file failed to load).
  if (!L?.markerClusterGroup) throw new Error('Leaflet or leaflet.markercluster did not load');
  const app = { state: readState(), live: null, inflight: null };
  showState(app.state);
  try {
    app.config = (await getJson('/map-config.json')).body;
  } catch (error) {
    handleError(error);
    return;
  }
  app.map = createMap(app, app.config);
  app.open = clusterGroup('open').addTo(app.map);
  app.closed = clusterGroup('closed');
  wireControls(app);
  const get = (url) => getJson(url);
  setupNearest({
    L, map: app.map, get, onError: handleError, fleet,
    filters: () => {
      const q = apiParams(app.state);
      ['window', 'from', 'to'].forEach((name) => q.delete(name));
      return q;
    },
  });
  app.refreshTeams = setupTeams({ params: () => apiParams(app.state), get, onError: handleError, fleet });
  app.renderReplay = setupTimeTravel({
    asOf: () => app.state.asOf,
    setAsOf: (value, { replace = false } = {}) => {
      app.state = { ...app.state, asOf: value };
      history[replace ? 'replaceState' : 'pushState'](null, '', pageQuery(app.state));
      loadDashboard(app, { fit: false });
    },
    formatTime, el, fleet,
  });
  app.refreshBacklog = setupBacklog({
    params: () => backlogParams(app.state), get: getJson, onError: handleError, svg, dayLabel, fleet,
  });
  if (app.config.auth_required && !localStorage.getItem(TOKEN_KEY)) askForToken('This API needs a token.');
  else start(app);
}

main();
