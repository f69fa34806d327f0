// Dispatch: click the map (or "near me", from the browser's position) to list the
// nearest open tickets (/api/v1/inc/nearest) with their distances, highlighted on the map.

const $ = (id) => document.getElementById(id);

/**
 * `map`: the Leaflet map; `filters()`: the page's cluster/status/as_of as URLSearchParams;
 * `get(url)`: the page's authenticated JSON GET; `onError(error)`: the page's handler;
 * `fleet`: the page's test hooks (gets `nearest`, the ids listed).
 */
export function setupNearest({ L, map, filters, get, onError, fleet }) {
  const marks = L.layerGroup().addTo(map);
  fleet.nearest = [];

  async function show(lat, lon) {
    const q = filters();
    q.set('lat', lat.toFixed(6));
    q.set('lon', lon.toFixed(6));
    q.set('limit', '10');
    const { body } = await get(`/api/v1/inc/nearest?${q}`);
    marks.clearLayers();
    L.circleMarker([lat, lon], { radius: 7, className: 'nearest-origin', interactive: false }).addTo(marks);
    const items = body.features.map((f) => {
      const [flon, flat] = f.geometry.coordinates;
      L.circleMarker([flat, flon], { radius: 14, className: 'nearest-hit', interactive: false }).addTo(marks);
      const p = f.properties;
      const item = document.createElement('li');
      item.dataset.ticket = f.id;
      item.textContent = `${p.distance_km.toFixed(3)} km · ${f.id} · ${p.cluster ?? 'no cluster'} · ${p.sla_state.replace('_', ' ')}`;
      item.addEventListener('click', () => map.setView([flat, flon], Math.max(map.getZoom(), 14)));
      return item;
    });
    $('nearest-list').replaceChildren(...items);
    $('nearest-origin').textContent = `${lat.toFixed(4)}, ${lon.toFixed(4)}`;
    $('nearest').hidden = false;
    fleet.nearest = body.features.map((f) => f.id);
    fleet.nearestOrigin = [q.get('lat'), q.get('lon')];
  }

  map.on('click', (event) => {
    // A click on a marker opens its popup; only the map's background asks.
    if (event.originalEvent?.target?.closest?.('.leaflet-interactive')) return;
    show(event.latlng.lat, event.latlng.lng).catch(onError);
  });
  $('near-me').addEventListener('click', () => {
    if (!navigator.geolocation) {
      $('nearest-origin').textContent = 'this browser cannot tell its position';
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => show(pos.coords.latitude, pos.coords.longitude).catch(onError),
      (error) => { $('nearest-origin').textContent = `no position (${error.message})`; },
    );
  });
  $('nearest-clear').addEventListener('click', () => {
    marks.clearLayers();
    $('nearest-list').replaceChildren();
    $('nearest').hidden = true;
    fleet.nearest = [];
  });
}
