// The webhook dashboard's page. Everything that comes from the server
// (payloads, errors, response bodies, names) is put in the document as
// text (textContent, text nodes, attribute values), never as HTML.
'use strict';

(() => {
  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') : '';
  };
  const token = meta('csrf-token');
  const pageSize = Number(meta('page-size')) || 50;
  const readOnly = meta('read-only') === 'true';
  const $ = (id) => document.getElementById(id);

  // el makes an element: props sets attributes ("class", "text" for
  // textContent, "on…" for listeners), children are nodes or strings
  // (made text nodes).
  function el(tag, props, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = String(v);
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }

  class APIError extends Error {
    constructor(status, message, data) {
      super(message);
      this.status = status;
      this.data = data || {};
    }
  }

  // api calls the dashboard's JSON API; body makes it a POST, with the
  // CSRF token.
  async function api(path, body) {
    const init = { method: 'GET', credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = token;
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'cannot reach the server: ' + e.message);
    }
    const text = await res.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch (e) {
      data = { error: text.slice(0, 300) || res.statusText };
    }
    if (!res.ok) throw new APIError(res.status, data.error || res.statusText || 'HTTP ' + res.status, data);
    return data;
  }

  // ---- formatting ----------------------------------------------------

  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d)) return String(s);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  // fmtShort is fmtTime without the date for a time of today.
  function fmtShort(s) {
    const d = new Date(s);
    if (!s || isNaN(d)) return fmtTime(s);
    return d.toDateString() === new Date().toDateString() ? fmtTime(s).slice(11) : fmtTime(s).slice(0, 16);
  }
  function fmtDuration(ms) {
    if (typeof ms !== 'number') return '';
    if (ms < 1) return ms.toFixed(2) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  }
  // localInput formats a Date for <input type="datetime-local">.
  function localInput(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  const time = (s, short) => s ? el('time', { datetime: s, title: s, text: short ? fmtShort(s) : fmtTime(s) }) : '';
  const badge = (cls, text) => el('span', { class: 'badge ' + cls, text: text });

  // ---- state ---------------------------------------------------------

  const state = {
    filters: { endpoint: '', tenant: '', status: '', event_id: '', unresolved: false },
    logs: [], // listed, newest first
    seen: new Set(), // their ids
    nextUntil: '', // the next page's until; '' when there is none
    expanded: new Set(), // ids of the open deliveries
    notes: new Map(), // id → {text, cls, again}: the result of an action on a delivery
    endpoints: [],
    tenants: [],
    epNotes: new Map(), // endpoint → {text, cls}
    recoverSince: new Map(), // endpoint → the recover form's value
    loadSeq: 0,
  };

  function notice(text, cls) {
    const n = $('notice');
    if (!text) {
      n.hidden = true;
      return;
    }
    n.className = 'notice ' + (cls || '');
    n.textContent = text;
    n.hidden = false;
  }

  // ---- filters -------------------------------------------------------

  function readFilters() {
    state.filters = {
      endpoint: $('f-endpoint').value,
      tenant: $('f-tenant').value,
      status: $('f-status').value,
      event_id: $('f-event').value.trim(),
      unresolved: $('f-unresolved').checked,
    };
  }

  function writeFilters() {
    setSelect($('f-endpoint'), state.filters.endpoint);
    setSelect($('f-tenant'), state.filters.tenant);
    $('f-status').value = state.filters.status;
    $('f-event').value = state.filters.event_id;
    $('f-unresolved').checked = state.filters.unresolved;
  }

  // setSelect selects value, adding it as an option when it is missing
  // (an endpoint from the address, not listed yet).
  function setSelect(sel, value) {
    if (value && ![...sel.options].some((o) => o.value === value)) sel.append(el('option', { value: value, text: value }));
    sel.value = value;
  }

  function filterParams() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) {
      if (v === true) p.set(k, 'true');
      else if (v) p.set(k, v);
    }
    return p;
  }

  // The filters live in the address's fragment, so that a view can be
  // reloaded and shared.
  function saveFilters() {
    const p = filterParams().toString();
    history.replaceState(null, '', p ? '#' + p : location.pathname + location.search);
  }

  function loadFiltersFromHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    state.filters = {
      endpoint: p.get('endpoint') || '',
      tenant: p.get('tenant') || '',
      status: p.get('status') || '',
      event_id: p.get('event_id') || '',
      unresolved: p.get('unresolved') === 'true',
    };
  }

  function applyFilters(f) {
    state.filters = Object.assign({ endpoint: '', tenant: '', status: '', event_id: '', unresolved: false }, f);
    writeFilters();
    saveFilters();
    renderEndpoints();
    return loadLogs(false);
  }

  // ---- deliveries ----------------------------------------------------

  // loadLogs loads the first page (append false) or the next, older one.
  // A page that adds nothing (all left out as resolved, or seen already)
  // is followed by the next, up to a bound.
  async function loadLogs(append) {
    const seq = ++state.loadSeq;
    const logs = append ? state.logs.slice() : [];
    const seen = append ? new Set(state.seen) : new Set();
    let until = append ? state.nextUntil : '';
    let next = '';
    for (let pages = 0; pages < 20; pages++) {
      const p = filterParams();
      if (until) p.set('until', until);
      p.set('limit', String(pageSize));
      let data;
      try {
        data = await api('api/logs?' + p.toString());
      } catch (e) {
        if (seq === state.loadSeq) notice('Cannot load the deliveries: ' + e.message, 'error');
        return;
      }
      if (seq !== state.loadSeq) return; // a newer load has begun
      let fresh = 0;
      for (const l of data.logs || []) {
        if (seen.has(l.id)) continue;
        seen.add(l.id);
        logs.push(l);
        fresh++;
      }
      next = data.next_until || '';
      if (next === until) next = ''; // no progress: stop
      if (fresh > 0 || !next) break;
      until = next;
    }
    state.logs = logs;
    state.seen = seen;
    state.nextUntil = next;
    renderLogs();
  }

  function renderLogs() {
    const body = $('logs-body');
    const rows = [];
    for (const l of state.logs) {
      const open = state.expanded.has(l.id);
      rows.push(logRow(l, open));
      if (open) rows.push(detailRow(l));
    }
    body.replaceChildren(...rows);
    $('logs-empty').hidden = state.logs.length > 0;
    $('older').hidden = !state.nextUntil;
  }

  function toggle(id) {
    if (state.expanded.has(id)) state.expanded.delete(id);
    else state.expanded.add(id);
    renderLogs();
  }

  function logRow(l, open) {
    const tr = el('tr', { class: 'log' + (open ? ' open' : ''), 'data-id': l.id, 'data-status': l.status, onclick: () => toggle(l.id) },
      el('td', { class: 'col-toggle' },
        el('button', { type: 'button', class: 'toggle', 'aria-expanded': open ? 'true' : 'false', 'aria-label': 'Details of ' + l.id, text: open ? '▾' : '▸' })),
      el('td', {}, time(l.created_at, true)),
      el('td', { class: 'mono' }, l.id),
      el('td', {}, l.endpoint_name, l.tenant ? [' ', badge('tenant', l.tenant)] : null),
      el('td', {}, el('span', { class: 'mono' }, l.event_id), ' ', el('span', { class: 'muted', text: l.event_type })),
      el('td', {}, badge(l.status, l.status), l.redelivered_as ? el('span', { class: 'muted', title: 'Sent again as ' + l.redelivered_as, text: ' ↻' }) : null),
      el('td', { class: 'num' }, l.status_code ? String(l.status_code) : '—'),
      el('td', { class: 'num' }, String(l.attempts)),
      el('td', {}, l.completed_at ? time(l.completed_at, true) : l.next_attempt_at ? el('span', { class: 'muted' }, 'next ', time(l.next_attempt_at, true)) : ''),
      el('td', { class: 'err', title: l.error_message || null }, el('div', { class: 'clip', text: shortError(l.error_message) })));
    return tr;
  }

  // shortError leaves out what the row says already: the endpoint, the
  // event and the attempt.
  function shortError(msg) {
    return (msg || '').replace(/^webhook: endpoint "[^"]*": event \S+: (attempt \d+: )?/, '');
  }

  function detailRow(l) {
    const left = [];
    const right = [];

    // Actions.
    const bar = el('div', { class: 'bar' });
    if (!readOnly && (l.status === 'failed' || l.status === 'delivered')) {
      bar.append(el('button', { type: 'button', class: 'redeliver', 'data-id': l.id, onclick: () => redeliver(l, false), text: 'Redeliver' }));
    }
    const note = state.notes.get(l.id);
    if (note) {
      bar.append(el('span', { class: 'note ' + (note.cls || ''), text: note.text }));
      if (note.again && !readOnly) {
        bar.append(el('button', { type: 'button', class: 'secondary again', onclick: () => redeliver(l, true), text: 'Send again' }));
      }
      if (note.newID) bar.append(showButton(l, note.newID));
    }
    if (bar.childNodes.length) left.push(bar);

    // Facts.
    const facts = el('dl', { class: 'facts' });
    const fact = (k, ...v) => facts.append(el('dt', { text: k }), el('dd', {}, ...v));
    fact('Delivery', el('span', { class: 'mono' }, l.id));
    fact('Event', el('span', { class: 'mono' }, l.event_id), ' (' + l.event_type + ')');
    fact('Endpoint', l.endpoint_name, l.tenant ? ' — tenant ' + l.tenant : '');
    fact('Status', badge(l.status, l.status), l.status_code ? ' HTTP ' + l.status_code : '');
    fact('Created', time(l.created_at));
    if (l.completed_at) fact('Completed', time(l.completed_at));
    if (l.next_attempt_at) fact('Next attempt', time(l.next_attempt_at));
    if (l.redelivered_as) fact('Sent again as', el('span', { class: 'mono' }, l.redelivered_as), ' ', showButton(l, l.redelivered_as));
    left.push(facts);

    if (l.error_message) {
      left.push(el('div', { class: 'block' }, el('h3', { text: 'Last error' }), el('pre', { class: 'error' }, l.error_message)));
    }
    if (l.response_body) {
      left.push(el('div', { class: 'block' }, el('h3', { text: 'Response body' }), el('pre', {}, l.response_body)));
    }

    // Attempts.
    const hist = l.history || [];
    if (hist.length) {
      left.push(el('div', { class: 'block' }, el('h3', { text: 'Attempts' }),
        el('table', { class: 'attempts' },
          el('thead', {}, el('tr', {}, el('th', { text: '#' }), el('th', { text: 'At' }), el('th', { text: 'Duration' }), el('th', { text: 'Status' }), el('th', { text: 'Error' }))),
          el('tbody', {}, hist.map((a) => el('tr', {},
            el('td', { text: String(a.attempt) }),
            el('td', {}, time(a.at)),
            el('td', { text: fmtDuration(a.duration_ms) }),
            el('td', { text: a.status_code ? String(a.status_code) : '—' }),
            el('td', { class: 'err', title: a.error || null, text: shortError(a.error) })))))));
    } else {
      left.push(el('p', { class: 'muted', text: 'No attempt yet.' }));
    }

    // Payload.
    right.push(el('div', { class: 'block' }, el('h3', { text: 'Payload as sent' }),
      l.payload === null || l.payload === undefined ? el('p', { class: 'muted', text: 'No body was built (its shaping failed).' }) : el('pre', { class: 'payload' }, l.payload)));

    const td = el('td', { colspan: '10' }, el('div', { class: 'detail-grid' }, el('div', {}, left), el('div', {}, right)));
    return el('tr', { class: 'detail', 'data-id': l.id }, td);
  }

  // showButton shows the delivery id of l's event: its event's deliveries
  // to its endpoint, with id open.
  function showButton(l, id) {
    return el('button', {
      type: 'button', class: 'link show', text: 'show',
      onclick: (ev) => {
        ev.stopPropagation();
        state.expanded.add(id);
        applyFilters({ endpoint: l.endpoint_name, event_id: l.event_id });
      },
    });
  }

  async function redeliver(l, again) {
    state.notes.set(l.id, { text: again ? 'Sending again…' : 'Redelivering…' });
    renderLogs();
    try {
      const r = await api('api/redeliver', { id: l.id, again: again });
      state.notes.set(l.id, { text: 'Sent again as ' + r.redelivered_as + '.', cls: 'ok', newID: r.redelivered_as });
    } catch (e) {
      if (e.data.already_redelivered && !again) {
        const text = l.redelivered_as ? 'Sent again already, as ' + l.redelivered_as + '. Send it once more?' : e.message;
        state.notes.set(l.id, { text: text, cls: 'error', again: true });
      } else {
        state.notes.set(l.id, { text: 'Not sent again: ' + e.message, cls: 'error', newID: e.data.redelivered_as });
      }
    }
    renderLogs();
    followUp();
  }

  // ---- endpoints -----------------------------------------------------

  async function loadEndpoints() {
    let data;
    try {
      data = await api('api/endpoints');
    } catch (e) {
      notice('Cannot load the endpoints: ' + e.message, 'error');
      return;
    }
    state.endpoints = data.endpoints || [];
    state.tenants = data.tenants || [];
    $('totals').textContent = 'Queued ' + data.queued + ' · In flight ' + data.in_flight;
    fillSelect($('f-endpoint'), state.endpoints.map((e) => e.name), state.filters.endpoint);
    fillSelect($('f-tenant'), state.tenants, state.filters.tenant);
    // Not while the operator is typing in a recover form.
    if (!$('endpoints').contains(document.activeElement)) renderEndpoints();
  }

  function fillSelect(sel, values, current) {
    const opts = [el('option', { value: '', text: 'All' })];
    for (const v of values) opts.push(el('option', { value: v, text: v }));
    sel.replaceChildren(...opts);
    setSelect(sel, current);
  }

  function renderEndpoints() {
    const t = state.filters.tenant;
    const eps = state.endpoints.filter((e) => !t || e.tenant === t);
    const box = $('endpoints');
    if (!eps.length) {
      box.replaceChildren(el('p', { class: 'muted', text: t ? 'Tenant ' + t + ' has no endpoint.' : 'No endpoint.' }));
      return;
    }
    box.replaceChildren(...eps.map(endpointCard));
  }

  function endpointCard(ep) {
    const head = el('div', { class: 'card-head' }, el('strong', { text: ep.name }),
      ep.tenant ? badge('tenant', 'tenant ' + ep.tenant) : null,
      ep.paused ? badge('paused', 'paused') : null,
      ep.disabled ? badge('disabled', ep.gone ? 'disabled (410 Gone)' : 'disabled') : null);
    const stats = el('dl', { class: 'stats' },
      el('div', {}, el('dt', { text: 'Queued' }), el('dd', { text: String(ep.queued) })),
      el('div', {}, el('dt', { text: 'In flight' }), el('dd', { text: String(ep.in_flight) })),
      el('div', {}, el('dt', { text: 'Circuit' }), el('dd', {}, badge(ep.circuit, ep.circuit))));
    const card = el('div', { class: 'card', 'data-endpoint': ep.name }, head, el('div', { class: 'url mono', text: ep.url }), stats);
    const unresolved = el('button', { type: 'button', class: 'link', onclick: () => applyFilters({ endpoint: ep.name, status: 'failed', unresolved: true }), text: 'Unresolved failures' });
    if (!readOnly) {
      const actions = el('div', { class: 'actions' },
        ep.paused
          ? el('button', { type: 'button', class: 'resume', onclick: () => endpointAction(ep.name, 'resume'), text: 'Resume' })
          : el('button', { type: 'button', class: 'secondary pause', onclick: () => endpointAction(ep.name, 'pause'), text: 'Pause' }),
        el('button', { type: 'button', class: 'secondary reset', disabled: ep.circuit === 'closed', onclick: () => endpointAction(ep.name, 'reset-circuit'), text: 'Reset circuit' }),
        ep.gone ? el('button', { type: 'button', class: 'secondary enable', onclick: () => endpointAction(ep.name, 'enable'), text: 'Enable' }) : null,
        unresolved);
      card.append(actions);
      if (!state.recoverSince.has(ep.name)) state.recoverSince.set(ep.name, localInput(new Date(Date.now() - 3600e3)));
      const input = el('input', { type: 'datetime-local', step: '1', value: state.recoverSince.get(ep.name), 'aria-label': 'Since', oninput: (ev) => state.recoverSince.set(ep.name, ev.target.value) });
      const form = el('form', { class: 'recover', onsubmit: (ev) => { ev.preventDefault(); recover(ep.name, input.value); } },
        el('label', { text: 'Recover failures since' }), input, el('button', { type: 'submit', class: 'secondary', text: 'Recover' }));
      const n = state.epNotes.get(ep.name);
      if (n) form.append(el('div', { class: 'result ' + (n.cls || ''), text: n.text }));
      card.append(form);
    } else {
      card.append(el('div', { class: 'actions' }, unresolved));
      const n = state.epNotes.get(ep.name);
      if (n) card.append(el('div', { class: 'result ' + (n.cls || ''), text: n.text }));
    }
    return card;
  }

  async function endpointAction(name, action) {
    const done = { pause: 'Paused.', resume: 'Resumed.', 'reset-circuit': 'Circuit reset.', enable: 'Enabled.' }[action];
    try {
      await api('api/' + action, { endpoint: name });
      state.epNotes.set(name, { text: done, cls: 'ok' });
    } catch (e) {
      state.epNotes.set(name, { text: e.message, cls: 'error' });
    }
    document.activeElement && document.activeElement.blur && document.activeElement.blur();
    await loadEndpoints();
    renderEndpoints();
  }

  async function recover(name, value) {
    const since = value ? new Date(value) : null;
    if (!since || isNaN(since)) {
      state.epNotes.set(name, { text: 'Choose a time first.', cls: 'error' });
      renderEndpoints();
      return;
    }
    try {
      const r = await api('api/recover', { endpoint: name, since: since.toISOString() });
      const n = r.recovered;
      state.epNotes.set(name, { text: n === 0 ? 'Nothing to send again since ' + fmtTime(r.since) + '.' : 'Sent again ' + n + (n === 1 ? ' delivery' : ' deliveries') + ' that failed since ' + fmtTime(r.since) + '.', cls: 'ok' });
    } catch (e) {
      const n = e.data.recovered;
      state.epNotes.set(name, { text: (n ? 'Sent again ' + n + ', then: ' : '') + e.message, cls: 'error' });
    }
    document.activeElement && document.activeElement.blur && document.activeElement.blur();
    renderEndpoints();
    followUp();
  }

  // ---- refreshing ----------------------------------------------------

  function refresh() {
    notice('');
    return Promise.all([loadEndpoints(), loadLogs(false)]);
  }

  // followUp refreshes a few times after an action, to show its
  // deliveries as they go.
  let followTimers = [];
  function followUp() {
    followTimers.forEach(clearTimeout);
    followTimers = [0, 800, 2500].map((ms) => setTimeout(refresh, ms));
  }

  let autoTimer = 0;
  function setAuto(on) {
    clearInterval(autoTimer);
    autoTimer = on ? setInterval(refresh, 5000) : 0;
  }

  // ---- start ---------------------------------------------------------

  function start() {
    loadFiltersFromHash();
    writeFilters();
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      readFilters();
      saveFilters();
      renderEndpoints();
      loadLogs(false);
    });
    for (const id of ['f-endpoint', 'f-tenant', 'f-status', 'f-unresolved']) {
      $(id).addEventListener('change', () => $('filters').requestSubmit());
    }
    $('f-clear').addEventListener('click', () => applyFilters({}));
    $('older').addEventListener('click', () => loadLogs(true));
    $('refresh').addEventListener('click', refresh);
    $('auto').addEventListener('change', (ev) => setAuto(ev.target.checked));
    window.addEventListener('hashchange', () => {
      loadFiltersFromHash();
      writeFilters();
      renderEndpoints();
      loadLogs(false);
    });
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
