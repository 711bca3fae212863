// Switchboard web client: plain JavaScript, no framework, no build step. It speaks only the
// documented protocol (docs/protocol.md): the HTTP API for accounts and channel management,
// one WebSocket (/ws) for everything live.
//
// Stable test hooks (data-testid), used by tests/browser/*.mjs; keep them when restyling:
//   login-form, login-name, login-password, login-submit, signup-submit, login-error
//   me-name, my-presence-dot (data-status), connection-status (data-state: connecting |
//     connected | reconnecting), logout
//   status-form, status-select (online|away|dnd), status-custom, status-save
//   channel-list, dm-list: lists of
//     channel-item (data-channel-id, data-channel-name, data-kind; class "active" when
//       open) holding channel-name, channel-unread (unread count; hidden when 0) and
//       channel-mentions (mention count; hidden when 0)
//   new-channel-form, new-channel-name, new-channel-kind, new-channel-submit
//   browse-list: browse-item (data-channel-id, data-channel-name) with browse-join
//   dm-form, dm-user (names, comma separated), dm-submit
//   channel-title, channel-topic, invite-form, invite-user, invite-submit
//   message-scroll, load-older, message-list: list of
//     message (data-channel-id, data-seq, data-author-id; data-pending="1" until acked)
//       holding presence-dot (data-user-id, data-status), message-author, message-time,
//       message-text, message-edited, message-reactions (reaction buttons: reaction,
//       data-emoji), message-react, message-edit, message-edit-input, message-delete,
//       message-thread (reply count; opens the thread panel)
//   system-event (joins, leaves, channel changes) in message lists
//   typing-indicator ("alice is typing…"; empty when nobody types)
//   composer, composer-input, composer-send
//   thread-panel, thread-close, thread-messages (message items as above), thread-composer,
//     thread-input, thread-send
//   error-banner (error frames and failed requests: "code: message")
//
// Behaviour: token in sessionStorage; `identify` with `resume` (the last seq held per channel)
// after any reconnect (exponential backoff with jitter, 0.5 s .. 15 s; after a 1013 refusal
// for load no sooner than the server's retry_ms); after two WebSockets that closed before
// `hello` (a proxy that strips WebSocket) the event stream fallback (GET /sse, POST
// /sse/{stream}) carries the same frames; events deduped by
// (channel, seq); heartbeats every `heartbeat_interval`; `activity` on user input at most
// every 30 s; `typing` at most every 2 s while typing; `mark_read` when a channel is viewed.
// Servers without read state, presence or typing answer `unknown_op` to those ops: the
// client ignores that and counts unread messages itself.
'use strict';

(() => {
  // -- state ---------------------------------------------------------------------------
  const S = {
    token: sessionStorage.getItem('sb.token') || '',
    me: null,                 // {id, name, display_name}
    ws: null,
    wsGen: 0,                 // generation of the current socket (stale handlers ignore)
    ready: false,
    heartbeatMs: 30000,
    heartbeatTimer: null,
    lastAck: 0,
    reconnectDelay: 500,
    serverRetryMs: 0, // retry_ms of an identify refused for load (close 1013)
    // The event stream fallback: after two WebSockets that closed before `hello`, or with
    // ?transport=sse in the address.
    useStream: new URLSearchParams(location.search).get('transport') === 'sse',
    wsFailures: 0,
    reconnectTimer: null,
    channels: new Map(),      // id -> channel {id,name,kind,members,head,last_read,unread,mentions,topic,archived}
    events: new Map(),        // channel id -> Map(seq -> event)
    lastSeq: new Map(),       // channel id -> highest seq received (resume point)
    oldest: new Map(),        // channel id -> lowest seq loaded by history
    hasMore: new Map(),       // channel id -> more history before `oldest`
    loaded: new Set(),        // channels whose newest history page is loaded
    pending: new Map(),       // nonce -> {channel, text, thread_root, req, seq?}
    users: new Map(),         // user id -> {id, name, display_name}
    userFetches: new Map(),   // user id -> Promise
    presence: new Map(),      // user id -> {status, custom}
    typing: new Map(),        // channel id -> Map(user id -> expiry timer)
    current: null,            // open channel id
    thread: null,             // {channel, root}
    reqs: new Map(),          // req -> {op, resolve, reject, timer}
    reqCounter: 0,
    nonceCounter: 0,
    lastTypingSent: new Map(),// channel id -> ms
    lastActivity: 0,
    markedRead: new Map(),    // channel id -> seq last sent in mark_read
    unsupported: new Set(),   // ops the server answered unknown_op to
    editing: null,            // {channel, seq}
  };
  const OPTIONAL_OPS = new Set(['typing', 'mark_read', 'presence', 'activity']);
  const $ = (id) => document.getElementById(id);

  // -- small helpers ---------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  let bannerTimer = null;
  function showError(text) {
    const b = $('error-banner');
    b.textContent = text;
    b.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { b.hidden = true; }, 8000);
  }
  $('error-banner').addEventListener('click', () => { $('error-banner').hidden = true; });

  async function api(method, path, body) {
    const opts = { method, headers: {} };
    if (S.token) opts.headers.Authorization = 'Bearer ' + S.token;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 15000);
    opts.signal = ctl.signal;
    let res;
    try {
      res = await fetch(path, opts);
    } finally {
      clearTimeout(t);
    }
    let data = {};
    try { data = await res.json(); } catch (_) { data = {}; }
    if (!res.ok) {
      const err = new Error((data.code || res.status) + ': ' + (data.message || res.statusText));
      err.code = data.code;
      err.status = res.status;
      if (res.status === 401 && S.me && path !== '/api/login') logout(false);
      throw err;
    }
    return data;
  }

  function userName(id) {
    const u = S.users.get(String(id));
    if (u) return u.name;
    fetchUser(id);
    return 'user ' + id;
  }
  function fetchUser(id) {
    id = String(id);
    if (S.users.has(id) || S.userFetches.has(id)) return S.userFetches.get(id);
    const p = api('GET', '/api/users/' + encodeURIComponent(id))
      .then((d) => { S.users.set(id, d.user); scheduleRender(); return d.user; })
      .catch(() => { S.users.set(id, { id, name: 'user ' + id }); return null; })
      .finally(() => S.userFetches.delete(id));
    S.userFetches.set(id, p);
    return p;
  }
  async function userByName(name) {
    const d = await api('GET', '/api/users?name=' + encodeURIComponent(name.trim().replace(/^@/, '')));
    S.users.set(String(d.user.id), d.user);
    return d.user;
  }

  function channelLabel(ch) {
    if (ch.kind === 'dm') {
      const others = (ch.members || []).filter((m) => String(m) !== S.me.id);
      if (!others.length) return ch.name || 'you';
      return others.map(userName).join(', ');
    }
    return '#' + (ch.name || ch.id);
  }

  // -- login -----------------------------------------------------------------------------
  async function doLogin(signup) {
    const name = $('login-name').value.trim();
    const password = $('login-password').value;
    const err = $('login-error');
    err.hidden = true;
    try {
      if (signup) await api('POST', '/api/signup', { name, password });
      const d = await api('POST', '/api/login', { name, password });
      S.token = d.token;
      sessionStorage.setItem('sb.token', d.token);
      startSession(d.user);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  }
  $('login-form').addEventListener('submit', (e) => { e.preventDefault(); doLogin(false); });
  $('signup-submit').addEventListener('click', () => {
    if ($('login-form').reportValidity()) doLogin(true);
  });

  function startSession(user) {
    S.me = { ...user, id: String(user.id) };
    S.users.set(S.me.id, S.me);
    $('login').hidden = true;
    $('chat').hidden = false;
    $('me-name').textContent = S.me.name;
    connect();
  }

  function logout(callServer) {
    if (callServer && S.token) api('POST', '/api/logout').catch(() => {});
    sessionStorage.removeItem('sb.token');
    S.token = '';
    S.me = null;
    const ws = S.ws;
    S.ws = null;
    S.wsGen++;
    if (ws) ws.close(1000);
    clearInterval(S.heartbeatTimer);
    clearTimeout(S.reconnectTimer);
    location.reload();
  }
  $('logout').addEventListener('click', () => logout(true));

  // -- WebSocket -------------------------------------------------------------------------
  function setConnState(state) {
    const el = $('connection-status');
    el.dataset.state = state;
    el.textContent = state;
  }

  /// The event stream fallback (docs/protocol.md "Event stream fallback") behind the part
  /// of the WebSocket interface this file uses: the server's frames arrive on GET /sse,
  /// ours go out as POST /sse/{stream}, in order (one request in flight, queued frames
  /// batched one per line), so the rest of the client cannot tell the two apart.
  class EventStreamSocket {
    constructor(url) {
      this.readyState = WebSocket.CONNECTING;
      this.queue = [];
      this.posting = false;
      this.es = new EventSource(url);
      this.es.addEventListener('stream', (e) => {
        const s = JSON.parse(e.data);
        this.stream = s.stream;
        this.key = s.key;
        this.readyState = WebSocket.OPEN;
      });
      this.es.onmessage = (e) => { if (this.onmessage) this.onmessage({ data: e.data }); };
      this.es.addEventListener('close', (e) => {
        let c = {};
        try { c = JSON.parse(e.data); } catch (_) {}
        this.end(Number(c.code) || 1006);
      });
      // EventSource would reconnect by itself, without identify: end it, as a socket would.
      this.es.onerror = () => this.end(1006);
    }
    send(text) {
      if (this.readyState !== WebSocket.OPEN) return;
      this.queue.push(text);
      this.pump();
    }
    pump() {
      if (this.posting || !this.queue.length || this.readyState !== WebSocket.OPEN) return;
      this.posting = true;
      const body = this.queue.splice(0, 64).join('\n');
      fetch('/sse/' + this.stream, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Stream-Key': this.key },
        body,
      }).then((r) => {
        this.posting = false;
        if (r.status !== 204) return this.end(1006);
        this.pump();
      }, () => { this.posting = false; this.end(1006); });
    }
    close(code) { this.end(code || 1000); }
    end(code) {
      if (this.readyState === WebSocket.CLOSED) return;
      this.readyState = WebSocket.CLOSED;
      this.es.close();
      if (this.onclose) setTimeout(() => this.onclose({ code }), 0);
    }
  }

  function connect() {
    clearTimeout(S.reconnectTimer);
    const gen = ++S.wsGen;
    let ws;
    if (S.useStream) {
      ws = new EventStreamSocket('/sse');
    } else {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      ws = new WebSocket(proto + '//' + location.host + '/ws');
    }
    S.ws = ws;
    S.ready = false;
    let hello = false;
    ws.onmessage = (m) => {
      if (gen !== S.wsGen) return;
      let f;
      try { f = JSON.parse(m.data); } catch (_) { return; }
      if (f.op === 'hello') {
        hello = true;
        S.wsFailures = 0;
      }
      onFrame(f);
    };
    ws.onclose = (e) => {
      if (gen !== S.wsGen) return;
      // A WebSocket that never got `hello`, twice in a row: something between us and the
      // server strips WebSocket (a proxy); use the event stream from now on.
      if (!hello && !S.useStream && ++S.wsFailures >= 2) {
        S.useStream = true;
        S.reconnectDelay = 500;
      }
      onClosed(e.code);
    };
    ws.onerror = () => {};
  }

  function send(obj) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
    S.ws.send(JSON.stringify(obj));
    return true;
  }

  /// Sends an op with a fresh `req`; resolves with its answer (ack, history, read_state, ok).
  function request(obj, timeoutMs = 15000) {
    const req = 'c-' + (++S.reqCounter);
    return new Promise((resolve, reject) => {
      if (!S.ready || !send({ ...obj, req })) {
        reject(Object.assign(new Error('not connected'), { code: 'not_connected' }));
        return;
      }
      const timer = setTimeout(() => {
        S.reqs.delete(req);
        reject(Object.assign(new Error('timeout'), { code: 'timeout' }));
      }, timeoutMs);
      S.reqs.set(req, { op: obj.op, resolve, reject, timer });
    });
  }

  /// Ops the server may not know yet (read state, presence, typing): fire and forget.
  function optional(obj) {
    if (S.unsupported.has(obj.op) || !S.ready) return;
    request(obj).catch(() => {});
  }

  function onClosed(code) {
    S.ready = false;
    clearInterval(S.heartbeatTimer);
    for (const [req, r] of S.reqs) {
      clearTimeout(r.timer);
      r.reject(Object.assign(new Error('disconnected'), { code: 'disconnected' }));
      S.reqs.delete(req);
    }
    if (!S.me) return;
    if (code === 4001) {
      showError('auth_failed: please log in again');
      logout(false);
      return;
    }
    setConnState('reconnecting');
    let delay = Math.min(S.reconnectDelay, 15000) * (0.75 + Math.random() * 0.5);
    S.reconnectDelay = Math.min(S.reconnectDelay * 2, 15000);
    // 1013: the server chose the delay (already jittered); never come back sooner.
    if (code === 1013 && S.serverRetryMs) delay = Math.max(delay, S.serverRetryMs);
    S.serverRetryMs = 0;
    S.reconnectTimer = setTimeout(connect, delay);
  }

  function startHeartbeats() {
    clearInterval(S.heartbeatTimer);
    S.lastAck = Date.now();
    S.heartbeatTimer = setInterval(() => {
      if (Date.now() - S.lastAck > 2 * S.heartbeatMs + 5000) {
        // No answer for two intervals: the socket is dead even if the browser has not noticed.
        const ws = S.ws;
        S.wsGen++;
        if (ws) try { ws.close(); } catch (_) {}
        onClosed(1006);
        return;
      }
      send({ op: 'heartbeat' });
    }, S.heartbeatMs);
  }

  function onFrame(f) {
    switch (f.op) {
      case 'hello': {
        S.heartbeatMs = Math.max(1000, Number(f.heartbeat_interval) || 30000);
        const identify = { op: 'identify', token: S.token };
        if (S.lastSeq.size) {
          const resume = {};
          let n = 0;
          for (const [ch, seq] of S.lastSeq) {
            if (n++ >= 1000) break;
            resume[ch] = seq;
          }
          identify.resume = resume;
        }
        S.ws.send(JSON.stringify(identify));
        startHeartbeats();
        break;
      }
      case 'ready': onReady(f); break;
      case 'heartbeat_ack': S.lastAck = Date.now(); break;
      case 'event': onEvent(f, true); break;
      case 'resumed': break;
      case 'ack':
      case 'history':
      case 'ok':
      case 'read_state':
        if (f.op === 'read_state') onReadState(f);
        if (f.op === 'ack') onAck(f);
        settle(f);
        break;
      case 'error': onErrorFrame(f); break;
      case 'typing': onTyping(f); break;
      case 'presence': onPresence(f); break;
      case 'seen': break;
      default: break;
    }
    S.lastAck = Date.now();
  }

  function settle(f) {
    if (f.req === undefined) return;
    const r = S.reqs.get(String(f.req));
    if (!r) return;
    S.reqs.delete(String(f.req));
    clearTimeout(r.timer);
    r.resolve(f);
  }

  function onErrorFrame(f) {
    // identify refused for load (a reconnect storm): the server says when to come back,
    // and closes 1013 next; no banner, the status line says "reconnecting".
    if (!S.ready && f.code === 'overloaded' && typeof f.retry_ms === 'number') {
      S.serverRetryMs = f.retry_ms;
      return;
    }
    const r = f.req !== undefined ? S.reqs.get(String(f.req)) : undefined;
    if (r) {
      S.reqs.delete(String(f.req));
      clearTimeout(r.timer);
      const err = Object.assign(new Error(f.code + ': ' + f.message), { code: f.code });
      r.reject(err);
      if (OPTIONAL_OPS.has(r.op)) {
        if (f.code === 'unknown_op') S.unsupported.add(r.op);
        if (f.code === 'unknown_op' || r.op === 'typing' || r.op === 'activity') return;
      }
    }
    showError(f.code + ': ' + (f.message || ''));
  }

  function onReady(f) {
    S.ready = true;
    S.reconnectDelay = 500;
    setConnState('connected');
    S.me = { ...S.me, ...f.user, id: String(f.user.id) };
    S.users.set(S.me.id, { ...S.users.get(S.me.id), ...S.me });
    $('me-name').textContent = S.me.name;
    for (const c of f.channels || []) addChannel(c, true);
    // Sends that were not acked before the socket dropped: retry with the same nonce.
    for (const [nonce, p] of S.pending) {
      if (p.seq) continue;
      sendPending(nonce);
    }
    if (!S.current) {
      const first = [...S.channels.values()].sort(channelOrder)[0];
      if (first) openChannel(first.id);
    } else {
      markRead(S.current);
    }
    renderChannels();
  }

  function addChannel(c, fromReady) {
    const id = String(c.id);
    const old = S.channels.get(id) || {};
    const ch = {
      ...old, ...c, id,
      unread: c.unread !== undefined ? Number(c.unread) : (old.unread || 0),
      mentions: c.mentions !== undefined ? Number(c.mentions) : (old.mentions || 0),
      last_read: c.last_read !== undefined ? Number(c.last_read) : (old.last_read || 0),
      members: (c.members || old.members || []).map(String),
    };
    // A server with read state sends counts in `ready` that include every event up to
    // `head`; backfill after a resume must not count those again.
    if (fromReady && c.unread !== undefined) ch.counted_to = Number(c.head) || 0;
    S.channels.set(id, ch);
    if (!S.lastSeq.has(id) && fromReady) S.lastSeq.set(id, Number(c.head) || 0);
    if (!S.events.has(id)) S.events.set(id, new Map());
    if (ch.kind === 'dm') ch.members.forEach(fetchUser);
    return ch;
  }

  function channelOrder(a, b) {
    if ((a.kind === 'dm') !== (b.kind === 'dm')) return a.kind === 'dm' ? 1 : -1;
    return channelLabel(a).localeCompare(channelLabel(b));
  }

  const unknownChannelFetches = new Set();
  function ensureChannel(id) {
    if (S.channels.has(id) || unknownChannelFetches.has(id)) return;
    unknownChannelFetches.add(id);
    api('GET', '/api/channels/' + id)
      .then((d) => { addChannel(d.channel, false); renderChannels(); })
      .catch(() => {})
      .finally(() => unknownChannelFetches.delete(id));
  }

  // -- events ----------------------------------------------------------------------------
  function isMention(ch, e) {
    if (ch && ch.kind === 'dm') return true;
    const t = e.text || '';
    return t.includes('<@' + S.me.id + '>') || t.includes('@here') || t.includes('@channel');
  }

  function onEvent(e, live) {
    const id = String(e.channel);
    const seq = Number(e.seq);
    if (!S.events.has(id)) S.events.set(id, new Map());
    const evs = S.events.get(id);
    if (evs.has(seq)) return; // duplicate (resume overlap): dedupe by (channel, seq)
    evs.set(seq, e);
    if (seq > (S.lastSeq.get(id) || 0)) S.lastSeq.set(id, seq);
    if (!live) return;
    if (!S.channels.has(id)) {
      if (e.type === 'channel_created') {
        addChannel({ id, name: e.name, kind: e.kind, members: e.members, workspace: e.workspace, head: seq }, false);
      } else {
        ensureChannel(id);
      }
    }
    const ch = S.channels.get(id);
    if (ch) {
      ch.head = Math.max(Number(ch.head) || 0, seq);
      if (e.type === 'channel_updated') {
        if (e.name !== undefined) ch.name = e.name;
        if (e.topic !== undefined) ch.topic = e.topic;
        if (e.archived !== undefined) ch.archived = e.archived;
      }
      if (e.type === 'member_leave' && String(e.user) === S.me.id) {
        S.channels.delete(id);
        if (S.current === id) S.current = null;
      }
    }
    if (e.type === 'message') {
      const author = String(e.author);
      stopTyping(id, author);
      if (e.nonce && S.pending.has(e.nonce) && author === S.me.id) S.pending.delete(e.nonce);
      const viewing = S.current === id && document.visibilityState !== 'hidden';
      // Counted by the server already when `ready` carried counts up to its head.
      const counted = Math.max(ch ? ch.last_read || 0 : 0, ch ? ch.counted_to || 0 : 0);
      if (ch && author !== S.me.id && !e.thread_root && seq > counted) {
        if (viewing) {
          markReadSoon(id);
        } else {
          ch.unread = (ch.unread || 0) + 1;
          if (isMention(ch, e)) ch.mentions = (ch.mentions || 0) + 1;
        }
      }
      if (author === S.me.id && !e.thread_root && ch && seq > (ch.last_read || 0)) {
        ch.last_read = seq; // your own messages are never unread
      }
    }
    scheduleRender();
  }

  function onAck(f) {
    for (const [nonce, p] of S.pending) {
      if (p.req === String(f.req)) {
        p.seq = Number(f.seq);
        // The event itself may already be here (then the pending copy goes).
        const evs = S.events.get(p.channel);
        if (evs && evs.has(p.seq)) S.pending.delete(nonce);
      }
    }
    scheduleRender();
  }

  function onReadState(f) {
    const ch = S.channels.get(String(f.channel));
    if (!ch || f.thread_root !== undefined) return;
    const lr = Number(f.last_read) || 0;
    if (lr < (ch.last_read || 0)) return;
    ch.last_read = lr;
    ch.unread = Number(f.unread) || 0;
    ch.mentions = Number(f.mentions) || 0;
    renderChannels();
  }

  // -- typing ----------------------------------------------------------------------------
  function onTyping(f) {
    const ch = String(f.channel);
    const user = String(f.user);
    if (user === S.me.id) return;
    if (!S.typing.has(ch)) S.typing.set(ch, new Map());
    const m = S.typing.get(ch);
    clearTimeout(m.get(user));
    m.set(user, setTimeout(() => stopTyping(ch, user), Number(f.expires_ms) || 5000));
    fetchUser(user);
    renderTyping();
  }
  function stopTyping(ch, user) {
    const m = S.typing.get(ch);
    if (!m || !m.has(user)) return;
    clearTimeout(m.get(user));
    m.delete(user);
    renderTyping();
  }
  function renderTyping() {
    const el = $('typing-indicator');
    const m = S.current && S.typing.get(S.current);
    const names = m ? [...m.keys()].map(userName) : [];
    let text = '';
    if (names.length === 1) text = names[0] + ' is typing…';
    else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
    else if (names.length > 2) text = 'Several people are typing…';
    el.textContent = text;
    el.dataset.users = m ? [...m.keys()].join(',') : '';
  }
  /// At most one `typing` per channel every 2 s while the user types. Input inside the window
  /// schedules one at its end (if the box still holds text): the server absorbs a `typing`
  /// sent within 2 s of the last one it forwarded, and a message that was just sent has
  /// hidden that one on the other side.
  const typingTimers = new Map();
  function typed(channel, input) {
    const now = Date.now();
    const last = S.lastTypingSent.get(channel) || 0;
    if (now - last >= 2000) {
      S.lastTypingSent.set(channel, now);
      optional({ op: 'typing', channel });
      return;
    }
    if (typingTimers.has(channel)) return;
    typingTimers.set(channel, setTimeout(() => {
      typingTimers.delete(channel);
      if (input.value.trim()) typed(channel, input);
    }, last + 2000 - now + 20));
  }

  // -- presence --------------------------------------------------------------------------
  function onPresence(f) {
    for (const u of f.users || []) {
      S.presence.set(String(u.user), { status: u.status, custom: u.custom || '' });
      // Your own stored status (dnd, away, custom text) comes back after a reload.
      if (S.me && String(u.user) === S.me.id && u.status !== 'offline' && document.activeElement !== $('status-custom')) {
        $('status-select').value = u.status;
        $('status-custom').value = u.custom || '';
      }
    }
    renderPresenceDots();
  }
  function statusOf(user) {
    const p = S.presence.get(String(user));
    return p ? p.status : 'offline';
  }
  function renderPresenceDots() {
    for (const dot of document.querySelectorAll('[data-testid="presence-dot"]')) {
      const p = S.presence.get(dot.dataset.userId);
      dot.dataset.status = p ? p.status : 'offline';
      dot.title = p ? p.status + (p.custom ? ' — ' + p.custom : '') : 'offline';
    }
    const mine = S.me && S.presence.get(S.me.id);
    const myDot = $('my-presence-dot');
    if (mine) {
      myDot.dataset.status = mine.status;
      myDot.title = mine.status + (mine.custom ? ' — ' + mine.custom : '');
    }
  }
  $('status-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const status = $('status-select').value;
    const custom = $('status-custom').value;
    S.presence.set(S.me.id, { status, custom });
    renderPresenceDots();
    if (S.unsupported.has('presence')) return;
    request({ op: 'presence', status, custom }).catch((err) => {
      if (err.code === 'unknown_op') return;
      if (err.code === 'not_connected' || err.code === 'disconnected') {
        // Over HTTP instead, as the same operation.
        api('PUT', '/api/presence', { status, custom }).catch(() => {});
      }
    });
  });

  function activity() {
    const now = Date.now();
    if (now - S.lastActivity < 30000) return;
    S.lastActivity = now;
    optional({ op: 'activity' });
  }
  for (const ev of ['keydown', 'mousedown', 'touchstart', 'wheel']) {
    window.addEventListener(ev, activity, { passive: true, capture: true });
  }

  // -- read state ------------------------------------------------------------------------
  function markRead(channel) {
    const ch = S.channels.get(channel);
    if (!ch) return;
    const seq = S.lastSeq.get(channel) || Number(ch.head) || 0;
    const hadUnread = ch.unread || ch.mentions;
    ch.unread = 0;
    ch.mentions = 0;
    if (seq > (ch.last_read || 0)) ch.last_read = seq;
    if (hadUnread) renderChannels();
    if ((S.markedRead.get(channel) || -1) >= seq) return;
    S.markedRead.set(channel, seq);
    optional({ op: 'mark_read', channel, seq });
  }
  const markTimers = new Map();
  function markReadSoon(channel) {
    if (markTimers.has(channel)) return;
    markTimers.set(channel, setTimeout(() => {
      markTimers.delete(channel);
      if (S.current === channel && document.visibilityState !== 'hidden') markRead(channel);
    }, 300));
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && S.current) markRead(S.current);
  });

  // -- history ---------------------------------------------------------------------------
  async function loadHistory(channel, before) {
    const op = { op: 'history', channel, limit: 50 };
    if (before) op.before = before;
    const f = await request(op);
    for (const e of f.events || []) onEvent(e, false);
    const seqs = (f.events || []).map((e) => Number(e.seq));
    const low = seqs.length ? Math.min(...seqs) : (before || 1);
    const prev = S.oldest.get(channel);
    if (prev === undefined || low < prev) S.oldest.set(channel, low);
    if (!before || prev === undefined || low <= prev) S.hasMore.set(channel, !!f.has_more);
    S.loaded.add(channel);
    // A newest page may name authors we have not met.
    for (const e of f.events || []) if (e.author) fetchUser(e.author);
  }

  async function loadOlder() {
    const ch = S.current;
    if (!ch || !S.hasMore.get(ch) || loadOlder.busy) return;
    loadOlder.busy = true;
    const box = $('message-scroll');
    const fromBottom = box.scrollHeight - box.scrollTop;
    try {
      await loadHistory(ch, S.oldest.get(ch));
      renderMessages();
      box.scrollTop = box.scrollHeight - fromBottom; // keep the view where it was
    } catch (e) {
      showError('history: ' + e.message);
    } finally {
      loadOlder.busy = false;
    }
  }
  $('load-older').addEventListener('click', loadOlder);
  $('message-scroll').addEventListener('scroll', () => {
    if ($('message-scroll').scrollTop < 40) loadOlder();
  });

  // -- channels --------------------------------------------------------------------------
  async function openChannel(id) {
    id = String(id);
    S.current = id;
    S.editing = null;
    renderChannels();
    renderHeader();
    renderMessages(true);
    renderTyping();
    $('composer-input').disabled = false;
    $('composer-send').disabled = false;
    if (!S.loaded.has(id) && S.ready) {
      try {
        await loadHistory(id);
      } catch (e) {
        if (e.code !== 'disconnected') showError('history: ' + e.message);
      }
      if (S.current === id) renderMessages(true);
    }
    if (S.current === id) markRead(id);
  }

  $('new-channel-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('new-channel-name').value.trim();
    const kind = $('new-channel-kind').value;
    try {
      const d = await api('POST', '/api/channels', { name, kind });
      addChannel({ ...d.channel, head: d.channel.head || 0 }, false);
      $('new-channel-name').value = '';
      openChannel(d.channel.id);
    } catch (err) {
      showError(err.message);
    }
  });

  async function refreshBrowse() {
    const list = $('browse-list');
    list.replaceChildren(h('li', { class: 'muted', text: 'loading…' }));
    try {
      const d = await api('GET', '/api/workspaces/0/channels?limit=200');
      list.replaceChildren(...(d.channels || []).map(({ channel, member }) => h('li',
        { testid: 'browse-item', 'data-channel-id': channel.id, 'data-channel-name': channel.name },
        h('span', { text: '#' + channel.name }),
        member ? h('span', { class: 'muted', text: ' joined' })
          : h('button', {
            type: 'button', testid: 'browse-join', text: 'Join',
            onclick: async () => {
              try {
                await api('POST', '/api/channels/' + channel.id + '/join');
                addChannel(channel, false);
                openChannel(channel.id);
                refreshBrowse();
              } catch (err) { showError(err.message); }
            },
          }))));
      if (!list.children.length) list.append(h('li', { class: 'muted', text: 'no public channels' }));
    } catch (err) {
      list.replaceChildren(h('li', { class: 'muted', text: err.message }));
    }
  }
  $('browse-details').addEventListener('toggle', () => { if ($('browse-details').open) refreshBrowse(); });

  $('dm-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const names = $('dm-user').value.split(',').map((s) => s.trim()).filter(Boolean);
      const users = [];
      for (const n of names) users.push(String((await userByName(n)).id));
      const body = users.length === 1 ? { user: users[0] } : { users };
      const d = await api('POST', '/api/dms', body);
      addChannel(d.channel, false);
      $('dm-user').value = '';
      openChannel(d.channel.id);
    } catch (err) {
      showError(err.message);
    }
  });

  $('invite-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!S.current) return;
    try {
      const u = await userByName($('invite-user').value);
      await api('POST', '/api/channels/' + S.current + '/members', { user: String(u.id) });
      $('invite-user').value = '';
    } catch (err) {
      showError(err.message);
    }
  });

  // -- sending ---------------------------------------------------------------------------
  function newNonce() {
    return 'w' + S.me.id + '-' + Date.now().toString(36) + '-' + (++S.nonceCounter);
  }
  function sendMessage(channel, text, threadRoot) {
    text = text.replace(/\s+$/, '');
    if (!text.trim()) return;
    const nonce = newNonce();
    S.pending.set(nonce, { channel, text, thread_root: threadRoot, req: null, seq: 0 });
    sendPending(nonce);
    scheduleRender();
  }
  function sendPending(nonce) {
    const p = S.pending.get(nonce);
    if (!p || !S.ready) return;
    const op = { op: 'send', channel: p.channel, text: p.text, nonce };
    if (p.thread_root) op.thread_root = p.thread_root;
    const req = 'c-' + (++S.reqCounter);
    p.req = req;
    if (!send({ ...op, req })) return;
    const timer = setTimeout(() => S.reqs.delete(req), 30000);
    S.reqs.set(req, {
      op: 'send', timer,
      resolve: () => {},
      reject: (err) => {
        // Retryable failures keep the message pending (sent again on the next `ready`).
        if (['unavailable', 'timeout', 'overloaded', 'storage_failed', 'rate_limited', 'disconnected']
          .includes(err.code)) return;
        S.pending.delete(nonce);
        scheduleRender();
      },
    });
  }

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('composer-input');
    if (!S.current) return;
    sendMessage(S.current, input.value);
    input.value = '';
  });
  $('composer-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer-input').addEventListener('input', () => {
    if (S.current && $('composer-input').value.trim()) typed(S.current, $('composer-input'));
  });

  $('thread-composer').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!S.thread) return;
    sendMessage(S.thread.channel, $('thread-input').value, S.thread.root);
    $('thread-input').value = '';
  });
  $('thread-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('thread-composer').requestSubmit();
    }
  });
  $('thread-input').addEventListener('input', () => {
    if (S.thread && $('thread-input').value.trim()) typed(S.thread.channel, $('thread-input'));
  });
  $('thread-close').addEventListener('click', () => {
    S.thread = null;
    $('thread-panel').hidden = true;
  });

  function op(obj) {
    request(obj).catch((err) => {
      if (err.code !== 'disconnected' && err.code !== 'not_connected') return; // shown already
      showError(obj.op + ': ' + err.message);
    });
  }

  // -- folding events into messages ------------------------------------------------------
  /// The channel's messages, edits/deletes/reactions applied, in seq order.
  function fold(channel) {
    const evs = S.events.get(channel);
    if (!evs) return [];
    const seqs = [...evs.keys()].sort((a, b) => a - b);
    const msgs = new Map();
    const out = [];
    const threads = new Map();
    for (const seq of seqs) {
      const e = evs.get(seq);
      const tgt = e.target !== undefined ? msgs.get(Number(e.target)) : undefined;
      switch (e.type) {
        case 'message': {
          const m = { ...e, seq, author: String(e.author), reactions: new Map(), edited: false, deleted: false };
          msgs.set(seq, m);
          out.push(m);
          if (e.thread) threads.set(Number(e.thread.root), e.thread);
          break;
        }
        case 'edit': if (tgt) { tgt.text = e.text; tgt.edited = true; } break;
        case 'delete': if (tgt) { tgt.deleted = true; tgt.text = ''; } break;
        case 'reaction_add':
        case 'reaction_remove':
          if (tgt) {
            const set = tgt.reactions.get(e.emoji) || new Set();
            if (e.type === 'reaction_add') set.add(String(e.author)); else set.delete(String(e.author));
            if (set.size) tgt.reactions.set(e.emoji, set); else tgt.reactions.delete(e.emoji);
          }
          break;
        case 'pin': if (tgt) tgt.pinned = true; break;
        case 'unpin': if (tgt) tgt.pinned = false; break;
        default: out.push({ ...e, seq, system: true });
      }
    }
    for (const m of out) {
      if (m.system) continue;
      const t = threads.get(m.seq);
      if (t && (!m.thread || t.reply_count >= m.thread.reply_count)) m.thread = t;
    }
    return out;
  }

  function systemText(e) {
    const who = e.user ? userName(e.user) : e.author ? userName(e.author) : '';
    switch (e.type) {
      case 'member_join': return who + ' joined';
      case 'member_leave': return who + ' left';
      case 'channel_created': return e.kind === 'dm' ? 'conversation started' : userName(e.author) + ' created #' + (e.name || '');
      case 'channel_updated':
        if (e.name !== undefined) return userName(e.author) + ' renamed the channel to #' + e.name;
        if (e.topic !== undefined) return userName(e.author) + ' set the topic: ' + e.topic;
        if (e.archived !== undefined) return userName(e.author) + (e.archived ? ' archived the channel' : ' unarchived the channel');
        return 'channel updated';
      default: return e.type;
    }
  }

  /// Message text with `<@ID>` mentions shown as @name (as text nodes: never HTML).
  function renderText(text) {
    const parts = [];
    const re = /<@(\d+)>/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      if (m.index > last) parts.push(text.slice(last, m.index));
      parts.push(h('span', { class: 'mention', text: '@' + userName(m[1]) }));
      last = re.lastIndex;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }

  function fmtTime(ms) {
    const d = new Date(Number(ms));
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '👀'];

  function messageItem(m, channel, inThread) {
    if (m.system) {
      return h('li', { class: 'system', testid: 'system-event', 'data-seq': m.seq }, systemText(m));
    }
    const mine = m.author === S.me.id;
    const editing = S.editing && S.editing.channel === channel && S.editing.seq === m.seq;
    const li = h('li', {
      class: 'message' + (m.deleted ? ' deleted' : ''), testid: 'message',
      'data-channel-id': channel, 'data-seq': m.seq, 'data-author-id': m.author,
    });
    const head = h('div', { class: 'meta' },
      h('span', { class: 'presence-dot', testid: 'presence-dot', 'data-user-id': m.author, 'data-status': statusOf(m.author) }),
      h('strong', { testid: 'message-author', text: userName(m.author) }),
      h('time', { testid: 'message-time', text: fmtTime(m.time) }),
      m.edited && !m.deleted ? h('span', { class: 'muted', testid: 'message-edited', text: '(edited)' }) : null,
      m.pinned ? h('span', { class: 'muted', text: '📌' }) : null);
    li.append(head);
    if (m.deleted) {
      li.append(h('div', { class: 'text muted', testid: 'message-text', text: 'message deleted' }));
      return li;
    }
    if (editing) {
      const input = h('input', { testid: 'message-edit-input', value: m.text, maxlength: 4000 });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          const text = input.value.trim();
          S.editing = null;
          if (text && text !== m.text) op({ op: 'edit', channel, seq: m.seq, text });
          scheduleRender();
        } else if (e.key === 'Escape') {
          S.editing = null;
          scheduleRender();
        }
      });
      li.append(input);
      setTimeout(() => input.focus(), 0);
    } else {
      li.append(h('div', { class: 'text', testid: 'message-text' }, renderText(m.text || '')));
    }
    const reactions = h('div', { class: 'reactions', testid: 'message-reactions' });
    for (const [emoji, users] of m.reactions) {
      const meIn = users.has(S.me.id);
      reactions.append(h('button', {
        type: 'button', class: 'reaction' + (meIn ? ' mine' : ''), testid: 'reaction', 'data-emoji': emoji,
        title: [...users].map(userName).join(', '),
        onclick: () => op({ op: 'react', channel, seq: m.seq, emoji, add: !meIn }),
      }, emoji + ' ' + users.size));
    }
    li.append(reactions);
    const actions = h('div', { class: 'actions' });
    const picker = h('span', { class: 'picker', hidden: true });
    for (const emoji of QUICK_EMOJI) {
      picker.append(h('button', {
        type: 'button', class: 'link', 'data-emoji': emoji, testid: 'react-choice',
        onclick: () => {
          picker.hidden = true;
          const has = m.reactions.get(emoji);
          op({ op: 'react', channel, seq: m.seq, emoji, add: !(has && has.has(S.me.id)) });
        },
      }, emoji));
    }
    actions.append(h('button', { type: 'button', class: 'link', testid: 'message-react', title: 'React', onclick: () => { picker.hidden = !picker.hidden; } }, '☺+'), picker);
    if (!inThread && !m.thread_root) {
      const n = m.thread ? m.thread.reply_count : 0;
      actions.append(h('button', {
        type: 'button', class: 'link', testid: 'message-thread', 'data-replies': n,
        onclick: () => openThread(channel, m.seq),
      }, n ? n + (n === 1 ? ' reply' : ' replies') : 'Reply in thread'));
    }
    if (mine) {
      actions.append(
        h('button', { type: 'button', class: 'link', testid: 'message-edit', onclick: () => { S.editing = { channel, seq: m.seq }; scheduleRender(); } }, 'Edit'),
        h('button', {
          type: 'button', class: 'link', testid: 'message-delete',
          onclick: () => { if (confirm('Delete this message?')) op({ op: 'delete', channel, seq: m.seq }); },
        }, 'Delete'));
    }
    li.append(actions);
    return li;
  }

  function pendingItems(channel, threadRoot) {
    const out = [];
    for (const [nonce, p] of S.pending) {
      if (p.channel !== channel || (p.thread_root || 0) !== (threadRoot || 0)) continue;
      out.push(h('li', { class: 'message pending', testid: 'message', 'data-pending': '1', 'data-nonce': nonce, 'data-channel-id': channel, 'data-author-id': S.me.id },
        h('div', { class: 'meta' }, h('strong', { testid: 'message-author', text: S.me.name }), h('span', { class: 'muted', text: 'sending…' })),
        h('div', { class: 'text', testid: 'message-text' }, renderText(p.text))));
    }
    return out;
  }

  // -- rendering -------------------------------------------------------------------------
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      renderChannels();
      renderHeader();
      renderMessages();
      renderThread();
      renderTyping();
    });
  }
  // requestAnimationFrame does not run in background tabs; keep state fresh there too.
  setInterval(() => { if (renderQueued && document.visibilityState === 'hidden') { renderQueued = false; renderChannels(); } }, 1000);

  function renderChannels() {
    if (!S.me) return;
    const list = [...S.channels.values()].sort(channelOrder);
    const item = (ch) => h('li', {
      class: 'channel-item' + (ch.id === S.current ? ' active' : '') + (ch.unread ? ' has-unread' : ''),
      testid: 'channel-item', 'data-channel-id': ch.id, 'data-channel-name': ch.name || '', 'data-kind': ch.kind,
      onclick: () => openChannel(ch.id),
    },
    ch.kind === 'dm' ? h('span', {
      class: 'presence-dot', testid: 'presence-dot',
      'data-user-id': (ch.members.find((u) => u !== S.me.id) || S.me.id),
      'data-status': statusOf(ch.members.find((u) => u !== S.me.id) || S.me.id),
    }) : null,
    h('span', { class: 'name', testid: 'channel-name', text: channelLabel(ch) }),
    h('span', { class: 'badge mentions', testid: 'channel-mentions', hidden: !ch.mentions, text: String(ch.mentions || 0) }),
    h('span', { class: 'badge unread', testid: 'channel-unread', hidden: !ch.unread, text: String(ch.unread || 0) }));
    $('channel-list').replaceChildren(...list.filter((c) => c.kind !== 'dm').map(item));
    $('dm-list').replaceChildren(...list.filter((c) => c.kind === 'dm').map(item));
    const total = list.reduce((n, c) => n + (c.unread || 0), 0);
    document.title = (total ? '(' + total + ') ' : '') + 'Switchboard';
  }

  function renderHeader() {
    const ch = S.current && S.channels.get(S.current);
    $('channel-title').textContent = ch ? channelLabel(ch) : 'Pick a channel';
    $('channel-topic').textContent = ch && ch.topic ? ch.topic : '';
    $('invite-form').hidden = !ch || ch.kind === 'dm';
    const archived = !!(ch && ch.archived);
    $('composer-input').placeholder = archived ? 'This channel is archived' : 'Message (Enter to send, Shift+Enter for a new line)';
  }

  function renderMessages(toBottom) {
    const box = $('message-scroll');
    const list = $('message-list');
    if (!S.current) { list.replaceChildren(); return; }
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const items = fold(S.current).filter((m) => m.system || !m.thread_root)
      .map((m) => messageItem(m, S.current, false));
    list.replaceChildren(...items, ...pendingItems(S.current, 0));
    $('load-older').hidden = !S.hasMore.get(S.current);
    if (toBottom || atBottom) box.scrollTop = box.scrollHeight;
  }

  // -- threads ---------------------------------------------------------------------------
  async function openThread(channel, root) {
    S.thread = { channel, root };
    $('thread-panel').hidden = false;
    renderThread();
    try {
      let after;
      for (let page = 0; page < 20; page++) {
        const q = after === undefined ? '?limit=200' : '?limit=200&after=' + after;
        const d = await api('GET', '/api/channels/' + channel + '/threads/' + root + q);
        for (const e of d.events || []) onEvent(e, false);
        const seqs = (d.events || []).map((e) => Number(e.seq));
        if (!d.has_more || !seqs.length) break;
        after = Math.max(...seqs);
      }
    } catch (err) {
      showError('thread: ' + err.message);
    }
    renderThread();
    $('thread-input').focus();
  }

  function renderThread() {
    if (!S.thread) return;
    const { channel, root } = S.thread;
    const msgs = fold(channel).filter((m) => !m.system && (m.seq === root || Number(m.thread_root) === root));
    $('thread-messages').replaceChildren(...msgs.map((m) => messageItem(m, channel, true)),
      ...pendingItems(channel, root));
  }

  // -- start -----------------------------------------------------------------------------
  async function boot() {
    if (S.token) {
      try {
        const d = await api('GET', '/api/me');
        startSession(d.user);
        return;
      } catch (_) {
        sessionStorage.removeItem('sb.token');
        S.token = '';
      }
    }
    $('login').hidden = false;
    $('login-name').focus();
  }
  boot();
})();
