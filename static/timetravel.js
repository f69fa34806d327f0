// Time travel on the live map (timetravel.md): a date-time field and an hourly slider
// over [capture start, now] with play and pause set the page's `as_of`; a banner names
// the mode the dashboard answered in (payload.replay); one click returns to live. A
// ticket's popup loads its timeline (/api/v1/inc/tickets/{id}/history) when opened.

const $ = (id) => document.getElementById(id);

const HOUR = 3600 * 1000;
const EAT_OFFSET = 3 * HOUR;
/** How long each hour is shown while playing. */
const PLAY_STEP_MS = 1500;

/** `YYYY-MM-DDTHH:MM` in EAT (a datetime-local field's value) of an instant in ms. */
const eatLocal = (ms) => new Date(ms + EAT_OFFSET).toISOString().slice(0, 16);

/** The RFC 3339 instant, in EAT, of an instant in ms (whole seconds). */
const eatInstant = (ms) => `${new Date(ms + EAT_OFFSET).toISOString().slice(0, 19)}+03:00`;

const floorHour = (ms) => Math.floor(ms / HOUR) * HOUR;

/**
 * `asOf()`: the page's `as_of` ('' when live); `setAsOf(value, {replace})`: sets it (''
 * = live), updates the URL (replacing the entry while playing) and reloads;
 * `formatTime(iso)`, `el(tag, props, children)`: the page's helpers; `fleet` gets
 * `replayMode`. Returns `render(payload)`, called with each dashboard payload drawn.
 */
export function setupTimeTravel({ asOf, setAsOf, formatTime, el, fleet }) {
  const [field, slider, play, live, banner] = ['tt-at', 'tt-slider', 'tt-play', 'tt-live', 'replay'].map($);
  let start = null; // the slider's first hour (capture start floored), ms
  let timer = null;

  const now = () => Date.now();
  const current = () => (asOf() ? Date.parse(asOf()) : now());

  /** At or after now is live: the present, not a replay. */
  function go(ms, options = {}) {
    setAsOf(ms >= now() ? '' : eatInstant(ms), options);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
  }

  function step() {
    const next = floorHour(current()) + HOUR;
    if (next >= now()) {
      stop();
      go(next);
      return;
    }
    go(next, { replace: true });
  }

  function showPosition() {
    const at = current();
    field.value = eatLocal(at);
    field.max = eatLocal(now());
    if (start === null) return;
    slider.max = String(Math.max(0, Math.ceil((now() - start) / HOUR)));
    slider.value = String(asOf() ? Math.round((floorHour(at) - start) / HOUR) : slider.max);
  }

  slider.addEventListener('input', () => { field.value = eatLocal(start + Number(slider.value) * HOUR); });
  slider.addEventListener('change', () => {
    stop();
    go(start + Number(slider.value) * HOUR);
  });
  field.addEventListener('change', () => {
    if (!field.value) return;
    stop();
    go(Date.parse(`${field.value}:00+03:00`));
  });
  play.addEventListener('click', () => {
    if (timer) {
      stop();
      return;
    }
    // From live, play starts at capture start.
    if (!asOf() && start !== null) go(start, { replace: true });
    timer = setInterval(step, PLAY_STEP_MS);
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
  });
  live.addEventListener('click', () => {
    stop();
    setAsOf('');
  });

  function renderBanner(replay, at) {
    const when = formatTime(at);
    const text = {
      recorded: `Recorded state at ${when}`,
      clock: `Before history capture: today's tickets with the clock set back to ${when}`,
      live: `Live tickets, clock set to ${when}`,
    }[replay.mode];
    banner.hidden = !asOf();
    banner.dataset.mode = replay.mode;
    if (asOf()) {
      const back = el('button', { type: 'button', className: 'link', textContent: 'back to live' });
      back.addEventListener('click', () => live.click());
      banner.replaceChildren(`${text} · `, back);
    }
  }

  return function render(payload) {
    const { replay } = payload;
    fleet.replayMode = replay.mode;
    start = replay.capture_started_at ? floorHour(Date.parse(replay.capture_started_at)) : null;
    slider.disabled = start === null;
    play.disabled = start === null;
    live.disabled = !asOf();
    showPosition();
    renderBanner(replay, payload.window.as_of);
  };
}

/** The tracked fields a timeline shows, with their labels. */
const SHOWN = [['normalized_status', 'Status'], ['assigned_team', 'Team'], ['owner', 'Owner']];

/**
 * A popup's timeline section for `ticketId`, filled once `get(url)` (the page's JSON
 * GET) answers: each version that set the status, team or owner, with its time.
 */
export function timelineSection(ticketId, { get, formatTime, el }) {
  const list = el('ol', { className: 'timeline-list' });
  const section = el('section', { className: 'timeline' }, [el('h3', { textContent: 'History' }), list]);
  section.dataset.state = 'loading';
  list.append(el('li', { textContent: 'Loading…' }));
  get(`/api/v1/inc/tickets/${encodeURIComponent(ticketId)}/history`).then(({ body }) => {
    const items = body.versions.flatMap((v, i) => {
      const shown = SHOWN.filter(([name]) => v.changed.includes(name));
      if (i > 0 && !shown.length) return [];
      const what = shown.map(([name, label]) => `${label}: ${v.fields[name] ?? '–'}`).join(' · ');
      const item = el('li', {}, [el('time', { textContent: formatTime(v.valid_from) }), ` ${what || 'recorded'}`]);
      item.dataset.changed = v.changed.join(',');
      return [item];
    });
    if (!items.length) items.push(el('li', { textContent: 'Not recorded yet.' }));
    list.replaceChildren(...items);
    section.dataset.state = 'ready';
  }).catch((error) => {
    list.replaceChildren(el('li', { textContent: `History unavailable (${error.message}).` }));
    section.dataset.state = 'error';
  });
  return section;
}
