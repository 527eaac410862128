/**
 * STATUS_PAGE_SCRIPT is the status page's browser script (status-page-html.ts
 * inlines it). Plain ES2017 with no dependencies. It polls the node that served
 * the page once a second: `/v1/dashboard/members` (reader role) and
 * `/v1/dashboard/locks` (admin role; the node relays it to the leader). The
 * bearer token, if any, is kept in sessionStorage (this tab only) and sent as
 * `Authorization: Bearer`. Remaining times count down in the page from the
 * milliseconds served, dated from when each poll was sent (as the client
 * library dates leases), so a slow answer never shows more time than is left.
 * Every value from the server goes in with textContent, never as markup.
 * The DOM carries data-* attributes (member, role, lock, token, waiter) that
 * the browser test waits on.
 */
export const STATUS_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var TOKEN_KEY = 'raftlock.token';
  var POLL_MS = 1000;
  var REQUEST_TIMEOUT_MS = 5000;
  var EVENTS_SHOWN_MAX = 30;
  var lastMembersAt = 0;

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) {
      var td = c instanceof Node ? wrap('td', c) : el('td', c);
      if (typeof c === 'number') td.className = 'num';
      tr.appendChild(td);
    });
    return tr;
  }

  function wrap(tag, child) { var e = document.createElement(tag); e.appendChild(child); return e; }

  function authHeaders() {
    var token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { authorization: 'Bearer ' + token } : {};
  }

  function getJson(path) {
    var sentAt = performance.now();
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return fetch(path, { headers: authHeaders(), cache: 'no-store', signal: controller.signal })
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          return { ok: res.ok, status: res.status, body: body, sentAt: sentAt };
        });
      })
      .catch(function (err) { return { ok: false, status: 0, body: { error: 'unreachable', message: String(err) }, sentAt: sentAt }; })
      .finally(function () { clearTimeout(timer); });
  }

  function explain(res, need) {
    if (res.status === 0) return 'this node does not answer (' + res.body.message + ')';
    var code = res.body && res.body.error ? res.body.error : 'HTTP ' + res.status;
    var message = res.body && res.body.message ? ': ' + res.body.message : '';
    if (res.status === 401) return 'needs a token with the ' + need + ' role (paste one above)' + message;
    if (res.status === 403) return 'needs a token with the ' + need + ' role' + message;
    return code + message;
  }

  function showProblem(id, text) {
    var p = $(id);
    p.hidden = text === null;
    p.textContent = text === null ? '' : text;
  }

  // A countdown element: its deadline on this page's clock (performance.now), from the served remaining ms.
  function countdown(remainingMs, sentAt) {
    var span = el('span', '', 'ttl');
    span.setAttribute('data-deadline', String(sentAt + remainingMs));
    paintCountdown(span, performance.now());
    return span;
  }

  function paintCountdown(span, now) {
    var leftMs = Math.max(0, Number(span.getAttribute('data-deadline')) - now);
    span.textContent = (leftMs / 1000).toFixed(1) + ' s';
  }

  function tick() {
    var now = performance.now();
    document.querySelectorAll('[data-deadline]').forEach(function (span) { paintCountdown(span, now); });
    if (lastMembersAt > 0) $('updated').textContent = 'updated ' + ((now - lastMembersAt) / 1000).toFixed(1) + ' s ago';
  }

  function renderMembers(res) {
    var table = $('members');
    if (!res.ok) {
      showProblem('members-error', 'Members: ' + explain(res, 'reader'));
      table.classList.add('stale');
      return;
    }
    showProblem('members-error', null);
    table.classList.remove('stale');
    lastMembersAt = res.sentAt;
    var d = res.body;
    $('node').textContent = d.node;
    $('leader').textContent = d.leader === null ? 'none (election)' : d.leader;
    $('leader').setAttribute('data-leader', d.leader === null ? '' : d.leader);
    $('term').textContent = d.term;
    var body = table.tBodies[0];
    body.replaceChildren();
    d.members.forEach(function (m) {
      var known = m.role !== undefined;
      var tr = row([
        m.id,
        m.reachable ? (known ? 'yes' : 'yes (' + m.error + ')') : 'no (' + (m.error || 'no answer') + ')',
        known ? m.role : '?',
        known ? m.term : '?',
        known ? m.commitIndex : '?',
        known ? m.appliedIndex : '?',
        known && m.lagEntries !== null ? m.lagEntries : '?',
        known ? (m.leader === null ? 'none' : m.leader) : '?',
        known && m.problems.length > 0 ? m.problems.map(function (p) { return p.message; }).join('; ') : '',
      ]);
      tr.setAttribute('data-member', m.id);
      tr.setAttribute('data-reachable', String(m.reachable && known));
      tr.setAttribute('data-role', known ? m.role : 'unknown');
      if (known && m.role === 'leader') tr.children[2].className = 'role-leader';
      body.appendChild(tr);
    });
    renderEvents(d.events);
  }

  function renderEvents(events) {
    var list = $('events');
    list.replaceChildren();
    if (events.length === 0) list.appendChild(el('li', 'nothing yet', 'empty'));
    events.slice(0, EVENTS_SHOWN_MAX).forEach(function (e) {
      var at = new Date(e.wallTimeMs).toLocaleTimeString();
      var text = e.kind === 'leader'
        ? at + ' · term ' + e.term + ': ' + (e.leader === null ? 'leader lost, election' : 'leader ' + e.leader)
        : at + ' · entry ' + e.index + ': expired ' + e.holdsExpired + ' hold(s), ' + e.sessionsExpired + ' session(s), ' + e.waitersTimedOut + ' waiter(s) timed out';
      var li = el('li', text);
      li.setAttribute('data-event', e.kind);
      list.appendChild(li);
    });
  }

  function holderItem(h, sentAt) {
    var li = el('li');
    li.setAttribute('data-holder', h.owner);
    li.setAttribute('data-token', String(h.token));
    li.appendChild(el('span', h.owner));
    li.appendChild(document.createTextNode(' · '));
    li.appendChild(el('span', '#' + h.token, 'token'));
    li.appendChild(document.createTextNode(' · '));
    li.appendChild(countdown(h.expiresInMs, sentAt));
    var notes = [];
    if (h.mode !== 'exclusive') notes.push(h.mode);
    if (h.holdCount > 1) notes.push('held ' + h.holdCount + '×');
    if (h.sessionId !== undefined) notes.push('session ' + h.sessionId);
    if (notes.length > 0) li.appendChild(el('span', ' (' + notes.join(', ') + ')', 'muted'));
    return li;
  }

  function waiterItem(w, sentAt) {
    var li = el('li');
    li.setAttribute('data-waiter', w.owner);
    li.appendChild(el('span', w.owner + (w.mode !== 'exclusive' ? ' (' + w.mode + ')' : '') + ' · gives up in '));
    li.appendChild(countdown(w.waitEndsInMs, sentAt));
    return li;
  }

  function renderLocks(res) {
    var table = $('locks');
    if (!res.ok) {
      showProblem('locks-error', 'Locks and sessions: ' + explain(res, 'admin') + (table.tBodies[0].rows.length > 0 ? ' (showing the last answer)' : ''));
      table.classList.add('stale');
      $('sessions').classList.add('stale');
      return;
    }
    showProblem('locks-error', null);
    table.classList.remove('stale');
    $('sessions').classList.remove('stale');
    var d = res.body;
    var body = table.tBodies[0];
    body.replaceChildren();
    $('lock-count').textContent = '(' + d.lockCount + (d.lockCount > d.locks.length ? ', first ' + d.locks.length + ' shown' : '') + ')';
    if (d.locks.length === 0) body.appendChild(row(['no locks held or waited for', '', '', '']));
    d.locks.forEach(function (l) {
      var holders = el('ul');
      l.holders.forEach(function (h) { holders.appendChild(holderItem(h, res.sentAt)); });
      if (l.holders.length === 0) holders.appendChild(el('li', l.lockDelayInMs !== undefined ? 'lock-delay' : 'free', 'empty'));
      var queue = el('ol', null, 'queue');
      l.queue.forEach(function (w) { queue.appendChild(waiterItem(w, res.sentAt)); });
      if (l.waiters > l.queue.length) queue.appendChild(el('li', '… ' + (l.waiters - l.queue.length) + ' more', 'muted'));
      var tr = row([l.name, holders, l.waiters > 0 ? queue : el('span', 'none', 'empty'), l.lastToken]);
      tr.setAttribute('data-lock', l.name);
      tr.setAttribute('data-waiters', String(l.waiters));
      body.appendChild(tr);
    });
    renderSessions(d, res.sentAt);
  }

  function renderSessions(d, sentAt) {
    var body = $('sessions').tBodies[0];
    body.replaceChildren();
    $('session-count').textContent = '(' + d.sessionCount + (d.sessionCount > d.sessions.length ? ', first ' + d.sessions.length + ' shown' : '') + ')';
    if (d.sessions.length === 0) body.appendChild(row(['no sessions', '', '', '']));
    d.sessions.forEach(function (s) {
      var tr = row([s.sessionId, s.owner === undefined ? '' : s.owner, countdown(s.expiresInMs, sentAt), s.locks.join(', ')]);
      tr.setAttribute('data-session', s.sessionId);
      body.appendChild(tr);
    });
  }

  function poll() {
    Promise.all([getJson('/v1/dashboard/members'), getJson('/v1/dashboard/locks')])
      .then(function (answers) {
        renderMembers(answers[0]);
        renderLocks(answers[1]);
      })
      .catch(function (err) { showProblem('members-error', 'page error: ' + String(err)); })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  $('token').value = sessionStorage.getItem(TOKEN_KEY) || '';
  $('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var token = $('token').value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  });
  $('token-clear').addEventListener('click', function () {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
  });
  setInterval(tick, 200);
  poll();
})();
`;
