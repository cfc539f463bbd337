/**
 * The dashboard's client script, served as /admin/static/dashboard.js (no build step, no CDN). It
 * polls the JSON endpoints under /admin/api and updates the page in place. It writes text only
 * through `textContent` and attributes through `setAttribute`, never `innerHTML`, so nothing a
 * client submitted can become markup here either.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var POLL_MS = 2000;
  var SVG_NS = 'http://www.w3.org/2000/svg';

  function fmtCount(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '\u2014';
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function fmtRate(r) {
    if (r === null || r === undefined || !isFinite(r)) return '\u2014';
    return r < 100 ? r.toFixed(1) + '/s' : fmtCount(r) + '/s';
  }
  function fmtBytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return '\u2014';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }
  function fmtCpu(w) {
    if (w.cpu_percent === null || w.cpu_percent === undefined) return '\u2014';
    return w.cpu_percent.toFixed(1) + ' %' + (w.cpu_cores ? ' \u00b7 ' + w.cpu_cores + ' cores' : '');
  }
  function fmtTime(iso) { return iso ? iso.slice(0, 19).replace('T', ' ') + ' UTC' : '\u2014'; }
  function isLive(status) { return status === 'queued' || status === 'running' || status === 'cancelling'; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function setText(root, selector, text) {
    var nodes = root.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = text;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function updateBar(svg, c) {
    var ended = c.cancelled + c.expired;
    var values = { completed: c.completed, failed: c.failed, ended: ended, running: c.running };
    var x = 0;
    ['completed', 'failed', 'ended', 'running'].forEach(function (seg) {
      var rect = svg.querySelector('[data-seg="' + seg + '"]');
      var w = c.total > 0 ? (values[seg] / c.total) * 100 : 0;
      if (rect) { rect.setAttribute('x', x.toFixed(3)); rect.setAttribute('width', w.toFixed(3)); }
      x += w;
    });
    svg.setAttribute('data-total', c.total);
    svg.setAttribute('data-completed', c.completed);
    svg.setAttribute('data-failed', c.failed);
    svg.setAttribute('data-queued', c.queued);
    svg.setAttribute('data-running', c.running);
    svg.setAttribute('data-ended', ended);
    svg.setAttribute('aria-label', fmtCount(c.completed) + ' completed, ' + fmtCount(c.failed) + ' failed, ' +
      fmtCount(c.queued) + ' queued of ' + fmtCount(c.total));
  }
  function updateProgressText(span, c) {
    clear(span);
    var done = c.completed + c.failed + c.cancelled + c.expired;
    span.appendChild(document.createTextNode(fmtCount(done) + ' / ' + fmtCount(c.total) + ' finished'));
    if (c.failed > 0) {
      span.appendChild(document.createTextNode(' \u00b7 '));
      span.appendChild(el('span', fmtCount(c.failed) + ' failed', 'bad'));
    }
    [['cancelled', c.cancelled], ['expired', c.expired], ['running', c.running], ['queued', c.queued]].forEach(function (p) {
      if (p[1] > 0) span.appendChild(document.createTextNode(' \u00b7 ' + fmtCount(p[1]) + ' ' + p[0]));
    });
  }
  function updateStatus(root, status) {
    var nodes = root.querySelectorAll('[data-field="status"]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = status;
      nodes[i].className = 'badge status-' + status;
    }
  }
  function updateBatchCommon(root, b) {
    updateStatus(root, b.status);
    var bar = root.querySelector('[data-bar]');
    if (bar) updateBar(bar, b.counts);
    var pt = root.querySelector('[data-field="progress-text"]');
    if (pt) updateProgressText(pt, b.counts);
    setText(root, '[data-field="throughput"]', fmtRate(b.throughput_docs_per_s));
    setText(root, '[data-field="eta"]', isLive(b.status) ? fmtDuration(b.eta_s) : '\u2014');
  }

  function sparkPoints(values, width, height) {
    var max = Math.max.apply(null, [1].concat(values));
    var list = values.length ? values : [0, 0];
    var step = list.length > 1 ? width / (list.length - 1) : width;
    return list.map(function (v, i) {
      return (i * step).toFixed(1) + ',' + (height - 2 - (v / max) * (height - 4)).toFixed(1);
    }).join(' ');
  }
  function spark(values, width, height, label) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    var line = document.createElementNS(SVG_NS, 'polyline');
    line.setAttribute('points', sparkPoints(values, width, height));
    svg.appendChild(line);
    return svg;
  }

  function poll(url, onData) {
    var stopped = false;
    var timer = null;
    function tick() {
      timer = null;
      if (stopped) return;
      if (document.hidden) { timer = setTimeout(tick, POLL_MS); return; }
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (res) {
          if (res.status === 401) {
            stopped = true;
            var banner = document.querySelector('[data-field="session-expired"]') || el('p', null, 'error');
            banner.setAttribute('data-field', 'session-expired');
            banner.textContent = 'Your session has ended: reload the page to log in again.';
            document.querySelector('main').prepend(banner);
            return null;
          }
          return res.ok ? res.json() : null;
        })
        .then(function (body) {
          if (body) {
            onData(body);
            document.body.setAttribute('data-updated', String(Date.now()));
          }
        })
        .catch(function () { /* transient: next tick retries */ })
        .then(function () { if (!stopped) timer = setTimeout(tick, POLL_MS); });
    }
    timer = setTimeout(tick, POLL_MS);
    return function () { stopped = true; if (timer) clearTimeout(timer); };
  }

  function renderWorkers(p) {
    var section = document.getElementById('workers');
    if (!section) return;
    setText(section, '[data-field="worker-count"]', p.workers.length + ' connected');
    var total = p.total_docs_per_s;
    setText(section, '[data-field="total-rate"]', fmtRate(p.workers.reduce(function (s, w) { return s + w.docs_per_s_now; }, 0)));
    var minutes = Math.round((total.length * p.bucket_seconds) / 60);
    setText(section, '[data-field="chart-window"]', minutes > 0 ? 'last ' + minutes + ' min' : 'no data yet');
    var chart = section.querySelector('.chart [data-spark] polyline');
    if (chart) chart.setAttribute('points', sparkPoints(total, 240, 48));
    var tbody = section.querySelector('[data-table="workers"] tbody');
    if (!tbody) return;
    clear(tbody);
    if (p.workers.length === 0) {
      var tr0 = el('tr', null, 'empty');
      var td0 = el('td', p.unavailable ? 'Worker status is unavailable: Redis cannot be reached.' :
        'No worker is connected. Start one with npm run start:worker.');
      td0.setAttribute('colspan', '10');
      tr0.appendChild(td0);
      tbody.appendChild(tr0);
      return;
    }
    p.workers.forEach(function (w) {
      var tr = el('tr');
      var id = el('td');
      id.appendChild(el('code', w.id));
      if (w.host) id.appendChild(el('div', w.host, 'muted small'));
      tr.appendChild(id);
      var be = el('td');
      be.appendChild(el('span', w.backend, 'badge backend'));
      tr.appendChild(be);
      tr.appendChild(el('td', w.tasks.join(', ')));
      tr.appendChild(el('td', w.active_jobs + ' / ' + w.concurrency));
      tr.appendChild(el('td', w.tensor_batch_size === null ? '\u2014' : String(w.tensor_batch_size)));
      tr.appendChild(el('td', w.padding_ratio === null ? '\u2014' : (w.padding_ratio * 100).toFixed(1) + ' %'));
      var rate = el('td');
      rate.appendChild(spark(w.docs_per_s, 120, 24, 'documents per second, ' + w.id));
      rate.appendChild(document.createTextNode(' ' + fmtRate(w.docs_per_s_now)));
      rate.appendChild(el('div', fmtCount(w.documents_total) + ' since start', 'muted small'));
      tr.appendChild(rate);
      var cpu = el('td', fmtCpu(w));
      cpu.setAttribute('data-field', 'cpu');
      tr.appendChild(cpu);
      var rss = el('td', fmtBytes(w.rss_bytes));
      rss.setAttribute('data-field', 'rss');
      tr.appendChild(rss);
      tr.appendChild(el('td', fmtTime(w.last_seen)));
      tbody.appendChild(tr);
    });
  }

  function batchesPage() {
    var table = document.querySelector('[data-table="batches"]');
    if (!table) return;
    var url = table.getAttribute('data-poll');
    var firstPage = url.indexOf('after=') === -1;
    poll(url, function (body) {
      var unseen = 0;
      body.data.forEach(function (b) {
        var row = table.querySelector('tr[data-batch-id="' + CSS.escape(b.id) + '"]');
        if (row) updateBatchCommon(row, b);
        else unseen++;
      });
      var notice = document.querySelector('[data-field="new-batches"]');
      if (notice && firstPage && unseen > 0) notice.hidden = false;
    });
    if (document.getElementById('workers')) poll('/admin/api/workers', renderWorkers);
    var backlog = document.querySelector('[data-table="backlog"]');
    if (backlog) poll('/admin/api/backlog', function (body) {
      body.data.forEach(function (r) {
        var row = backlog.querySelector('tr[data-task="' + CSS.escape(r.task) + '"]');
        if (!row) return;
        setText(row, '[data-field="queued"]', fmtCount(r.queued));
        setText(row, '[data-field="running"]', fmtCount(r.running));
        setText(row, '[data-field="batches"]', fmtCount(r.batches));
        var oldest = row.querySelector('[data-field="oldest"]');
        if (oldest) {
          clear(oldest);
          if (!r.oldest_queued_at) oldest.textContent = '\u2014';
          else {
            oldest.appendChild(document.createTextNode(fmtTime(r.oldest_queued_at)));
            oldest.appendChild(el('div', 'waiting ' + fmtDuration((Date.now() - Date.parse(r.oldest_queued_at)) / 1000), 'muted small'));
          }
        }
      });
    });
  }

  function failedRows(tbody, docs) {
    if (!changed(tbody, docs)) return;
    clear(tbody);
    if (docs.length === 0) {
      var tr0 = el('tr', null, 'empty');
      var td0 = el('td', 'No failed documents.');
      td0.setAttribute('colspan', '4');
      tr0.appendChild(td0);
      tbody.appendChild(tr0);
      return;
    }
    docs.forEach(function (d) {
      var tr = el('tr');
      var id = el('td');
      id.appendChild(el('code', d.id));
      id.appendChild(el('div', 'line ' + d.seq, 'muted small'));
      tr.appendChild(id);
      var code = el('td');
      code.appendChild(el('code', d.error ? d.error.code : ''));
      tr.appendChild(code);
      tr.appendChild(el('td', d.error ? d.error.message : '', 'wrap'));
      tr.appendChild(el('td', d.attempts));
      tbody.appendChild(tr);
    });
  }

  function redeliverForm(batchId, d) {
    var form = el('form');
    form.setAttribute('method', 'post');
    form.setAttribute('action', '/admin/batches/' + encodeURIComponent(batchId) + '/webhook_deliveries/' +
      encodeURIComponent(d.id) + '/redeliver');
    form.setAttribute('data-action', 'redeliver');
    form.setAttribute('data-confirm', 'Send ' + d.event_type + ' (' + d.id + ') again to ' + d.url + '?');
    var token = document.querySelector('input[name="_csrf"]');
    var input = el('input');
    input.setAttribute('type', 'hidden');
    input.setAttribute('name', '_csrf');
    input.setAttribute('value', token ? token.getAttribute('value') : '');
    form.appendChild(input);
    var button = el('button', 'Redeliver');
    button.setAttribute('type', 'submit');
    form.appendChild(button);
    return form;
  }

  /**
   * Rebuilds a table body only when its data changed (a click on a button in it is not lost); the
   * server writes the JSON of the data it rendered into data-rendered.
   */
  function changed(tbody, data) {
    var key = JSON.stringify(data);
    if (tbody.getAttribute('data-rendered') === key) return false;
    tbody.setAttribute('data-rendered', key);
    return true;
  }

  function deliveryRows(tbody, list, batchId) {
    if (!changed(tbody, list)) return;
    clear(tbody);
    if (list.length === 0) {
      var tr0 = el('tr', null, 'empty');
      var td0 = el('td', 'No webhook deliveries.');
      td0.setAttribute('colspan', '7');
      tr0.appendChild(td0);
      tbody.appendChild(tr0);
      return;
    }
    list.forEach(function (d) {
      var tr = el('tr');
      tr.setAttribute('data-delivery-id', d.id);
      var ev = el('td');
      ev.appendChild(el('code', d.event_type));
      ev.appendChild(el('div', d.id, 'muted small'));
      tr.appendChild(ev);
      tr.appendChild(el('td', d.url, 'wrap'));
      var st = el('td');
      st.appendChild(el('span', d.status, 'badge delivery-' + d.status));
      tr.appendChild(st);
      tr.appendChild(el('td', d.attempts + (d.last_status_code !== null ? ' (last HTTP ' + d.last_status_code + ')' : '')));
      var err = el('td', d.last_error || '', 'wrap');
      if (d.attempt_log.length) {
        var det = el('details');
        det.appendChild(el('summary', 'attempts'));
        var ol = el('ol');
        d.attempt_log.forEach(function (a) {
          ol.appendChild(el('li', '#' + a.attempt + ' ' + fmtTime(a.at) + ': ' + (a.status_code === null ? 'no response' : a.status_code) +
            ' in ' + a.latency_ms + ' ms' + (a.error ? ' \u00b7 ' + a.error : '')));
        });
        det.appendChild(ol);
        err.appendChild(det);
      }
      tr.appendChild(err);
      tr.appendChild(el('td', d.delivered_at ? 'delivered ' + fmtTime(d.delivered_at) :
        d.next_attempt_at ? 'next ' + fmtTime(d.next_attempt_at) : '\u2014', 'small'));
      var act = el('td');
      act.appendChild(redeliverForm(batchId, d));
      tr.appendChild(act);
      tbody.appendChild(tr);
    });
  }

  function batchPage() {
    var section = document.querySelector('section.batch[data-poll]');
    if (!section) return;
    poll(section.getAttribute('data-poll'), function (body) {
      var b = body.batch;
      updateBatchCommon(section, b);
      Object.keys(b.counts).forEach(function (k) {
        setText(document, '[data-count="' + k + '"]', fmtCount(b.counts[k]));
      });
      setText(section, '[data-field="started_at"]', fmtTime(b.started_at));
      setText(section, '[data-field="finished_at"]', fmtTime(b.finished_at));
      if (b.started_at) {
        var end = b.finished_at ? Date.parse(b.finished_at) : Date.now();
        setText(section, '[data-field="elapsed"]', fmtDuration((end - Date.parse(b.started_at)) / 1000));
      }
      var cancel = section.querySelector('form[data-action="cancel"]');
      if (cancel) cancel.hidden = !body.can_cancel;
      var retry = section.querySelector('form[data-action="retry"]');
      if (retry) retry.hidden = !body.can_retry;
      var failed = document.querySelector('[data-table="failed"] tbody');
      if (failed) failedRows(failed, body.failed_documents);
      var deliveries = document.querySelector('[data-table="deliveries"] tbody');
      if (deliveries) deliveryRows(deliveries, body.webhook_deliveries, section.getAttribute('data-batch-id'));
    });
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  function start() {
    var page = document.body.getAttribute('data-page');
    if (page === 'batches') batchesPage();
    else if (page === 'batch') batchPage();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;
