// The live INC map in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), against real servers on a fresh database loaded with the sample CSV.
//
//   node --test tests/browser/        (scripts/browser-test.sh installs what it needs)
//
// FLEETTICKETS_BIN overrides the binary (default target/debug/fleettickets);
// BROWSER_TEST_PG the PostgreSQL server (default postgres://postgres@127.0.0.1:5432).
// The servers serve the map files embedded in the binary (no STATIC_DIR) unless a test
// says otherwise.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.FLEETTICKETS_BIN || path.join(ROOT, 'target/debug/fleettickets');
const SAMPLE = path.join(ROOT, 'tests/data/inc-sample.csv');
const PG = process.env.BROWSER_TEST_PG || 'postgres://postgres@127.0.0.1:5432';
const DB = `ft_browser_${process.pid}`;
const DATABASE_URL = `${PG}/${DB}`;
// A second database whose history is known: the sample's first half imported as the
// 07:00 EAT snapshot of 2026-06-16, all of it as the 09:00 one.
const HISTORY_DB = `${DB}_history`;
// A third, where a test imports while the page is open.
const LIVE_DB = `${DB}_live`;
const AS_OF = '2026-06-16T10:00:00+03:00';
const TOKEN = 'browser-test-reader-token-0123456789';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// ---------------------------------------------------------------- servers

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function serverEnv(extra) {
  const { STATIC_DIR: _ignored, ...inherited } = process.env;
  return {
    ...inherited,
    DATABASE_URL,
    INGEST_CRON: 'off',
    MAP_TILE_URL: 'none',
    API_TOKENS: '',
    STALE_AFTER_HOURS: '3',
    RUST_LOG: 'warn',
    ...extra,
  };
}

const servers = [];
let stopping = false;

/** `serve` on a free port; `bin` and `cwd` default to the built binary and the repository. */
async function startServer(extra = {}, { bin = BIN, cwd = ROOT } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve'], {
    cwd,
    env: serverEnv({ LISTEN_ADDR: `127.0.0.1:${port}`, ...extra }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`server ${base} exited early (${code ?? signal}):\n${log}`);
  });
  servers.push(child);
  for (let i = 0; i < 300; i += 1) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${log}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return base;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error(`server did not start on ${base}:\n${log}`);
}

async function stopServers() {
  stopping = true;
  await Promise.all(servers.filter((c) => c.exitCode === null).map((child) => {
    child.kill('SIGTERM');
    return once(child, 'exit');
  }));
}

function cli(...args) {
  return execFileSync(BIN, args, { cwd: ROOT, env: serverEnv({}), encoding: 'utf8' });
}

function dropDatabase(name = DB) {
  execFileSync('psql', [`${PG}/postgres`, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
}

/** The sample's records, header first (a quoted field may hold a line break). */
function sampleRecords() {
  const records = [];
  let current = null;
  for (const line of readFileSync(SAMPLE, 'utf8').split('\n')) {
    current = current === null ? line : `${current}\n${line}`;
    if ((current.match(/"/g) || []).length % 2 === 0) {
      if (current.trim()) records.push(current);
      current = null;
    }
  }
  return records;
}

/** Imports `[file name, sample rows]` snapshots in order into the database at `url`. */
function importSnapshots(url, snapshots) {
  const env = serverEnv({ DATABASE_URL: url });
  const folder = mkdtempSync(path.join(os.tmpdir(), 'fleettickets-snapshots-'));
  const [header] = sampleRecords();
  execFileSync(BIN, ['migrate'], { cwd: ROOT, env });
  for (const [name, part] of snapshots) {
    const file = path.join(folder, name);
    writeFileSync(file, [header, ...part].join('\n'));
    execFileSync(BIN, ['import', '--inc-csv', file, '--apply'], { cwd: ROOT, env });
  }
}

/** The sample's first half as the 07:00 EAT snapshot of 2026-06-16, and all of it at 09:00. */
function halfThenAll() {
  const rows = sampleRecords().slice(1);
  return [['2026-06-16T070000.csv', rows.slice(0, rows.length / 2)], ['2026-06-16T090000.csv', rows]];
}

/** HISTORY_DB with its two snapshots; returns its DATABASE_URL. */
function makeHistory() {
  const url = `${PG}/${HISTORY_DB}`;
  importSnapshots(url, halfThenAll());
  return url;
}

async function getJson(url, token) {
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  assert.equal(response.status, 200, `${url}: HTTP ${response.status}`);
  return response.json();
}

const dashboard = (base, query, token) => getJson(`${base}/api/v1/inc/dashboard?${query}`, token);

// ---------------------------------------------------------------- the page

let browser;

async function openPage(url, { viewport = { width: 1280, height: 800 }, storage, watch, context: options } = {}) {
  const context = await browser.newContext({ viewport, ...options });
  if (storage) await context.addInitScript((s) => Object.assign(localStorage, s), storage);
  const page = await context.newPage();
  const errors = [];
  const pageErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  watch?.(page);
  await page.goto(url);
  return { page, errors, pageErrors, close: () => context.close() };
}

/** Waits until the page shows the dashboard for exactly these API parameters. */
function shown(page, query) {
  return page.waitForFunction(
    (q) => document.body.dataset.state === 'ready'
      && window.__fleet.url === `/api/v1/inc/dashboard?${q}`,
    query.toString(),
  );
}

/** What the page shows, read from the DOM and the map's layers. */
function readView(page) {
  return page.evaluate(() => {
    const all = (selector) => [...document.querySelectorAll(selector)];
    const counts = (selector) => Object.fromEntries(all(selector).map((k) => [k.dataset.sla, Number(k.dataset.count)]));
    const bars = (series) => all(`#daily rect.bar-${series}`).map((r) => [r.dataset.date, Number(r.dataset.count)]);
    return {
      fleet: { ...window.__fleet },
      metrics: Object.fromEntries(all('[data-metric]').map((d) => [d.dataset.metric, { value: d.dataset.value, text: d.textContent }])),
      slaOpen: counts('#sla-open .key'),
      slaClosed: counts('#sla-closed .key'),
      created: bars('created'),
      closed: bars('closed'),
      unplacedHeading: Number(document.getElementById('unplaced-count').textContent),
      unplacedItems: all('#unplaced-open > li').length,
      window: document.getElementById('window').value,
      clusters: [...document.getElementById('cluster').selectedOptions].map((o) => o.value),
      staleVisible: !document.getElementById('stale').hidden,
      search: location.search,
    };
  });
}

const placed = (collection) => collection.features.filter((f) => f.geometry).length;

/** Every number the page shows equals the API's. */
function assertMatches(view, api) {
  const m = api.metrics;
  assert.equal(view.fleet.openMarkers + view.fleet.unplaced, m.open_count, 'open markers + listed = open_count');
  assert.equal(view.fleet.openMarkers, placed(api.open), 'open markers');
  assert.equal(view.fleet.unplaced, api.open.features.length - placed(api.open), 'listed without a point');
  assert.equal(view.unplacedItems, view.fleet.unplaced, 'list items');
  assert.equal(view.unplacedHeading, view.fleet.unplaced, 'list heading');
  assert.equal(view.fleet.closedMarkers, placed(api.closed), 'closed markers');
  assert.equal(view.metrics.open_count.text, String(m.open_count));
  assert.equal(view.metrics.closed_count.text, String(m.closed_count));
  assert.equal(view.metrics.closure_rate.value, String(m.closure_rate ?? ''));
  assert.equal(view.metrics.closure_rate.text, m.closure_rate == null ? '–' : `${(m.closure_rate * 100).toFixed(1)} %`);
  assert.equal(view.metrics.avg_mttr_minutes.value, String(m.avg_mttr_minutes ?? ''));
  assert.deepEqual(view.slaOpen, m.sla.open);
  assert.deepEqual(view.slaClosed, m.sla.closed);
  assert.deepEqual(view.created, m.daily.map((d) => [d.date, d.created]));
  assert.deepEqual(view.closed, m.daily.map((d) => [d.date, d.closed]));
}

// ---------------------------------------------------------------- the tests

describe('live INC map', () => {
  let base;
  let staleBase;
  let authBase;
  let noTilesBase;
  let historyBase;

  before(async () => {
    cli('migrate');
    cli('import', '--inc-csv', SAMPLE, '--apply');
    base = await startServer();
    staleBase = await startServer({ STALE_AFTER_HOURS: '0.0002', CACHE_TTL_SECS: '1' });
    authBase = await startServer({ API_TOKENS: `browser:reader:${TOKEN}` });
    const nobody = await freePort(); // nothing listens there: every tile fails, as offline
    noTilesBase = await startServer({ MAP_TILE_URL: `http://127.0.0.1:${nobody}/{z}/{x}/{y}.png` });
    historyBase = await startServer({ DATABASE_URL: makeHistory() });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await stopServers();
    dropDatabase();
    dropDatabase(HISTORY_DB);
    dropDatabase(LIVE_DB);
  });

  test('loads without console errors; markers + listed tickets = open_count', async () => {
    const api = await dashboard(base, 'window=today');
    assert.ok(api.metrics.open_count > 0 && placed(api.open) > 0, 'the sample has open tickets on the map');
    const { page, errors, pageErrors, close } = await openPage(`${base}/`);
    await shown(page, new URLSearchParams({ window: 'today' }));
    const view = await readView(page);
    assertMatches(view, api);
    assert.equal(view.staleVisible, false, 'fresh data shows no stale warning');

    const marker = page.locator('path.marker.sla-breached, path.marker.sla-within, path.marker.sla-at_risk, path.marker.sla-unknown').first();
    await marker.click();
    const popup = await page.locator('.leaflet-popup-content').innerText();
    const id = popup.match(/INC\d+/)?.[0];
    assert.ok(api.open.features.some((f) => f.id === id && f.geometry), `popup shows an open ticket (${popup})`);
    assert.match(popup, /Status[\s\S]*Cluster[\s\S]*Location[\s\S]*Team[\s\S]*Owner[\s\S]*Open for[\s\S]*SLA/);

    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('a map click or "near me" lists the nearest open tickets; the Teams tab is the API table', async () => {
    const week = new URLSearchParams({ window: 'week', as_of: AS_OF });
    const { page, errors, pageErrors, close } = await openPage(`${base}/?${week}`, {
      context: { geolocation: { latitude: -1.2921, longitude: 36.8219 }, permissions: ['geolocation'] },
    });
    await shown(page, week);
    const listed = () => page.evaluate(() => ({
      ids: [...document.querySelectorAll('#nearest-list > li')].map((li) => li.dataset.ticket),
      texts: [...document.querySelectorAll('#nearest-list > li')].map((li) => li.textContent),
      rings: document.querySelectorAll('path.nearest-hit').length,
      origin: window.__fleet.nearestOrigin,
    }));
    const expect = async (view) => {
      const [lat, lon] = view.origin;
      const api = await getJson(`${base}/api/v1/inc/nearest?as_of=${encodeURIComponent(AS_OF)}&lat=${lat}&lon=${lon}&limit=10`);
      assert.equal(api.features.length, 10, 'the sample has ten placed open tickets');
      assert.deepEqual(view.ids, api.features.map((f) => f.id));
      assert.deepEqual(view.texts.map((t) => t.split(' km')[0]), api.features.map((f) => f.properties.distance_km.toFixed(3)));
      assert.equal(view.rings, api.features.length, 'each listed ticket is highlighted');
    };
    // A click on the map's empty top-right corner.
    const box = await page.locator('#map').boundingBox();
    await page.mouse.click(box.x + box.width - 40, box.y + 40);
    await page.waitForFunction(() => window.__fleet.nearest.length > 0);
    await expect(await listed());
    // "Near me": the browser's position (Nairobi).
    await page.evaluate(() => { window.__fleet.nearest = []; });
    await page.click('#near-me');
    await page.waitForFunction(() => window.__fleet.nearest.length > 0);
    const near = await listed();
    assert.deepEqual(near.origin, ['-1.292100', '36.821900']);
    await expect(near);

    await page.click('#tab-teams');
    await page.waitForFunction(() => window.__fleet.teamsRows !== null);
    const teams = await getJson(`${base}/api/v1/inc/teams?${week}&by=team`);
    const shownRows = await page.evaluate(() => ({
      rows: window.__fleet.teamsRows,
      trs: document.querySelectorAll('#teams-body > tr').length,
      total: document.querySelector('#teams-total td').textContent,
      metricsHidden: document.getElementById('metrics').hidden,
    }));
    assert.deepEqual(shownRows.rows, teams.rows);
    assert.equal(shownRows.trs, teams.rows.length);
    assert.equal(shownRows.total, String(teams.total.open));
    assert.equal(shownRows.metricsHidden, true);
    await page.selectOption('#teams-by', 'owner');
    const owners = await getJson(`${base}/api/v1/inc/teams?${week}&by=owner`);
    await page.waitForFunction((n) => document.querySelectorAll('#teams-body > tr').length === n
      && document.getElementById('teams-name').textContent === 'Owner', owners.rows.length);
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('cluster and window filters refetch and match the API; reload restores the view', async () => {
    const month = new URLSearchParams({ window: 'month', as_of: AS_OF });
    const all = await dashboard(base, month);
    const firstPlaced = (set) => set.features.filter((f) => f.geometry).map((f) => f.properties.cluster).sort()[0];
    const chosen = [...new Set([firstPlaced(all.open), firstPlaced(all.closed)])].sort();
    const expected = new URLSearchParams([['window', 'month'], ...chosen.map((c) => ['cluster', c]), ['as_of', AS_OF]]);
    const api = await dashboard(base, expected);
    assert.ok(api.metrics.open_count < all.metrics.open_count, 'the filter narrows the set');
    assert.ok(placed(api.open) > 0 && placed(api.closed) > 0, 'open and closed markers to compare');

    const { page, errors, pageErrors, close } = await openPage(`${base}/?as_of=${encodeURIComponent(AS_OF)}`);
    await shown(page, new URLSearchParams({ window: 'today', as_of: AS_OF }));
    await page.selectOption('#cluster', chosen);
    await page.selectOption('#window', 'month');
    await shown(page, expected);
    const view = await readView(page);
    assertMatches(view, api);
    assert.deepEqual(view.clusters, chosen);
    assert.equal(view.window, 'month');
    const url = new URLSearchParams(view.search);
    assert.deepEqual(url.getAll('cluster'), chosen);
    assert.equal(url.get('window'), 'month');
    assert.equal(url.get('as_of'), AS_OF);

    await page.reload();
    await shown(page, expected);
    const restored = await readView(page);
    assertMatches(restored, api);
    assert.deepEqual(restored.clusters, chosen);
    assert.equal(restored.window, 'month');
    assert.equal(restored.search, view.search, 'same URL, map position included');

    const closedOnMap = () => page.locator('path.marker.closed, .cluster-closed').count();
    assert.ok(await closedOnMap() > 0, 'closed layer shown');
    await page.uncheck('#closed');
    assert.match(await page.evaluate(() => location.search), /closed=0/);
    assert.equal(await closedOnMap(), 0, 'closed layer hidden');
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('the backlog chart draws the last 7 days hourly for the filters and follows a change', async () => {
    const query = new URLSearchParams({ window: 'today', as_of: AS_OF });
    const { page, errors, pageErrors, close } = await openPage(`${historyBase}/?${query}`);
    await shown(page, query);
    /** The chart once it shows these backlog parameters, and the API's answer for them. */
    const chart = async (params) => {
      const url = `/api/v1/inc/backlog?${params}`;
      await page.waitForFunction((u) => window.__fleet.backlog?.url === u
        && document.getElementById('backlog').dataset.state === 'ready', url);
      const view = await page.evaluate(() => ({
        ...window.__fleet.backlog,
        points: Number(document.querySelector('#backlog svg').dataset.points),
        lines: [...document.querySelectorAll('#backlog path.backlog-line')].map((p) => [
          p.classList.contains('backlog-open') ? 'open' : 'breached',
          Number(p.dataset.points), p.getAttribute('d').split(/[ML]/).filter((v) => v.trim()).length]),
        legend: document.getElementById('backlog-legend').textContent,
      }));
      const api = await getJson(`${historyBase}${url}`);
      assert.deepEqual(view.open, api.points.map((p) => p.open), 'open as the API says');
      assert.deepEqual(view.breached, api.points.map((p) => p.breached), 'breached as the API says');
      return view;
    };
    const all = await chart(new URLSearchParams({ to: AS_OF }));
    // 7 days of hours to 10:00; nothing known before capture start (07:00): 164 gaps,
    // then one line over the 4 hours since, for open and for breached.
    assert.equal(all.points, 168);
    assert.equal(all.open.filter((v) => v === null).length, 164);
    assert.deepEqual(all.lines, [['open', 4, 4], ['breached', 4, 4]]);
    const api = await dashboard(historyBase, query);
    assert.equal(all.open.at(-1), api.metrics.open_count, 'at 10:00: the open set of now');
    assert.equal(all.breached.at(-1), api.metrics.sla.open.breached, 'and its breached part');
    assert.ok(all.open[164] < all.open.at(-1), 'the 09:00 snapshot added open tickets');
    assert.equal(all.legend, `open ${api.metrics.open_count}breached ${api.metrics.sla.open.breached}at 2026-06-16 10:00 EAT`);

    const cluster = api.metrics.by_cluster[0].cluster;
    await page.selectOption('#cluster', [cluster]);
    const filtered = await chart(new URLSearchParams([['cluster', cluster], ['to', AS_OF]]));
    const narrowed = await dashboard(historyBase, new URLSearchParams([['window', 'today'], ['cluster', cluster], ['as_of', AS_OF]]));
    assert.equal(filtered.open.at(-1), narrowed.metrics.open_count);
    assert.ok(filtered.open.at(-1) < all.open.at(-1), 'the filter narrows the backlog');
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('a backlog that cannot be fetched is shown in the error banner, never a hang', async () => {
    const watch = (page) => page.route('**/api/v1/inc/backlog?*', (route) => route.abort('connectionrefused'));
    const { page, pageErrors, close } = await openPage(`${historyBase}/?as_of=${encodeURIComponent(AS_OF)}`, { watch });
    await page.waitForFunction(() => document.getElementById('backlog').dataset.state === 'error');
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'error');
    assert.equal(await page.locator('#error').isVisible(), true);
    assert.match(await page.locator('#error').innerText(), /Cannot reach the server/);
    assert.match(await page.locator('#backlog').innerText(), /could not be loaded/);
    assert.ok(await page.evaluate(() => window.__fleet.renders) > 0, 'the rest of the page is drawn');
    // Once the backlog answers again, the next load draws it and clears the banner.
    await page.unroute('**/api/v1/inc/backlog?*');
    await page.selectOption('#window', 'week');
    await page.waitForFunction(() => document.getElementById('backlog').dataset.state === 'ready');
    assert.equal(await page.locator('#error').isVisible(), false);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('a stale snapshot shows the warning', async () => {
    for (let i = 0; i < 50 && !(await dashboard(staleBase, 'window=today')).freshness.stale; i += 1) await sleep(200);
    const { page, errors, close } = await openPage(`${staleBase}/`);
    await shown(page, new URLSearchParams({ window: 'today' }));
    const banner = page.locator('#stale');
    assert.equal(await banner.isVisible(), true);
    assert.match(await banner.innerText(), /Stale data/);
    assert.equal(await page.locator('#freshness.is-stale').count(), 1);
    assert.deepEqual(errors, []);
    await close();
  });

  test('refresh sends If-None-Match and an unchanged payload costs a 304', async () => {
    const answers = [];
    const watch = (page) => {
      page.on('response', async (r) => {
        if (!r.url().includes('/api/v1/inc/dashboard')) return;
        const sent = await r.request().allHeaders();
        answers.push({ status: r.status(), ifNoneMatch: sent['if-none-match'], etag: r.headers().etag });
      });
      // No event stream (an answer that is not one, which logs no console error): the
      // poll (every `refresh` seconds) refreshes.
      page.route('**/api/v1/events', (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: '' }));
    };
    const url = `${base}/?window=week&as_of=${encodeURIComponent(AS_OF)}&refresh=1`;
    const { page, errors, close } = await openPage(url, { watch });
    await page.waitForFunction(() => window.__fleet.lastStatus === 304, null, { timeout: 10000 });
    const fleet = await page.evaluate(() => ({ ...window.__fleet }));
    assert.equal(fleet.renders, 1, 'a 304 changes nothing');
    assert.ok(fleet.responses >= 2);
    const [first] = answers;
    const notModified = answers.find((a) => a.status === 304);
    assert.equal(first.status, 200);
    assert.equal(first.ifNoneMatch, undefined);
    assert.ok(first.etag, 'the first answer carries an ETag');
    assert.equal(notModified.ifNoneMatch, first.etag);
    assert.deepEqual(errors, []);
    await close();
  });

  test('a phone-sized screen has no horizontal overflow; the panel sits below the map', async () => {
    const { page, errors, close } = await openPage(`${base}/?window=week&as_of=${encodeURIComponent(AS_OF)}`, {
      viewport: { width: 390, height: 844 },
    });
    await shown(page, new URLSearchParams({ window: 'week', as_of: AS_OF }));
    const layout = await page.evaluate(() => {
      const box = (s) => document.querySelector(s).getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        width: window.innerWidth,
        map: box('#map').toJSON(),
        panel: box('.panel').toJSON(),
      };
    });
    assert.equal(layout.width, 390);
    assert.ok(layout.scrollWidth <= layout.width, `scrollWidth ${layout.scrollWidth} > 390`);
    assert.ok(layout.map.width <= 390 && layout.map.height >= 300, JSON.stringify(layout.map));
    assert.ok(layout.panel.top >= layout.map.bottom, 'panel below the map');
    assert.deepEqual(errors, []);
    await close();
  });

  test('with tokens configured the page asks for one and sends it as a bearer header', async () => {
    const { page, errors, pageErrors, close } = await openPage(`${authBase}/`);
    await page.waitForFunction(() => document.body.dataset.state === 'token');
    assert.equal(await page.locator('#token-form').isVisible(), true);
    assert.deepEqual(errors, [], 'no request was sent without a token');

    const sent = page.waitForRequest((r) => r.url().includes('/api/v1/inc/dashboard'));
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button');
    assert.equal((await sent).headers().authorization, `Bearer ${TOKEN}`);
    await shown(page, new URLSearchParams({ window: 'today' }));
    assertMatches(await readView(page), await dashboard(authBase, 'window=today', TOKEN));
    assert.equal(await page.locator('#token-form').isVisible(), false);
    assert.equal(await page.evaluate(() => localStorage.getItem('fleettickets.token')), TOKEN);
    assert.deepEqual(pageErrors, []);
    await close();

    const refused = await openPage(`${authBase}/`, { storage: { 'fleettickets.token': 'not-the-right-token-at-all' } });
    await refused.page.waitForFunction(() => document.body.dataset.state === 'token');
    assert.match(await refused.page.locator('#token-message').innerText(), /refused/);
    assert.deepEqual(refused.pageErrors, []);
    await refused.close();
  });

  test('tiles that fail to load leave a plain background with every ticket drawn', async () => {
    const api = await dashboard(noTilesBase, 'window=today');
    const { page, pageErrors, close } = await openPage(`${noTilesBase}/`);
    await shown(page, new URLSearchParams({ window: 'today' }));
    await page.waitForFunction(() => document.querySelector('.leaflet-control-attribution').textContent.includes('basemap unavailable'));
    assertMatches(await readView(page), api);
    assert.equal(await page.locator('.leaflet-tile-pane .leaflet-layer').count(), 0, 'the tile layer is gone');
    assert.equal(await page.locator('path.graticule').count(), 1, 'the plain background has its grid');
    assert.deepEqual(pageErrors, [], 'nothing thrown (only the browser\'s own failed-tile messages)');
    await close();
  });

  test('an API error is shown as a readable message', async () => {
    const { page, pageErrors, close } = await openPage(`${base}/?window=custom&from=2026-06-10&to=2026-06-01`);
    await page.waitForFunction(() => document.body.dataset.state === 'error');
    const message = await page.locator('#error').innerText();
    assert.match(message, /HTTP 400/);
    assert.match(message, /invalid parameter `to`.*is not after from/);
    assert.equal(await page.locator('#freshness').innerText(), 'No data', 'the chip leaves "Loading…"');
    assert.equal(await page.locator('#map').isVisible(), true, 'the page stays usable');
    assert.equal(await page.locator('#window').inputValue(), 'custom');
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('the binary alone, copied into an empty folder, serves the map', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'fleettickets-bare-'));
    const bin = path.join(folder, 'fleettickets');
    copyFileSync(BIN, bin);
    execFileSync('chmod', ['+x', bin]);
    const bareBase = await startServer({}, { bin, cwd: folder });
    const api = await dashboard(bareBase, 'window=today');
    const { page, errors, pageErrors, close } = await openPage(`${bareBase}/`);
    await shown(page, new URLSearchParams({ window: 'today' }));
    assertMatches(await readView(page), api);
    assert.equal(await page.locator('.leaflet-marker-pane .cluster, path.marker').first().isVisible(), true);
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('a library or script that fails to load is named on the page', async () => {
    // STATIC_DIR files win over the embedded ones: a page pointing at a missing Leaflet,
    // and one whose app.js is missing.
    const folder = mkdtempSync(path.join(os.tmpdir(), 'fleettickets-static-'));
    const index = readFileSync(path.join(ROOT, 'static/index.html'), 'utf8');
    const noLeaflet = index.replace('/vendor/leaflet-1.9.4/leaflet.js', '/vendor/leaflet-0.0.0/leaflet.js');
    assert.notEqual(noLeaflet, index);
    writeFileSync(path.join(folder, 'index.html'), noLeaflet);
    writeFileSync(path.join(folder, 'no-app.html'), index.replace('src="app.js"', 'src="missing-app.js"'));
    const brokenBase = await startServer({ STATIC_DIR: folder });

    for (const [url, file] of [['/', '/vendor/leaflet-0.0.0/leaflet.js'], ['/no-app.html', '/missing-app.js']]) {
      const { page, close } = await openPage(`${brokenBase}${url}`);
      await page.waitForFunction(() => document.body.dataset.state === 'failed');
      const banner = page.locator('#failed');
      assert.equal(await banner.isVisible(), true, url);
      assert.match(await banner.innerText(), new RegExp(`could not load ${brokenBase}${file}`), url);
      assert.equal(await page.locator('#freshness').innerText(), 'Not loaded', url);
      await close();
    }
  });

  // ------------------------------------------------ time travel (static/timetravel.js)
  // The history database: capture start 07:00 (the sample's first half), newest
  // history time 09:00 (all of it), on 2026-06-16.

  const replayQuery = (asOf, extra = []) => new URLSearchParams([['window', 'week'], ...extra, ['as_of', asOf]]);
  const banner = (page) => page.evaluate(() => {
    const b = document.getElementById('replay');
    return { hidden: b.hidden, mode: b.dataset.mode, text: b.textContent };
  });
  /** Moves the slider to `hours` after its first hour, as a user's drag ends. */
  const slide = (page, hours) => page.evaluate((h) => {
    const slider = document.getElementById('tt-slider');
    slider.value = String(h);
    slider.dispatchEvent(new Event('input'));
    slider.dispatchEvent(new Event('change'));
  }, hours);

  test('moving the slider replays recorded instants; what the page shows equals the API', async () => {
    const start = replayQuery('2026-06-16T10:00:00+03:00');
    const { page, errors, pageErrors, close } = await openPage(`${historyBase}/?${start}`);
    await shown(page, start);
    assert.equal((await banner(page)).mode, 'live', 'at or after the newest history time: live');
    const seen = [];
    for (const [hours, asOf, mode] of [
      [1, '2026-06-16T08:00:00+03:00', 'recorded'],
      [0, '2026-06-16T07:00:00+03:00', 'recorded'],
      [3, '2026-06-16T10:00:00+03:00', 'live'],
    ]) {
      await slide(page, hours);
      const query = replayQuery(asOf);
      await shown(page, query);
      const api = await dashboard(historyBase, query);
      assert.equal(api.replay.mode, mode, asOf);
      const view = await readView(page);
      assertMatches(view, api);
      assert.equal(new URLSearchParams(view.search).get('as_of'), asOf, 'the URL holds as_of');
      const b = await banner(page);
      assert.equal(b.mode, mode);
      assert.equal(b.hidden, false);
      if (mode === 'recorded') assert.match(b.text, /^Recorded state at 16 Jun 2026, 0[78]:00 EAT/);
      assert.equal(await page.inputValue('#tt-at'), asOf.slice(0, 16), 'the date-time field follows');
      seen.push(api.metrics.open_count);
    }
    assert.equal(seen[0], seen[1], '07:00 and 08:00 are the same recorded state');
    assert.ok(seen[1] < seen[2], `the 09:00 snapshot added open tickets (${seen})`);

    // Play steps an hour at a time; pause stops it.
    await slide(page, 0);
    await shown(page, replayQuery('2026-06-16T07:00:00+03:00'));
    await page.click('#tt-play');
    await shown(page, replayQuery('2026-06-16T08:00:00+03:00'));
    await page.click('#tt-play');
    assert.equal(await page.textContent('#tt-play'), 'Play');
    const paused = await page.evaluate(() => window.__fleet.url);
    await sleep(2000);
    assert.equal(await page.evaluate(() => window.__fleet.url), paused, 'paused');
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('a shared link reopens the recorded moment; a popup shows the ticket timeline', async () => {
    const all = await dashboard(historyBase, replayQuery('2026-06-16T08:00:00+03:00'));
    const cluster = all.metrics.by_cluster[0].cluster;
    const query = replayQuery('2026-06-16T08:00:00+03:00', [['cluster', cluster]]);
    const { page, errors, pageErrors, close } = await openPage(`${historyBase}/?${query}`);
    await shown(page, query);
    const api = await dashboard(historyBase, query);
    const view = await readView(page);
    assertMatches(view, api);
    assert.deepEqual(view.clusters, [cluster]);
    assert.equal((await banner(page)).mode, 'recorded');
    assert.equal(await page.inputValue('#tt-at'), '2026-06-16T08:00');

    await page.locator('path.marker').first().click();
    await page.waitForFunction(() => document.querySelector('.leaflet-popup-content .timeline')?.dataset.state === 'ready');
    const popup = await page.evaluate(() => ({
      id: document.querySelector('.leaflet-popup-content strong').textContent,
      items: [...document.querySelectorAll('.leaflet-popup-content .timeline-list > li')].map((li) => li.textContent),
    }));
    const timeline = await getJson(`${historyBase}/api/v1/inc/tickets/${popup.id}/history`);
    const shownVersions = timeline.versions.filter((v, i) => i === 0
      || ['normalized_status', 'assigned_team', 'owner'].some((f) => v.changed.includes(f)));
    assert.equal(popup.items.length, shownVersions.length, JSON.stringify(popup));
    assert.match(popup.items[0], /^16 Jun 2026, 0[79]:00 EAT Status: /);
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('before capture start the banner says so; one click returns to live', async () => {
    const query = replayQuery('2026-06-16T06:00:00+03:00');
    const { page, errors, pageErrors, close } = await openPage(`${historyBase}/?${query}`);
    await shown(page, query);
    const b = await banner(page);
    assert.equal(b.mode, 'clock');
    assert.match(b.text, /^Before history capture: today's tickets with the clock set back to 16 Jun 2026, 06:00 EAT/);
    const api = await dashboard(historyBase, query);
    assert.equal(api.replay.mode, 'clock');
    assertMatches(await readView(page), api);
    await page.click('#replay button');
    const live = new URLSearchParams({ window: 'week' });
    await shown(page, live);
    assert.equal((await banner(page)).hidden, true);
    assert.equal(new URLSearchParams(await page.evaluate(() => location.search)).has('as_of'), false);
    assert.equal(await page.isDisabled('#tt-live'), true, 'already live');
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();
  });

  test('an import lands: the map updates from the event stream, with no reload and no poll', async () => {
    const url = `${PG}/${LIVE_DB}`;
    const [first, second] = halfThenAll();
    importSnapshots(url, [first]);
    const liveBase = await startServer({ DATABASE_URL: url });
    const asked = [];
    // refresh=1: were the poll running, it would ask every second.
    const { page, errors, pageErrors, close } = await openPage(`${liveBase}/?refresh=1`, {
      watch: (p) => p.on('request', (r) => { if (r.url().includes('/api/v1/inc/dashboard')) asked.push(r.url()); }),
    });
    await page.waitForFunction(() => window.__fleet.live === 'live' && document.body.dataset.state === 'ready');
    assert.equal(await page.locator('#live').innerText(), '● live');
    const openCount = () => page.locator('[data-metric="open_count"]').innerText();
    const before = await openCount();
    await page.evaluate(() => { window.__sameDocument = true; });
    const polls = await page.evaluate(() => window.__fleet.polls);
    const askedBefore = asked.length;
    importSnapshots(url, [second]);
    await page.waitForFunction((b) => document.querySelector('[data-metric="open_count"]').textContent !== b, before);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    assertMatches(await readView(page), await dashboard(liveBase, 'window=today'));
    assert.ok(Number(await openCount()) > Number(before), 'the second snapshot adds open tickets');
    const after = await page.evaluate(() => ({ same: window.__sameDocument, ...window.__fleet }));
    assert.equal(after.same, true, 'no reload');
    assert.equal(after.polls, polls, 'no poll while live');
    assert.equal(after.events, 1);
    assert.equal(asked.length - askedBefore, 1, 'one dashboard request: the event\'s');
    assert.deepEqual(errors, []);
    assert.deepEqual(pageErrors, []);
    await close();

    // The stream refused: "reconnecting", and the poll takes over until it is back.
    const cut = await openPage(`${liveBase}/?refresh=1`, {
      watch: (p) => p.route('**/api/v1/events', (route) => route.abort()),
    });
    await cut.page.waitForFunction(() => window.__fleet.live === 'reconnecting' && window.__fleet.polls >= 2);
    assert.equal(await cut.page.locator('#live').innerText(), 'reconnecting…');
    await cut.page.unroute('**/api/v1/events');
    await cut.page.waitForFunction(() => window.__fleet.live === 'live', null, { timeout: 40_000 });
    const polling = await cut.page.evaluate(() => window.__fleet.polls);
    await cut.page.waitForFunction(() => window.__fleet.responses > 0);
    assert.equal(await cut.page.evaluate(() => window.__fleet.polls), polling, 'the poll stopped');
    await cut.close();

    // With a token: the stream carries it in the Authorization header.
    const authed = await openPage(`${authBase}/`, { storage: { 'fleettickets.token': TOKEN } });
    await authed.page.waitForFunction(() => window.__fleet.live === 'live');
    await authed.close();
  });

  // Written to docs/ only with UPDATE_SCREENSHOT=1, so a test run leaves the tree clean.
  test('screenshot of the week of 2026-06-16 for the README', async () => {
    const query = new URLSearchParams({ window: 'week', as_of: AS_OF });
    const { page, errors, close } = await openPage(`${base}/?${query}`, { viewport: { width: 1440, height: 960 } });
    await shown(page, query);
    const fitted = await page.evaluate(() => location.search);
    await page.click('.leaflet-control-zoom-out'); // room around the markers for a popup
    await page.waitForFunction((before) => location.search !== before, fitted);
    await page.locator('path.marker.sla-breached').first().click();
    await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
    const file = process.env.UPDATE_SCREENSHOT === '1'
      ? path.join(ROOT, 'docs/map.png')
      : path.join(os.tmpdir(), `fleettickets-map-${process.pid}.png`);
    await page.screenshot({ path: file });
    assert.ok(statSync(file).size > 50_000, 'a real screenshot');
    assert.deepEqual(errors, []);
    await close();
  });
});
