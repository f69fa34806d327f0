// Live updates: the map follows GET /api/v1/events and refreshes as soon as the server
// says the data changed (it says so once it serves the new data). While the stream is
// up, the periodic poll is off; while it is down, the poll is the fallback and the page
// says "reconnecting".
//
// The stream is read with fetch(), not EventSource: EventSource cannot send the
// `Authorization: Bearer` header the API needs, and a token in the URL would end up in
// proxy and server logs. fetch() reconnects here as EventSource would, sending
// Last-Event-ID so that the server replays what was missed.

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

/** Complete `event`/`id`/`data` frames in `text`, and what is left of it. */
export function parseFrames(text) {
  const blocks = text.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop();
  const frames = blocks.map((block) => {
    const frame = { event: 'message', id: null, data: '' };
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue; // a comment (the heartbeat)
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') frame.event = value;
      else if (field === 'id') frame.id = value;
      else if (field === 'data') frame.data += value;
    }
    return frame;
  });
  return { frames, rest };
}

/**
 * Follows the event stream: `refresh()` on each data change (and after a reconnection,
 * for what may have been missed); `refresh()` every `pollSeconds` only while the stream
 * is down. `headers()` gives the request's headers (the token). The state goes into
 * `fleet.live` ('connecting', 'live', 'reconnecting') and a badge in `header`.
 */
export function setupLive({ url = '/api/v1/events', headers, refresh, pollSeconds, fleet, header }) {
  const badge = document.createElement('p');
  badge.id = 'live';
  badge.className = 'live';
  badge.setAttribute('aria-live', 'polite');
  header.append(badge);
  Object.assign(fleet, { live: 'connecting', events: 0, polls: 0, streams: 0 });
  let timer = null;
  let lastId = null;
  let failures = 0;

  const show = (state) => {
    fleet.live = state;
    badge.dataset.live = state;
    badge.textContent = { live: '● live', connecting: 'connecting…' }[state] || 'reconnecting…';
    badge.title = state === 'live'
      ? 'Updates arrive as soon as the server has new data.'
      : `No live connection: checking for new data every ${pollSeconds} s meanwhile.`;
    if (state === 'live') {
      clearInterval(timer);
      timer = null;
    } else if (!timer) {
      timer = setInterval(() => { fleet.polls += 1; refresh(); }, pollSeconds * 1000);
    }
  };

  const onFrame = (frame) => {
    if (frame.id !== null) lastId = frame.id;
    if (frame.event === 'data_changed' || frame.event === 'resync') {
      fleet.events += 1;
      fleet.lastEvent = { event: frame.event, id: frame.id };
      refresh();
    }
  };

  async function follow() {
    const sent = { ...headers(), Accept: 'text/event-stream' };
    if (lastId !== null) sent['Last-Event-ID'] = lastId;
    const response = await fetch(url, { headers: sent, cache: 'no-store' });
    const type = response.headers.get('content-type') || '';
    if (!response.ok || !response.body || !type.startsWith('text/event-stream')) {
      throw new Error(`HTTP ${response.status}`);
    }
    fleet.streams += 1;
    failures = 0;
    show('live');
    if (fleet.streams > 1) refresh(); // whatever the replay cannot cover
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const { frames, rest } = parseFrames(buffer + value);
      buffer = rest;
      frames.forEach(onFrame);
    }
  }

  async function run() {
    for (;;) {
      try {
        await follow();
      } catch { /* the poll covers the gap; the next attempt is below */ }
      show('reconnecting');
      const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures);
      failures += 1;
      await new Promise((resolve) => { setTimeout(resolve, wait); });
    }
  }

  show('connecting');
  run();
  return { badge };
}
