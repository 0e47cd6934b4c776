/*
 * status.js: the /status page. Reads GET /api/v1/status once a second (the
 * node keeps the last minute of samples, one a second, so the charts are full
 * the moment the page opens) and draws three small charts on canvases:
 * WebSocket connections per shard, deliveries per second, drops per second.
 * No libraries. Rates are the difference of two cumulative samples over their
 * time apart, as Prometheus' rate() would compute them.
 *
 * When the node keeps its status behind the push key the page asks for it and
 * keeps it in sessionStorage (this tab only), sending it as
 * `Authorization: Bearer`. Figures tests read: #connections-total,
 * #deliveries-minute, #drops-minute, #bus, #node; each canvas carries
 * data-points and data-max for what it drew.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var KEY = 'herald.statusKey';
  var PERIOD_MS = 1000;
  var WINDOW_MS = 60000;
  var SHARD_COLORS = ['#1f6feb', '#2e7d32', '#8250df', '#bf5700', '#0a7ea4', '#c2185b', '#6b7580', '#8a6d00'];
  var timer = null;

  function setState(s) { document.body.dataset.state = s; }

  function show(which) {
    $('off').hidden = which !== 'off';
    $('key-form').hidden = which !== 'key';
    $('panels').hidden = which !== 'live';
  }

  async function fetchStatus() {
    var headers = {};
    var key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = 'Bearer ' + key;
    var res = await fetch('api/v1/status', { headers: headers, cache: 'no-store' });
    if (res.status === 404) return { off: true };
    if (res.status === 401) return { key: true, refused: !!key };
    if (!res.ok) throw new Error('HTTP ' + res.status);
    return res.json();
  }

  // Points [t, v] of the rate of counter `pick` between consecutive samples.
  function rates(samples, pick) {
    var out = [];
    for (var i = 1; i < samples.length; i++) {
      var dt = (samples[i].t - samples[i - 1].t) / 1000;
      if (dt <= 0) continue;
      out.push([samples[i].t, Math.max(0, pick(samples[i]) - pick(samples[i - 1])) / dt]);
    }
    return out;
  }

  function lastMinute(samples, pick) {
    if (samples.length < 2) return 0;
    return pick(samples[samples.length - 1]) - pick(samples[0]);
  }

  // 1, 2, 5 x 10^n at or above v (at least 1), for the chart's top line.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  function label(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + 'k';
    return String(Math.round(v * 10) / 10);
  }

  // Draws `series` ([{color, points:[[t, v]...]}]) over the minute before
  // `now`; `whole`: the values are counts, so no gridline at a fraction.
  function draw(canvas, series, now, whole) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 300;
    var h = canvas.clientHeight || 150;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var left = 40, right = 6, top = 6, bottom = 16;
    var max = 0, points = 0;
    series.forEach(function (s) {
      s.points.forEach(function (p) { if (p[1] > max) max = p[1]; points++; });
    });
    var yMax = niceMax(max);
    var x = function (t) { return left + (w - left - right) * (1 - (now - t) / WINDOW_MS); };
    var y = function (v) { return top + (h - top - bottom) * (1 - v / yMax); };
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#6b7580';
    ctx.strokeStyle = '#e3e6ea';
    ctx.lineWidth = 1;
    for (var i = 0; i <= 2; i++) {
      var v = yMax * i / 2;
      if (whole && v !== Math.floor(v)) continue;
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(w - right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(label(v), left - 4, y(v));
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText('-60 s', left, h - 3);
    ctx.textAlign = 'right';
    ctx.fillText('now', w - right, h - 3);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, 0, w - left - right, h);
    ctx.clip();
    series.forEach(function (s) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      s.points.forEach(function (p, j) {
        if (j === 0) ctx.moveTo(x(p[0]), y(p[1])); else ctx.lineTo(x(p[0]), y(p[1]));
      });
      ctx.stroke();
    });
    ctx.restore();
    canvas.dataset.points = String(points);
    canvas.dataset.max = String(max);
  }

  function describeBus(bus) {
    if (!bus.enabled) return { text: 'standalone (no --bus)', cls: '' };
    if (!bus.connected) return { text: 'NATS unreachable: serving local receivers only (reconnects so far: ' + bus.reconnects + ')', cls: 'bad' };
    return { text: 'connected to NATS, ' + bus.fleet_nodes + ' node' + (bus.fleet_nodes === 1 ? '' : 's') + ' in the fleet', cls: 'good' };
  }

  function render(st) {
    var all = st.samples || [];
    var now = all.length ? all[all.length - 1].t : Date.now();
    var samples = all.filter(function (s) { return s.t >= now - WINDOW_MS; });
    var latest = samples[samples.length - 1];
    $('node').textContent = st.node;
    $('version').textContent = st.version;
    $('commit').textContent = st.commit;
    $('build').textContent = 'herald ' + st.version + ', commit ' + st.commit;
    $('updated').textContent = latest ? 'updated ' + new Date(latest.t).toLocaleTimeString() : 'collecting the first sample';
    $('ready').textContent = st.ready ? 'yes' : 'no: draining (SIGTERM)';
    $('ready').className = st.ready ? 'good' : 'bad';
    var bus = describeBus(st.bus);
    $('bus').textContent = bus.text;
    $('bus').className = bus.cls;
    $('started').textContent = new Date(st.started_ms).toLocaleString();

    var shards = latest ? latest.connections.length : 0;
    var connSeries = [];
    var legend = $('connections-legend');
    legend.textContent = '';
    for (var i = 0; i < shards; i++) {
      var color = SHARD_COLORS[i % SHARD_COLORS.length];
      connSeries.push({ color: color, points: samples.map(function (s) { return [s.t, s.connections[i] || 0]; }) });
      var li = document.createElement('li');
      var sw = document.createElement('i');
      sw.style.background = color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode('shard ' + i + ': ' + latest.connections[i]));
      li.dataset.shard = String(i);
      legend.appendChild(li);
    }
    var total = latest ? latest.connections.reduce(function (a, b) { return a + b; }, 0) : 0;
    $('connections-total').textContent = String(total);
    $('connections-now').textContent = String(total);
    $('held').textContent = latest ? latest.polls + ' / ' + latest.sse : '';
    draw($('connections-chart'), connSeries, now, true);

    var delivered = function (s) { return s.delivered; };
    var deliveries = rates(samples, delivered);
    draw($('deliveries-chart'), [{ color: '#1f6feb', points: deliveries }], now);
    $('deliveries-now').textContent = deliveries.length ? label(deliveries[deliveries.length - 1][1]) + '/s' : '';
    $('deliveries-minute').textContent = String(lastMinute(samples, delivered));

    var slow = function (s) { return s.dropped.slow_consumer; };
    var closed = function (s) { return s.dropped.closed; };
    var both = function (s) { return slow(s) + closed(s); };
    var dropRates = rates(samples, both);
    draw($('drops-chart'), [{ color: '#b3261e', points: rates(samples, slow) }, { color: '#8a6d00', points: rates(samples, closed) }], now);
    $('drops-now').textContent = dropRates.length ? label(dropRates[dropRates.length - 1][1]) + '/s' : '';
    $('drops-minute').textContent = String(lastMinute(samples, both));
  }

  async function tick() {
    timer = null;
    try {
      var st = await fetchStatus();
      if (st.off) { show('off'); setState('off'); return; }  // nothing will change without a restart
      if (st.key) {
        show('key');
        setState('key');
        $('key-error').textContent = st.refused ? 'That key was refused.' : '';
        return;  // polling resumes when a key is given
      }
      show('live');
      render(st);
      setState('live');
      document.body.dataset.ready = '1';
    } catch (e) {
      setState('stale');
      $('updated').textContent = 'cannot reach herald (' + e.message + '); retrying';
    }
    timer = setTimeout(tick, PERIOD_MS);
  }

  $('key-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key').value);
    $('key').value = '';
    if (timer) clearTimeout(timer);
    tick();
  });
  window.addEventListener('resize', function () { if (timer) { clearTimeout(timer); tick(); } });

  tick();
})();
