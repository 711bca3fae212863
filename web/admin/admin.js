// Switchboard operator console (served at /admin/). Plain JS, no build step; it calls only
// the documented operator API under /admin/api/ (docs/protocol.md, "Operator API").
//
// The admin token is asked for once and kept in sessionStorage (this tab only); it is sent
// as `Authorization: Bearer <token>` and never put in a URL. Everything refreshes every 2 s
// by polling (overview, top actors, the open detail, expanded tree nodes) without reloading.
// Actions (stop, disconnect, passivate, drain, move) ask confirm() first. All server text is inserted
// with textContent, never as HTML.
//
// Stable data-testid attributes (for browser tests):
//   login            the token form's section        token-input   its password field
//   login-button     submit the token                login-error   why the token was refused
//   console          the console (after login)       error         transient error banner
//   overview         overview cards container        card-<field>  one card, e.g. card-connections
//   tree             supervision tree (root "node")  tree-node     one tree row (data-path, data-kind, data-key)
//   tree-toggle      expand/collapse a supervisor    tree-filter   key-prefix filter of an expanded supervisor
//   tree-more        next page of a supervisor       search        find an actor by key (channels, users, connections)
//   search-results   list of search hits             search-result one hit (data-kind, data-key); click opens detail
//   actor-list       top-actors table                actor-row     one row (data-kind, data-key); click opens detail
//   actor-sort       sort select (mailbox|handled|restarts)          actor-kind    kind filter select
//   actor-detail     detail panel                    restarts      restart count of the shown actor
//   actor-state      state of the shown actor        stop-button   stop (kill; its supervisor restarts it)
//   disconnect-button close and revoke the user's    passivate-button  passivate idle channels
//   action-result    outcome of the last action      logout-button forget the token
//   cluster          cluster panel (cluster mode)    cluster-self  this node: state, lease, controller
//   cluster-nodes    nodes table                     cluster-node  one row (data-node, data-state, data-link)
//   partition-map    one cell per partition          partition     one cell (data-partition, data-primary, data-available)
//   partition-summary counts per state              cluster-events the last events this node saw
//   tree-of          whose supervision tree is shown (cluster mode: this node or a live peer)
//   drain-button     drain one node (data-node)      cluster-moves this node's partition moves
//   cluster-move     one move (data-partition, data-phase); clicking a partition cell asks where to move it
'use strict';

const API = '/admin/api/';
const TOKEN_KEY = 'sb_admin_token';
const REFRESH_MS = 2000;
const TREE_PAGE = 50;

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  selected: null,          // {kind, key}
  sort: 'mailbox',
  kind: '',
  tree: new Map(),         // path -> {expanded, filter, rows, next}
  treeOf: '',              // cluster: the node whose tree is shown ('' = this one)
  timer: null,
  refreshing: false,
  lastAction: '',
};

// -- helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function showError(msg) {
  const b = $('error');
  b.textContent = msg;
  b.hidden = false;
  clearTimeout(showError.t);
  showError.t = setTimeout(() => { b.hidden = true; }, 5000);
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + state.token } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', 'server unreachable');
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 401) {
    logout('The admin token was refused.');
    throw new ApiError(401, 'unauthorized', 'unauthorized');
  }
  if (!res.ok) {
    throw new ApiError(res.status, data && data.code || 'http_' + res.status,
                       data && data.message || res.statusText);
  }
  return data;
}

function fmt(n, digits = 0) {
  if (typeof n !== 'number') return String(n ?? '');
  return n.toLocaleString(undefined, { maximumFractionDigits: digits });
}

function bytes(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + ' GiB';
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
  return n + ' B';
}

const DYNAMIC = { channel: 'channels', user: 'users', connection: 'connections' };

// -- login -------------------------------------------------------------------------------

async function login(token) {
  state.token = token;
  try {
    await api('GET', 'overview');
  } catch (e) {
    if (e.status !== 401) $('login-error').textContent = 'Error: ' + e.message;
    $('login-error').hidden = false;
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login').hidden = true;
  $('console').hidden = false;
  if (!state.tree.has('node')) state.tree.set('node', { expanded: true, filter: '', rows: [], next: 0 });
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
  return true;
}

function logout(why) {
  clearInterval(state.timer);
  state.timer = null;
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  $('console').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = why || '';
  $('login-error').hidden = !why;
}

// -- overview ----------------------------------------------------------------------------

const CARDS = [
  ['node_id', 'node'], ['uptime_s', 'uptime s'], ['connections', 'connections'],
  ['online_users', 'online users'], ['channel_actors', 'channel actors'],
  ['events_in_per_s', 'events in /s', 1], ['events_out_per_s', 'events out /s', 1],
  ['commits_per_s', 'commits /s', 1], ['commit_p50_ms', 'commit p50 ms', 2],
  ['commit_p99_ms', 'commit p99 ms', 2], ['scheduler_threads', 'scheduler threads'],
  ['scheduler_load', 'scheduler load', 2], ['rss_bytes', 'RSS'],
];

function renderOverview(o) {
  const box = $('overview');
  box.replaceChildren();
  for (const [field, label, digits] of CARDS) {
    const v = field === 'rss_bytes' ? bytes(o[field]) : fmt(o[field], digits || 0);
    box.append(el('div', { class: 'card', 'data-testid': 'card-' + field },
      el('div', { class: 'label', text: label }), el('div', { class: 'value', text: v })));
  }
  const restarts = (o.kinds || []).reduce((s, k) => s + k.restarts, 0);
  box.append(el('div', { class: 'card', 'data-testid': 'card-restarts' },
    el('div', { class: 'label', text: 'restarts (all kinds)' }),
    el('div', { class: 'value', text: fmt(restarts) })));
}

// -- cluster -------------------------------------------------------------------------------

// A stable colour per node id, so the partition map reads as "who owns what".
function nodeColour(id) { return 'hsl(' + ((id * 137) % 360) + ', 55%, 62%)'; }

function renderCluster(c) {
  const panel = $('cluster');
  if (!c || c.mode !== 'cluster') { panel.hidden = true; return; }
  panel.hidden = false;
  $('cluster-self').textContent = 'node ' + c.self + ' ' + c.state + ', incarnation ' + c.incarnation +
    ', lease left ' + fmt(c.lease_left_ms) + ' ms; controller node ' + c.controller.node +
    ' (epoch ' + c.controller.epoch + '); etcd revision ' + c.revision;
  const rows = $('cluster-nodes');
  rows.replaceChildren();
  for (const n of c.nodes) {
    rows.append(el('tr', { 'data-testid': 'cluster-node', 'data-node': String(n.node), 'data-state': n.state, 'data-link': n.link },
      el('td', { class: 'nowrap' }, el('span', { class: 'swatch', style: 'background:' + nodeColour(n.node) }), String(n.node),
        n.state === 'up' && n.partitions > 0
          ? el('button', { type: 'button', class: 'small', 'data-testid': 'drain-button', 'data-node': String(n.node),
              title: 'move every partition of node ' + n.node + ' to the other live nodes', onclick: () => drainNode(n.node) }, 'drain')
          : ''),
      el('td', { class: n.state === 'up' ? 'state-running' : 'state-restarting', text: n.state }),
      el('td', { text: String(n.incarnation) }), el('td', { text: n.cluster_addr }),
      el('td', { text: n.http }), el('td', { text: n.link }), el('td', { text: fmt(n.partitions) }),
      el('td', { 'data-testid': 'cluster-traffic', text: n.node === c.self ? '' : fmt(n.messages_out) + '/' + fmt(n.messages_in) })));
  }
  const pick = $('tree-of');
  pick.hidden = false;
  const want = ['', ...c.nodes.filter((n) => n.state === 'up' && n.node !== c.self).map((n) => String(n.node))];
  const have = [...pick.options].map((o) => o.value);
  if (want.join(',') !== have.join(',')) {
    pick.replaceChildren(...want.map((v) => el('option', { value: v, text: v ? 'node ' + v : 'this node (' + c.self + ')' })));
    if (!want.includes(state.treeOf)) { state.treeOf = ''; state.tree.clear(); }
    pick.value = state.treeOf;
  }
  const map = $('partition-map');
  map.replaceChildren();
  for (const p of c.partitions) {
    const cell = el('span', {
      class: 'cell' + (p.available ? '' : ' unavailable'), 'data-testid': 'partition',
      'data-partition': String(p.partition), 'data-primary': String(p.primary), 'data-available': String(p.available),
      title: 'partition ' + p.partition + ': primary node ' + p.primary + ', epoch ' + p.epoch + ', ' + p.state +
        (p.move_to ? ' to node ' + p.move_to : '') + (p.available ? '' : ' (primary down)') + '; click to move it',
      onclick: () => movePartition(p, c),
    });
    if (p.state !== 'unassigned') cell.style.background = nodeColour(p.primary);
    map.append(cell);
  }
  const states = Object.entries(c.partition_states || {}).map(([k, v]) => v + ' ' + k).join(', ');
  $('partition-summary').textContent = c.partitions.length + ' partitions: ' + states + '; unavailable ' + c.partitions_unavailable;
  const moves = $('cluster-moves');
  moves.replaceChildren();
  for (const m of (c.moves || []).slice(-12).reverse()) {
    moves.append(el('li', { 'data-testid': 'cluster-move', 'data-partition': String(m.partition), 'data-phase': m.phase },
      el('b', { text: 'partition ' + m.partition }), ' node ' + m.from + ' \u2192 ' + m.to + ': ' + m.phase +
      ' (' + fmt(m.rows) + ' rows, ' + fmt(m.bytes) + ' bytes)' + (m.error ? ' \u2014 ' + m.error : '')));
  }
  const events = $('cluster-events');
  events.replaceChildren();
  for (const e of (c.events || []).slice(-12).reverse()) {
    events.append(el('li', {}, el('span', { class: 'muted', text: new Date(e.at_ms).toISOString().slice(11, 19) + ' ' }),
      el('b', { text: e.what }), ' ' + e.detail));
  }
}

// -- supervision tree ----------------------------------------------------------------------

function treeNode(path) {
  let n = state.tree.get(path);
  if (!n) {
    n = { expanded: false, filter: '', rows: [], next: 0 };
    state.tree.set(path, n);
  }
  return n;
}

async function loadTree(path, more = false) {
  const n = treeNode(path);
  const q = new URLSearchParams({ path });
  if (state.treeOf) q.set('node', state.treeOf);
  if (n.filter) q.set('q', n.filter);
  if (more) {
    q.set('after', n.next);
    q.set('limit', TREE_PAGE);
  } else {
    // A refresh reloads as many rows as are shown (bounded by the server at 1,000).
    q.set('limit', Math.min(1000, Math.max(TREE_PAGE, n.rows.length)));
  }
  const snap = await api('GET', 'topology?' + q);
  n.rows = more ? n.rows.concat(snap.children) : snap.children;
  n.next = snap.next_cursor;
  n.total = snap.total_children;
  n.matching = snap.matching_children;
  n.self = snap.self;
}

function renderTreeRows(parentPath, ul) {
  const n = treeNode(parentPath);
  for (const row of n.rows) {
    const path = parentPath + '/' + row.key;
    const li = el('li');
    const isSel = state.selected && state.selected.kind === row.kind && state.selected.key === row.key;
    const rowEl = el('div', {
      class: 'node-row' + (isSel ? ' selected' : ''), 'data-testid': 'tree-node',
      'data-path': path, 'data-kind': row.kind, 'data-key': row.key,
    });
    if (row.is_supervisor) {
      const sub = treeNode(path);
      rowEl.append(el('span', { class: 'toggle', 'data-testid': 'tree-toggle', text: sub.expanded ? '▾' : '▸' }));
      rowEl.addEventListener('click', () => toggle(path));
    } else {
      rowEl.append(el('span', { class: 'toggle', text: '·' }));
      // Details and actions are this node's API: another node's tree is read-only here.
      if (!state.treeOf) rowEl.addEventListener('click', () => select(row.kind, row.key));
    }
    rowEl.append(el('span', { class: 'kind', text: row.kind }), el('span', { text: row.key }),
      el('span', { class: 'badge state-' + row.state, text: row.state }),
      el('span', { class: 'badge', text: `mbox ${row.mailbox_depth} · handled ${fmt(row.messages_handled)} · restarts ${row.restarts}` }));
    li.append(rowEl);
    if (row.is_supervisor && treeNode(path).expanded) li.append(renderSupervisor(path));
    ul.append(li);
  }
}

function renderSupervisor(path) {
  const n = treeNode(path);
  const box = el('div');
  const filter = el('input', { type: 'search', placeholder: 'key prefix', 'data-testid': 'tree-filter', value: n.filter });
  filter.addEventListener('change', async () => {
    n.filter = filter.value.trim();
    n.rows = [];
    await loadTree(path).catch((e) => showError(e.message));
    renderTree();
  });
  const tools = el('div', { class: 'sup-tools' }, filter,
    el('span', { class: 'muted', text: `${n.rows.length} of ${n.matching ?? '?'} shown (${n.total ?? '?'} children)` }));
  if (n.next) {
    tools.append(el('button', {
      class: 'link', 'data-testid': 'tree-more', text: 'more…',
      onclick: async (ev) => {
        ev.stopPropagation();
        await loadTree(path, true).catch((e) => showError(e.message));
        renderTree();
      },
    }));
  }
  const ul = el('ul');
  renderTreeRows(path, ul);
  box.append(tools, ul);
  return box;
}

function renderTree() {
  const root = treeNode('node');
  const ul = $('tree');
  ul.replaceChildren();
  const li = el('li');
  const row = el('div', { class: 'node-row', 'data-testid': 'tree-node', 'data-path': 'node', 'data-kind': 'supervisor', 'data-key': 'node' },
    el('span', { class: 'toggle', 'data-testid': 'tree-toggle', text: root.expanded ? '▾' : '▸' }),
    el('span', { class: 'kind', text: 'supervisor' }), el('span', { text: 'node' }),
    el('span', { class: 'badge', text: root.self ? `restarts ${root.self.restarts}` : '' }));
  row.addEventListener('click', () => toggle('node'));
  li.append(row);
  if (root.expanded) li.append(renderSupervisor('node'));
  ul.append(li);
}

async function toggle(path) {
  const n = treeNode(path);
  n.expanded = !n.expanded;
  if (n.expanded) await loadTree(path).catch((e) => showError(e.message));
  renderTree();
}

// -- search ----------------------------------------------------------------------------------

async function search(text) {
  const out = $('search-results');
  if (!text) {
    out.replaceChildren();
    return;
  }
  const hits = [];
  for (const [kind, sup] of Object.entries(DYNAMIC)) {
    const q = new URLSearchParams({ path: 'node/' + sup, q: text, limit: 20 });
    try {
      const snap = await api('GET', 'topology?' + q);
      for (const c of snap.children) hits.push(c);
    } catch (e) { showError(e.message); }
  }
  if ($('search').value.trim() !== text) return; // a newer search is running
  out.replaceChildren();
  if (!hits.length) out.append(el('li', { class: 'muted', text: 'no running actor has that key' }));
  for (const c of hits) {
    out.append(el('li', {}, el('div', {
      class: 'node-row', 'data-testid': 'search-result', 'data-kind': c.kind, 'data-key': c.key,
      onclick: () => select(c.kind, c.key),
    }, el('span', { class: 'kind', text: c.kind }), el('span', { text: c.key }),
      el('span', { class: 'badge', text: `restarts ${c.restarts}` }))));
  }
}

// -- top actors --------------------------------------------------------------------------------

async function loadActors() {
  const q = new URLSearchParams({ sort: state.sort, limit: 20 });
  if (state.kind) q.set('kind', state.kind);
  const data = await api('GET', 'actors?' + q);
  const body = $('actor-rows');
  body.replaceChildren();
  for (const a of data.actors) {
    body.append(el('tr', {
      'data-testid': 'actor-row', 'data-kind': a.kind, 'data-key': a.key,
      onclick: () => select(a.kind, a.key),
    }, el('td', { text: a.kind }), el('td', { text: a.key }), el('td', { text: fmt(a.mailbox_depth) }),
      el('td', { text: fmt(a.messages_handled) }), el('td', { text: fmt(a.restarts) }),
      el('td', { class: 'state-' + a.state, text: a.state })));
  }
}

// -- detail and actions ----------------------------------------------------------------------

function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v, testid] of pairs) {
    dl.append(el('dt', { text: k }), el('dd', { text: String(v ?? ''), 'data-testid': testid }));
  }
  return dl;
}

async function loadDetail() {
  const box = $('actor-detail');
  const sel = state.selected;
  if (!sel) return;
  let d;
  try {
    d = await api('GET', `actors/${encodeURIComponent(sel.kind)}/${encodeURIComponent(sel.key)}`);
  } catch (e) {
    if (state.selected !== sel) return;
    box.replaceChildren(el('h3', { text: `${sel.kind} ${sel.key}` }),
      el('p', { class: 'muted', 'data-testid': 'actor-state', text: e.code === 'unknown_actor' ? 'not running on this node (stopped, passivated or offline)' : 'error: ' + e.message }),
      el('p', { 'data-testid': 'action-result', text: state.lastAction }));
    return;
  }
  if (state.selected !== sel) return;
  const a = d.actor;
  const parts = [el('h3', { text: `${a.kind} ${a.key}` }), kv([
    ['state', a.state, 'actor-state'], ['actor id', a.actor_id], ['restarts', a.restarts, 'restarts'],
    ['mailbox', a.mailbox_depth], ['messages handled', fmt(a.messages_handled)],
    ['last exit', a.last_exit_reason || '—'], ['started', new Date(a.started_at_ms).toLocaleString()],
  ])];
  const actions = el('div', { class: 'actions' },
    el('button', { class: 'danger', 'data-testid': 'stop-button', text: 'Stop', onclick: () => stopActor(sel) }));
  let user = null;
  if (d.channel) {
    const c = d.channel;
    parts.push(kv([
      ['name', c.name], ['kind', c.kind], ['archived', c.archived], ['head seq', c.head],
      ['next seq', c.next_seq], ['writes in flight', c.inflight], ['members', c.member_count],
      ['subscribers here', c.subscriber_count],
      ['rate limit', `${fmt(c.rate_limit.tokens, 1)} of ${fmt(c.rate_limit.burst)} tokens, ${fmt(c.rate_limit.rate_per_s)}/s`],
      ['first members', c.members.join(', ')],
    ]));
  } else if (d.connection) {
    const c = d.connection;
    user = c.user !== '0' ? c.user : null;
    parts.push(kv([
      ['user', c.user], ['session', c.session], ['phase', c.phase], ['outbox', `${bytes(c.outbox_bytes)} in ${c.outbox_frames} frames`],
      ['op tokens', fmt(c.rate_tokens, 1)], ['last heartbeat', new Date(c.last_heartbeat_ms).toLocaleTimeString()],
      ['channels', c.channel_count],
    ]));
    const t = el('table', { class: 'actors' }, el('thead', {}, el('tr', {},
      el('th', { text: 'channel' }), el('th', { text: 'delivered' }), el('th', { text: 'head' }), el('th', { text: 'lag' }))));
    const tb = el('tbody');
    for (const ch of c.channels) {
      tb.append(el('tr', { onclick: () => select('channel', ch.channel) }, el('td', { text: ch.channel }),
        el('td', { text: ch.delivered }), el('td', { text: ch.head ?? '—' }), el('td', { text: ch.lag ?? '—' })));
    }
    t.append(tb);
    parts.push(t);
  } else if (d.user) {
    user = d.user.user;
    parts.push(kv([['devices', d.user.devices]]));
  }
  if (user) {
    actions.append(el('button', { class: 'danger', 'data-testid': 'disconnect-button', text: 'Disconnect user', onclick: () => disconnectUser(user) }));
  }
  parts.push(actions, el('p', { 'data-testid': 'action-result', text: state.lastAction }));
  box.replaceChildren(...parts);
}

function select(kind, key) {
  if (!DYNAMIC[kind]) {
    $('actor-detail').replaceChildren(el('p', { class: 'muted', text: `${kind} ${key}: a static child; see the tree row for its counters.` }));
    state.selected = null;
    return;
  }
  state.selected = { kind, key: String(key) };
  state.lastAction = '';
  loadDetail();
  renderTree();
}

async function stopActor(sel) {
  if (!confirm(`Stop ${sel.kind} ${sel.key}? It is killed as a crash would; its supervisor decides whether it restarts.`)) return;
  try {
    const r = await api('POST', 'actors/stop', { kind: sel.kind, key: sel.key });
    state.lastAction = `stopped actor ${r.actor_id}`;
  } catch (e) {
    state.lastAction = `stop failed: ${e.code}`;
  }
  await loadDetail();
}

async function disconnectUser(user) {
  if (!confirm(`Disconnect user ${user}? Their clients are closed with 4007 and every session of theirs is revoked (they log in again).`)) return;
  try {
    const r = await api('POST', `users/${encodeURIComponent(user)}/disconnect`, {});
    state.lastAction = `closed ${r.closed} connection(s), revoked ${r.revoked} session(s)`;
  } catch (e) {
    state.lastAction = `disconnect failed: ${e.code}`;
  }
  await loadDetail();
}

async function passivate() {
  if (!confirm('Passivate every idle channel actor (no subscribers, no writes in flight) now?')) return;
  try {
    const r = await api('POST', 'channels/passivate', {});
    state.lastAction = `passivated ${r.passivated} of ${r.asked} channel actors`;
    showError(state.lastAction);
  } catch (e) {
    showError('passivate failed: ' + e.code);
  }
}

async function drainNode(node) {
  if (!confirm(`Drain node ${node}? Every partition it owns moves to the other live nodes, one at a time; writes to each wait for a moment while it moves.`)) return;
  try {
    const r = await api('POST', 'cluster/nodes/' + node + '/drain', {});
    state.lastAction = `queued ${r.queued.length} move(s) off node ${node}`;
    showError(state.lastAction);
  } catch (e) {
    showError('drain failed: ' + e.code + ' (' + e.message + ')');
  }
}

async function movePartition(p, c) {
  const others = c.nodes.filter((n) => n.state === 'up' && n.node !== p.primary).map((n) => n.node);
  if (others.length === 0) { showError('no other live node to move partition ' + p.partition + ' to'); return; }
  const answer = prompt(`Move partition ${p.partition} (node ${p.primary}) to which node? (${others.join(', ')})`, String(others[0]));
  if (answer === null) return;
  const to = Number(answer.trim());
  if (!Number.isInteger(to) || !others.includes(to)) { showError('not a live node other than the owner: ' + answer); return; }
  try {
    await api('POST', 'cluster/partitions/' + p.partition + '/move', { to });
    state.lastAction = `queued the move of partition ${p.partition} to node ${to}`;
    showError(state.lastAction);
  } catch (e) {
    showError('move failed: ' + e.code + ' (' + e.message + ')');
  }
}

// -- refresh loop ------------------------------------------------------------------------------

async function refresh() {
  if (state.refreshing || !state.token) return;
  state.refreshing = true;
  try {
    renderOverview(await api('GET', 'overview'));
    renderCluster(await api('GET', 'cluster').catch(() => null));
    for (const [path, n] of state.tree) if (n.expanded) await loadTree(path).catch(() => { n.expanded = false; });
    renderTree();
    await loadActors();
    await loadDetail();
  } catch (e) {
    if (e.status !== 401) showError(e.message);
  } finally {
    state.refreshing = false;
  }
}

// -- wiring ------------------------------------------------------------------------------------

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  login($('token').value.trim());
});
$('logout').addEventListener('click', () => logout(''));
$('passivate').addEventListener('click', passivate);
$('error').addEventListener('click', () => { $('error').hidden = true; });
$('actor-sort').addEventListener('change', (ev) => { state.sort = ev.target.value; loadActors().catch((e) => showError(e.message)); });
$('actor-kind').addEventListener('change', (ev) => { state.kind = ev.target.value; loadActors().catch((e) => showError(e.message)); });
for (const th of document.querySelectorAll('th[data-sort]')) {
  th.addEventListener('click', () => {
    state.sort = th.dataset.sort;
    $('actor-sort').value = state.sort;
    loadActors().catch((e) => showError(e.message));
  });
}
let searchTimer = null;
$('tree-of').addEventListener('change', (ev) => {
  state.treeOf = ev.target.value;
  state.tree.clear();
  treeNode('node').expanded = true; // show the chosen node's top level at once
  refresh();
});
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search($('search').value.trim()), 250);
});

if (state.token) {
  login(state.token);
} else {
  logout('');
}
