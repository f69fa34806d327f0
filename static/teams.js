// The panel's Teams tab: /api/v1/inc/teams for the page's window and filters, as a table.

const $ = (id) => document.getElementById(id);

const COLUMNS = [
  ['name', 'Team'], ['open', 'Open'], ['open_breached', 'Breached'], ['open_at_risk', 'At risk'],
  ['closed', 'Closed'], ['closed_met', 'Met'], ['avg_mttr_minutes', 'MTTR (min)'],
  ['closure_rate', 'Closure rate'],
];

function cell(key, value) {
  if (value == null) return key === 'name' ? '(none)' : '–';
  return key === 'closure_rate' ? `${(value * 100).toFixed(1)} %` : String(value);
}

function tableRow(row, tag, name) {
  const tr = document.createElement('tr');
  tr.replaceChildren(...COLUMNS.map(([key]) => {
    const td = document.createElement(key === 'name' ? 'th' : tag);
    td.textContent = key === 'name' && name ? name : cell(key, row[key]);
    return td;
  }));
  return tr;
}

/**
 * `params()`: the dashboard's query (window, from, to, cluster, status, as_of);
 * `get(url)`: the page's JSON GET (with ETag); `onError`; `fleet` gets `teamsRows`.
 * Returns `refresh()`, which the page calls after each dashboard load.
 */
export function setupTeams({ params, get, onError, fleet }) {
  fleet.teamsRows = null;
  const shown = () => !$('teams').hidden;

  async function refresh() {
    if (!shown()) return;
    const q = params();
    q.set('by', $('teams-by').value);
    const { body } = await get(`/api/v1/inc/teams?${q}`);
    $('teams-name').textContent = body.by === 'owner' ? 'Owner' : 'Team';
    $('teams-body').replaceChildren(...body.rows.map((r) => tableRow(r, 'td')));
    $('teams-total').replaceChildren(tableRow(body.total, 'td', 'Total'));
    fleet.teamsRows = body.rows;
  }

  function select(tab) {
    const teams = tab === 'teams';
    $('tab-metrics').setAttribute('aria-selected', String(!teams));
    $('tab-teams').setAttribute('aria-selected', String(teams));
    $('metrics').hidden = teams;
    $('teams').hidden = !teams;
    if (teams) refresh().catch(onError);
  }

  $('tab-metrics').addEventListener('click', () => select('metrics'));
  $('tab-teams').addEventListener('click', () => select('teams'));
  $('teams-by').addEventListener('change', () => refresh().catch(onError));
  $('teams-head').replaceChildren(...COLUMNS.map(([key, label]) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = label;
    if (key === 'name') th.id = 'teams-name';
    return th;
  }));
  return () => refresh().catch(onError);
}
