// Sluice live dashboard (served by the admin HTTP listener; plain browser JavaScript, no build step, no
// external code). Polls the JSON API (docs/openapi.yaml) once a second and renders:
//   topology (/api/v1/backends), pool usage per backend (the backends' `pools`), client sessions and pins
//   (/api/v1/sessions), QPS and read routing (deltas of /api/v1/stats counters), top query digests
//   (/api/v1/digests, shown only when that endpoint answers 200), a 60 s QPS chart drawn as inline SVG,
//   statements/s and latency per backend (deltas of the backends' `statements`), and the failover panel
//   (/api/v1/failover and /api/v1/failovers, shown only while failover is active).
// Every value from the API is inserted as text (textContent / attributes), never as HTML.
'use strict';

(() => {
  const POLL_MS = 1000;
  const HISTORY_MS = 60_000;
  const REQUEST_TIMEOUT_MS = 3000;
  const DIGEST_RETRY_MS = 10_000;
  const FAILOVER_RETRY_MS = 10_000;
  const HISTORY_SHOWN = 50;
  const TOP_DIGESTS = 10;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** Previous counter sample, for rates: { t, statements, replica, primary }. */
  let prev = null;
  /** QPS history for the chart: [{ t, total, replica, primary }], t from performance.now(). */
  const history = [];
  /** Next time to ask for /api/v1/digests after it answered 404 (endpoint not there). */
  let digestsRetryAt = 0;
  let lastDigests = null;
  /** Next time to ask for /api/v1/failover after it answered 404 (failover not active). */
  let failoverRetryAt = 0;
  /** Previous statement totals per backend, for per-backend rates: name → { t, total, totalMs }. */
  const prevBackend = new Map();

  const $ = (id) => document.getElementById(id);

  // ---------- formatting ----------
  const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const oneFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const msFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmtInt = (n) => (typeof n === 'number' && Number.isFinite(n) ? intFmt.format(n) : '–');
  /** A rate: one decimal below 10,000/s, whole numbers above. */
  const fmtRate = (n) => (typeof n !== 'number' || !Number.isFinite(n) ? '–' : n >= 10_000 ? intFmt.format(n) : oneFmt.format(n));
  const fmtMs = (n) => (typeof n === 'number' && Number.isFinite(n) ? (n >= 1000 ? intFmt.format(n) : msFmt.format(n)) : '–');
  const fmtPct = (x) => (typeof x === 'number' && Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;

  function fmtAgo(iso) {
    if (!iso) return 'never';
    const ms = Date.now() - Date.parse(iso);
    if (!Number.isFinite(ms)) return '–';
    const s = Math.max(0, ms / 1000);
    return s < 10 ? `${s.toFixed(1)} s ago` : s < 120 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`;
  }

  // ---------- DOM helpers ----------
  /** h('div', { class: 'x', title: 't' }, child, 'text', …): element with attributes and children (text-safe). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function setText(id, text) {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ---------- fetching ----------
  async function getJson(path, optional) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', signal: ctrl.signal, headers: { Accept: 'application/json' } });
      if (!res.ok) {
        if (optional && (res.status === 404 || res.status === 501)) return null;
        throw new Error(`${path}: HTTP ${res.status}`);
      }
      return await res.json();
    } catch (err) {
      if (err && err.name === 'AbortError') throw new Error(`${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async function poll() {
    const wantDigests = performance.now() >= digestsRetryAt;
    const wantFailover = performance.now() >= failoverRetryAt;
    const [backends, sessions, stats, digests, failover, failovers] = await Promise.all([
      getJson('/api/v1/backends'),
      getJson('/api/v1/sessions'),
      getJson('/api/v1/stats'),
      wantDigests ? getJson('/api/v1/digests', true).catch(() => null) : Promise.resolve(undefined),
      wantFailover ? getJson('/api/v1/failover', true).catch(() => null) : Promise.resolve(null),
      wantFailover ? getJson('/api/v1/failovers', true).catch(() => null) : Promise.resolve(null),
    ]);
    const t = performance.now();
    if (wantDigests) {
      if (digests === null) digestsRetryAt = t + DIGEST_RETRY_MS;
      lastDigests = digests && Array.isArray(digests.digests) ? digests.digests : null;
    }
    if (wantFailover && failover === null) failoverRetryAt = t + FAILOVER_RETRY_MS;
    const rates = updateRates(t, stats);
    const backendRates = updateBackendRates(t, backends.backends);
    renderTiles(stats, sessions.sessions, rates);
    renderFailover(failover, failovers && Array.isArray(failovers.events) ? failovers.events : []);
    renderChart();
    renderTopology(backends.backends, backendRates);
    renderRouting(stats, rates);
    renderPins(sessions.sessions, stats);
    renderPools(backends.backends);
    renderDigests(lastDigests);
  }

  /** Rates per second since the previous sample; null fields until two samples exist. */
  function updateRates(t, stats) {
    const cur = {
      t,
      statements: stats.statements,
      replica: stats.routing ? stats.routing.replica_reads : null,
      primary: stats.routing ? stats.routing.primary_reads : null,
    };
    let rates = { qps: null, replica: null, primary: null };
    if (prev !== null && cur.statements >= prev.statements) {
      const dt = (t - prev.t) / 1000;
      if (dt > 0.05) {
        const rate = (a, b) => (a === null || b === null || a < b ? null : (a - b) / dt);
        rates = { qps: rate(cur.statements, prev.statements), replica: rate(cur.replica, prev.replica), primary: rate(cur.primary, prev.primary) };
        history.push({ t, total: rates.qps, replica: rates.replica, primary: rates.primary });
      }
    } else if (prev !== null) {
      history.length = 0; // counters went back: Sluice restarted
    }
    prev = cur;
    while (history.length > 0 && t - history[0].t > HISTORY_MS + POLL_MS) history.shift();
    return rates;
  }

  /** Statements/s and average latency per backend over the last interval: name → { qps, avgMs } (null until two samples). */
  function updateBackendRates(t, backends) {
    const out = new Map();
    const seen = new Set();
    for (const b of backends) {
      seen.add(b.name);
      const s = b.statements;
      if (!s) continue;
      const p = prevBackend.get(b.name);
      let r = { qps: null, avgMs: null };
      if (p && s.total >= p.total) {
        const dt = (t - p.t) / 1000;
        if (dt > 0.05) {
          const n = s.total - p.total;
          r = { qps: n / dt, avgMs: n > 0 ? (s.total_ms - p.totalMs) / n : null };
        }
      }
      prevBackend.set(b.name, { t, total: s.total, totalMs: s.total_ms });
      out.set(b.name, r);
    }
    for (const name of [...prevBackend.keys()]) if (!seen.has(name)) prevBackend.delete(name);
    return out;
  }

  // ---------- tiles ----------
  function renderTiles(stats, sessions, rates) {
    const qps = $('qps');
    qps.dataset.value = rates.qps === null ? '' : String(rates.qps);
    setText('qps', fmtRate(rates.qps));
    setText('statements-total', fmtInt(stats.statements));
    document.title = rates.qps === null ? 'Sluice dashboard' : `Sluice · ${fmtRate(rates.qps)} q/s`;

    const by = { active: 0, idle: 0, login: 0 };
    for (const s of sessions) by[s.state] = (by[s.state] || 0) + 1;
    setText('sessions-count', fmtInt(sessions.length));
    setText('sessions-sub', `${fmtInt(by.active)} active · ${fmtInt(by.idle)} idle · ${fmtInt(by.login)} logging in`);

    if (stats.routing === null) {
      setText('replica-share', 'n/a');
      setText('replica-sub', 'no replica configured');
    } else {
      const reads = (rates.replica ?? 0) + (rates.primary ?? 0);
      setText('replica-share', rates.replica === null ? '–' : reads > 0 ? fmtPct(rates.replica / reads) : 'idle');
      setText('replica-sub', `${fmtRate(rates.replica)} replica · ${fmtRate(rates.primary)} primary reads/s`);
    }

    const pinned = sessions.filter((s) => s.pinned).length;
    setText('pinned-count', fmtInt(pinned));
    const reasons = countReasons(sessions);
    setText('pinned-sub', reasons.length === 0 ? 'none pinned now' : reasons.map(([r, n]) => `${fmtInt(n)} ${r}`).join(' · '));
  }

  function countReasons(sessions) {
    const m = new Map();
    for (const s of sessions) for (const r of s.pin_reasons || []) m.set(r, (m.get(r) || 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }

  // ---------- QPS chart (inline SVG) ----------
  function niceCeil(max) {
    if (!(max > 0)) return 1;
    const raw = max / 4;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
    return step * 4;
  }

  function renderChart() {
    const el = $('qps-chart');
    const W = Math.max(200, Math.round(el.clientWidth || 800));
    const H = Math.max(120, Math.round(el.clientHeight || 200));
    const pad = { l: 56, r: 12, t: 10, b: 22 };
    const pw = W - pad.l - pad.r;
    const ph = H - pad.t - pad.b;
    el.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const nodes = [];
    const now = performance.now();
    const pts = history.filter((p) => now - p.t <= HISTORY_MS + POLL_MS && p.total !== null);
    const max = niceCeil(Math.max(0, ...pts.map((p) => Math.max(p.total ?? 0, p.replica ?? 0, p.primary ?? 0))) * 1.05);
    const x = (t) => pad.l + pw * Math.min(1, Math.max(0, 1 - (now - t) / HISTORY_MS));
    const y = (v) => pad.t + ph * (1 - Math.min(1, v / max));

    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const yy = y(v);
      nodes.push(svg('line', { class: 'gridline', x1: pad.l, x2: W - pad.r, y1: yy, y2: yy }));
      nodes.push(svg('text', { class: 'axis-label', x: pad.l - 8, y: yy + 4, 'text-anchor': 'end' }, v >= 10_000 ? `${intFmt.format(v / 1000)}k` : intFmt.format(v)));
    }
    for (const [sec, label] of [[60, '60 s ago'], [45, '45 s'], [30, '30 s'], [15, '15 s'], [0, 'now']]) {
      const xx = pad.l + pw * (1 - sec / 60);
      nodes.push(svg('text', { class: 'axis-label', x: xx, y: H - 5, 'text-anchor': sec === 60 ? 'start' : sec === 0 ? 'end' : 'middle' }, label));
    }

    if (pts.length < 2) {
      nodes.push(svg('text', { class: 'nodata', x: pad.l + pw / 2, y: pad.t + ph / 2, 'text-anchor': 'middle' }, 'collecting data…'));
    } else {
      const line = (key) => {
        const ps = pts.filter((p) => p[key] !== null);
        return ps.length < 2 ? null : ps.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join('');
      };
      const total = line('total');
      const first = pts[0];
      const last = pts[pts.length - 1];
      nodes.push(svg('path', { class: 'area-total', d: `${total}L${x(last.t).toFixed(1)},${y(0)}L${x(first.t).toFixed(1)},${y(0)}Z` }));
      const replica = line('replica');
      const primary = line('primary');
      if (primary) nodes.push(svg('path', { class: 'line-primary', d: primary }));
      if (replica) nodes.push(svg('path', { class: 'line-replica', d: replica }));
      nodes.push(svg('path', { class: 'line-total', d: total }));
      nodes.push(svg('circle', { class: 'dot-total', cx: x(last.t), cy: y(last.total), r: 3.5 }));
    }
    el.dataset.points = String(pts.length);
    el.replaceChildren(...nodes);
  }

  // ---------- topology ----------
  function renderTopology(backends, backendRates) {
    const up = backends.filter((b) => b.health === 'up').length;
    setText('topology-sub', `${plural(backends.length, 'backend')} · ${fmtInt(up)} up`);
    const cards = backends.map((b) => {
      const lag = b.lag_seconds === null ? (b.role === 'primary' ? '—' : 'unknown') : `${fmtInt(b.lag_seconds)} s`;
      return h(
        'article',
        { class: 'backend', 'data-name': b.name, 'data-health': b.health, 'data-offline': b.offline === true ? 'true' : 'false' },
        h(
          'div',
          { class: 'backend-head' },
          h('span', { class: 'backend-name' }, b.name),
          h('span', { class: `badge role-${b.role}` }, b.role),
          b.offline === true ? h('span', { class: 'badge offline', title: 'taken out of service by an operator' }, 'offline') : null,
          h('span', { class: 'health', 'data-health': b.health }, b.health),
        ),
        h('div', { class: 'backend-addr' }, `${b.host}:${b.port}`),
        h(
          'dl',
          { class: 'kv' },
          h('dt', null, 'Lag'),
          h('dd', { class: 'lag' }, lag),
          h('dt', null, 'GTID'),
          h('dd', { class: 'mono gtid', title: b.gtid_position ?? '' }, b.gtid_position || '–'),
          h('dt', null, 'Read only'),
          h('dd', null, b.read_only === null ? '–' : b.read_only ? 'yes' : 'no'),
          h('dt', null, 'Connections'),
          h('dd', null, `${fmtInt(b.pools.in_use)} in use · ${fmtInt(b.pools.idle)} idle`),
          b.statements ? statementRows(b.statements, backendRates.get(b.name)) : null,
          h('dt', null, 'Checked'),
          h('dd', null, fmtAgo(b.last_check_at)),
        ),
        b.last_error ? h('div', { class: 'backend-error', title: b.last_error }, b.last_error) : null,
      );
    });
    $('backends').replaceChildren(...(cards.length ? cards : [h('p', { class: 'empty' }, 'no backend')]));
  }

  /**
   * Rows of the backend card: "Statements 12.0/s", "Errors 3" (when any), "Latency 0.41 · p99 2.00 ms": rate
   * and average over the last interval, p99 since start (the full numbers in the tooltip).
   */
  function statementRows(s, r) {
    const title =
      `${fmtInt(s.total)} statements since start (${fmtInt(s.primary)} as primary, ${fmtInt(s.replica)} as replica), ` +
      `${fmtInt(s.errors)} errors; avg ${fmtMs(s.avg_ms)} ms, p50 ≤ ${fmtMs(s.p50_ms)} ms, p99 ≤ ${fmtMs(s.p99_ms)} ms, max ${fmtMs(s.max_ms)} ms`;
    const rate = r && r.qps !== null ? `${fmtRate(r.qps)}/s` : '–/s';
    const avg = r && r.avgMs !== null ? fmtMs(r.avgMs) : 'idle';
    return [
      h('dt', null, 'Statements'),
      h('dd', { class: 'stmts', title, 'data-total': s.total }, rate),
      ...(s.errors > 0 ? [h('dt', null, 'Errors'), h('dd', { class: 'err', title }, fmtInt(s.errors))] : []),
      h('dt', null, 'Latency'),
      h('dd', { class: 'latency', title: 'ms: average over the last second · 99th percentile since start' }, `${avg} · p99 ${fmtMs(s.p99_ms)} ms`),
    ];
  }

  // ---------- failover ----------
  const PHASE_TEXT = { normal: 'normal', primary_lost: 'primary lost', promoting: 'promoting a replica', switching_over: 'switching over' };

  function fmtBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
    if (n < 1024) return `${fmtInt(n)} B`;
    if (n < 1024 * 1024) return `${oneFmt.format(n / 1024)} KiB`;
    return `${oneFmt.format(n / 1024 / 1024)} MiB`;
  }

  function fmtDuration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
    return ms < 1000 ? `${fmtInt(ms)} ms` : `${oneFmt.format(ms / 1000)} s`;
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (!Number.isFinite(d.getTime())) return '–';
    const today = new Date().toDateString() === d.toDateString();
    const time = d.toLocaleTimeString('en-GB');
    return today ? time : `${d.toLocaleDateString('en-CA')} ${time}`;
  }

  function renderFailover(f, events) {
    const panel = $('failover-panel');
    if (f === null) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const phase = f.phase;
    panel.dataset.phase = phase;
    setText('failover-primary', f.primary);
    const ph = $('failover-phase');
    ph.dataset.phase = phase;
    setText('failover-phase', PHASE_TEXT[phase] || phase);
    const held = f.buffered || { statements: 0, bytes: 0 };
    setText('failover-buffered', held.statements > 0 ? `${fmtInt(held.statements)} (${fmtBytes(held.bytes)})` : '0');
    const s = f.stats || {};
    setText(
      'failover-sub',
      `${plural(s.failovers ?? 0, 'failover')} · ${plural(s.switchovers ?? 0, 'switchover')} · ${fmtInt(s.followed ?? 0)} followed`,
    );
    $('failover-stats').replaceChildren(
      h('dt', null, 'Held (total)'),
      h('dd', null, `${fmtInt(s.buffered_total)} · ${fmtInt(s.buffer_rejected)} rejected`),
      h('dt', null, 'Re-run'),
      h('dd', { title: 'statements re-run transparently · transactions replayed with matching results' }, `${fmtInt(s.retried)} statements · ${fmtInt(s.replayed)} transactions`),
      h('dt', null, 'Client errors'),
      h(
        'dd',
        { class: (s.replay_mismatches ?? 0) + (s.outcome_unknown ?? 0) > 0 ? 'err' : null, title: 'replays with different results · commits with unknown outcome' },
        `${fmtInt(s.replay_mismatches)} replay mismatch${s.replay_mismatches === 1 ? '' : 'es'} · ${plural(s.outcome_unknown ?? 0, 'unknown outcome')}`,
      ),
    );
    const newest = events.slice(-HISTORY_SHOWN).reverse();
    const items = newest.map((e) =>
      h(
        'li',
        { class: 'event', 'data-kind': e.kind },
        h('time', { datetime: e.at, title: e.at }, fmtTime(e.at)),
        h('span', { class: 'event-kind' }, e.kind.replace(/_/g, ' ')),
        h('span', { class: 'event-move' }, e.from === e.to || e.to === null ? e.from ?? '–' : `${e.from ?? '–'} → ${e.to}`),
        h('span', { class: 'event-duration' }, fmtDuration(e.duration_ms)),
        h('span', { class: 'event-detail', title: e.detail }, e.detail),
      ),
    );
    $('failover-history').replaceChildren(...(items.length ? items : [h('li', { class: 'empty' }, 'no event yet')]));
  }

  // ---------- read routing and pins ----------
  function renderRouting(stats, rates) {
    const kv = $('routing-kv');
    const bar = $('split-bar');
    const r = stats.routing;
    if (r === null) {
      bar.hidden = true;
      kv.replaceChildren(h('dt', null, 'Splitting'), h('dd', null, 'off (no replica configured)'));
      return;
    }
    bar.hidden = false;
    let share = null;
    const reads = (rates.replica ?? 0) + (rates.primary ?? 0);
    if (reads > 0) share = rates.replica / reads;
    else if (r.replica_reads + r.primary_reads > 0) share = r.replica_reads / (r.replica_reads + r.primary_reads);
    const [segR, segP] = bar.children;
    segR.style.width = share === null ? '0%' : `${(share * 100).toFixed(1)}%`;
    segP.style.width = share === null ? '0%' : `${((1 - share) * 100).toFixed(1)}%`;
    bar.title = share === null ? 'no reads yet' : `${fmtPct(share)} of reads on replicas (last second)`;
    kv.replaceChildren(
      h('dt', null, 'Replica reads'),
      h('dd', null, `${fmtRate(rates.replica)}/s · ${fmtInt(r.replica_reads)} total`),
      h('dt', null, 'Primary reads'),
      h('dd', null, `${fmtRate(rates.primary)}/s · ${fmtInt(r.primary_reads)} total`),
      h('dt', null, 'GTID waits'),
      h('dd', null, `${fmtInt(r.gtid_waits)} (${fmtInt(r.gtid_wait_timeouts)} timed out)`),
      h('dt', null, 'No replica'),
      h('dd', { title: 'replica-eligible reads sent to the primary because no replica was in service' }, fmtInt(r.no_replica)),
    );
  }

  function renderPins(sessions, stats) {
    const reasons = countReasons(sessions);
    const max = Math.max(1, ...reasons.map(([, n]) => n));
    const rows = reasons.map(([reason, n]) => {
      const fill = h('span');
      fill.style.width = `${((n / max) * 100).toFixed(1)}%`;
      return h('div', { class: 'pin-row', 'data-reason': reason }, h('span', null, reason), h('div', { class: 'pin-bar' }, fill), h('span', { class: 'pin-count' }, fmtInt(n)));
    });
    const totals = Object.entries(stats.pins || {})
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
    $('pins').replaceChildren(
      ...(rows.length ? rows : [h('p', { class: 'empty' }, 'no session is pinned')]),
      h('div', { class: 'pin-total' }, totals.length === 0 ? 'no pin since start' : `pins since start: ${totals.map(([r, n]) => `${r} ${fmtInt(n)}`).join(' · ')}`),
    );
  }

  // ---------- pools ----------
  function renderPools(backends) {
    const scale = Math.max(1, ...backends.map((b) => b.pools.size + b.pools.waiting));
    const pct = (n) => `${((n / scale) * 100).toFixed(2)}%`;
    const rows = backends.map((b) => {
      const p = b.pools;
      const seg = (cls, n) => {
        const s = h('span', { class: cls });
        s.style.width = pct(n);
        return s;
      };
      return h(
        'div',
        { class: 'pool-row', 'data-name': b.name },
        h('span', { class: 'pool-name', title: b.name }, b.name),
        h('div', { class: 'pool-bar', title: `${p.in_use} in use, ${p.idle} idle, ${p.waiting} waiting` }, seg('in-use', p.in_use), seg('idle', p.idle), seg('waiting', p.waiting)),
        h(
          'div',
          { class: 'pool-nums' },
          h('span', null, h('b', { class: 'in-use-n' }, fmtInt(p.in_use)), ' in use'),
          h('span', null, h('b', { class: 'idle-n' }, fmtInt(p.idle)), ' idle'),
          h('span', { class: p.waiting > 0 ? 'warn' : null }, h('b', { class: 'waiting-n' }, fmtInt(p.waiting)), ' waiting'),
        ),
      );
    });
    const legend = h(
      'div',
      { class: 'pool-legend' },
      h('span', null, h('i', { class: 'lg-in-use' }), 'in use'),
      h('span', null, h('i', { class: 'lg-idle' }), 'idle'),
      h('span', null, h('i', { class: 'lg-waiting' }), 'clients waiting'),
    );
    $('pools').replaceChildren(...(rows.length ? rows : [h('p', { class: 'empty' }, 'no backend')]), legend);
  }

  // ---------- digests ----------
  function renderDigests(digests) {
    const panel = $('digests-panel');
    if (digests === null) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const top = [...digests].sort((a, b) => (b.total_ms ?? 0) - (a.total_ms ?? 0)).slice(0, TOP_DIGESTS);
    const rows = top.map((d) =>
      h(
        'tr',
        { 'data-hash': d.hash },
        h('td', { class: 'l stmt', title: d.digest }, d.digest),
        h('td', null, fmtInt(d.count)),
        h('td', null, fmtMs(d.total_ms)),
        h('td', null, fmtMs(d.avg_ms)),
        h('td', null, fmtMs(d.p99_ms)),
        h('td', null, fmtInt(d.rows)),
        h('td', { class: d.errors > 0 ? 'err' : null }, fmtInt(d.errors)),
      ),
    );
    $('digests').replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { class: 'l', colspan: '7' }, 'no statement yet'))]));
  }

  // ---------- status and loop ----------
  function setStatus(ok, message) {
    const el = $('conn-status');
    el.dataset.state = ok ? 'live' : 'error';
    setText('conn-text', ok ? 'live · every 1 s' : message);
    if (ok) setText('updated', `updated ${new Date().toLocaleTimeString('en-GB')}`);
  }

  async function tick() {
    const started = performance.now();
    try {
      await poll();
      setStatus(true);
    } catch (err) {
      setStatus(false, `cannot reach Sluice (${err && err.message ? err.message : err}) · retrying`);
    }
    setTimeout(tick, Math.max(100, POLL_MS - (performance.now() - started)));
  }

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderChart, 100);
  });

  tick();
})();
