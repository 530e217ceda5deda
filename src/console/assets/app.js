/*
 * The graykit console's page. Plain JavaScript, no build step, no framework: it keeps one live stream to the
 * console (server-sent events pushed from ZooKeeper watches and metrics scrapes) and renders two views, the
 * services and one service.
 *
 * Everything shown comes from the registry, where anyone who can write a znode can put any text: it is always set
 * with textContent (the `h` helper below), never parsed as HTML. Writes send the token in a header; the token
 * comes from the URL's fragment (never sent to a server) or the operator, and lives in sessionStorage only.
 */
(function () {
  'use strict';

  var LANE_COLOR = { gray: '#d97706', normal: '#2563eb' };
  var RATIO_COLOR = '#475569';
  var TOKEN_KEY = 'graykit-console-token';
  var MAX_EVENTS_SHOWN = 200;

  var state = {
    about: null,
    connection: null,
    ready: false,
    streamOk: true,
    helloSeen: false,
    services: [],
    service: null,
    route: { view: 'services' },
  };
  var view = null;
  var source = null;
  var firstRenderMarked = false;

  // ---------------------------------------------------------------------------------------------------------
  // DOM helpers: text is always text.

  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      for (var key in props) {
        var value = props[key];
        if (value === undefined || value === null || value === false) continue;
        if (key === 'text') el.textContent = String(value);
        else if (key === 'className') el.className = value;
        else if (key === 'on') for (var type in value) el.addEventListener(type, value[type]);
        else if (key === 'dataset') for (var d in value) el.dataset[d] = value[d];
        else if (key === 'hidden' || key === 'disabled' || key === 'checked') el[key] = Boolean(value);
        else if (key === 'value') el.value = value;
        else el.setAttribute(key, String(value));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else if (typeof child === 'object' && child.nodeType) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }

  function setText(el, text) {
    text = text === null || text === undefined ? '' : String(text);
    if (el.textContent !== text) el.textContent = text;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function $(id) {
    return document.getElementById(id);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Formatting

  function pct(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return '–';
    var d = digits === undefined ? (Math.abs(value) >= 10 || value === 0 ? 0 : 1) : digits;
    return value.toFixed(d).replace(/\.0+$/, '') + ' %';
  }
  function ratioText(ratio) {
    return ratio === null || ratio === undefined ? 'unset' : pct(ratio, 2);
  }
  function rate(value) {
    if (value === null || value === undefined) return '–';
    return (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) + '/s';
  }
  function ms(value) {
    if (value === null || value === undefined) return '–';
    return (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + ' ms';
  }
  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }
  function clock(t) {
    var d = new Date(t);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function when(t) {
    if (!t) return '–';
    var d = new Date(t);
    var today = new Date();
    var sameDay = d.toDateString() === today.toDateString();
    return (sameDay ? '' : d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ') + clock(t);
  }
  function duration(msValue) {
    var s = Math.max(0, Math.round(msValue / 1000));
    if (s < 90) return s + ' s';
    if (s < 5400) return Math.round(s / 60) + ' min';
    return Math.round(s / 3600) + ' h';
  }
  function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
  }

  // ---------------------------------------------------------------------------------------------------------
  // Token: from the fragment (#token=…), kept for this tab only.

  function takeTokenFromFragment() {
    var match = /^#token=([^&]+)/.exec(location.hash);
    if (!match) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    } catch (e) {
      /* storage refused: the dialog will ask */
    }
    history.replaceState(null, '', location.pathname + location.search + '#/');
  }
  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }
  function setToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* ignore */
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Routing and the live stream

  function parseRoute() {
    var match = /^#\/services\/([^/?#]+)/.exec(location.hash);
    if (match) {
      try {
        return { view: 'service', name: decodeURIComponent(match[1]) };
      } catch (e) {
        return { view: 'services' };
      }
    }
    return { view: 'services' };
  }

  function serviceHref(name) {
    return '#/services/' + encodeURIComponent(name);
  }

  function onRoute() {
    var route = parseRoute();
    var same = route.view === state.route.view && route.name === state.route.name;
    state.route = route;
    if (same && source) return;
    if (view && view.destroy) view.destroy();
    view = null;
    state.service = null;
    var main = $('main');
    clear(main);
    main.appendChild(h('p', { className: 'loading', text: 'Loading…' }));
    renderCrumbs();
    connect();
  }

  function connect() {
    if (source) source.close();
    var url = 'api/stream' + (state.route.view === 'service' ? '?service=' + encodeURIComponent(state.route.name) : '');
    var es = new EventSource(url);
    source = es;
    es.addEventListener('open', function () {
      if (source !== es) return;
      state.streamOk = true;
      renderBanner();
    });
    es.addEventListener('error', function () {
      if (source !== es) return;
      state.streamOk = false;
      renderBanner();
    });
    es.addEventListener('hello', function (event) {
      if (source !== es) return;
      onHello(JSON.parse(event.data));
    });
    es.addEventListener('overview', function (event) {
      if (source !== es) return;
      var data = JSON.parse(event.data);
      state.connection = data.connection;
      state.ready = data.ready;
      state.services = data.services;
      renderChrome();
      if (view && view.onServices) timed('overview', state.services.length, function () { view.onServices(); });
    });
    es.addEventListener('connection', function (event) {
      if (source !== es) return;
      state.connection = JSON.parse(event.data);
      renderChrome();
    });
    es.addEventListener('service', function (event) {
      if (source !== es || !state.service) return;
      var data = JSON.parse(event.data);
      applyServiceUpdate(data);
      if (view && view.onService) timed('update', state.service.instances.size, function () { view.onService(data); });
    });
    es.addEventListener('metrics', function (event) {
      if (source !== es || !state.service) return;
      var point = JSON.parse(event.data);
      var metrics = state.service.metrics;
      metrics.push(point);
      var from = point.t - (state.about ? state.about.historyMs : 300000);
      while (metrics.length > 0 && metrics[0].t < from) metrics.shift();
      if (view && view.onMetrics) view.onMetrics();
    });
  }

  /** Runs a render and records how long it took, for the operator's profiler and the console's own tests. */
  function timed(kind, instances, render) {
    var start = performance.now();
    render();
    try {
      performance.measure('graykit:render', { start: start, end: performance.now(), detail: { kind: kind, instances: instances } });
    } catch (e) {
      /* an old browser without measure details */
    }
  }

  function onHello(data) {
    state.helloSeen = true;
    state.about = data.console;
    state.connection = data.connection;
    state.ready = data.ready;
    state.services = data.services;
    if (data.service) {
      var s = data.service;
      state.service = {
        name: s.name,
        exists: s.exists,
        summary: s.detail ? s.detail.summary : null,
        config: s.detail ? s.detail.config : null,
        instances: new Map(),
        events: s.events || [],
        metrics: s.metrics || [],
      };
      if (s.detail) s.detail.instances.forEach(function (i) { state.service.instances.set(i.id, i); });
    }
    renderChrome();
    if (view && view.destroy) view.destroy();
    var main = $('main');
    clear(main);
    timed('hello', state.service ? state.service.instances.size : state.services.length, function () {
      view = state.route.view === 'service' ? serviceView(main) : servicesView(main);
    });
    if (!firstRenderMarked) {
      firstRenderMarked = true;
      performance.mark('graykit:first-render');
    }
  }

  function applyServiceUpdate(data) {
    var s = state.service;
    s.exists = data.exists;
    if (data.reset) {
      s.instances.clear();
      s.summary = null;
      s.config = null;
    }
    if (data.summary) s.summary = data.summary;
    if (data.config) s.config = data.config;
    (data.remove || []).forEach(function (id) { s.instances.delete(id); });
    (data.upsert || []).forEach(function (i) { s.instances.set(i.id, i); });
    if (data.events && data.events.length) {
      s.events = s.events.concat(data.events);
      if (s.events.length > MAX_EVENTS_SHOWN) s.events = s.events.slice(-MAX_EVENTS_SHOWN);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Chrome: top bar, banner

  function renderCrumbs() {
    var crumbs = $('crumbs');
    clear(crumbs);
    if (state.route.view === 'service') {
      crumbs.appendChild(h('a', { href: '#/', text: 'Services' }));
      crumbs.appendChild(h('span', { 'aria-hidden': 'true', text: '/' }));
      crumbs.appendChild(h('span', { className: 'current', text: state.route.name }));
    } else {
      crumbs.appendChild(h('span', { className: 'current', text: 'Services' }));
    }
  }

  function renderChrome() {
    var about = state.about;
    if (about) {
      setText($('registry'), about.zk + ' ' + about.root);
      var mode = $('mode');
      setText(mode, about.readOnly ? 'read-only' : token() ? 'writes enabled' : 'writes need the token');
      mode.className = 'pill' + (about.readOnly ? ' readonly' : '');
      mode.title = about.readOnly ? 'This console serves no write endpoint' : 'Writes are sent with the console token';
    }
    var conn = $('conn');
    var c = state.connection;
    var connected = c && c.state === 'connected';
    conn.className = 'conn ' + (c ? c.state : 'connecting');
    setText(conn.querySelector('.conn-text'), !c ? 'connecting…' : connected ? 'ZooKeeper connected' : c.state === 'connecting' ? 'connecting…' : 'ZooKeeper unreachable');
    renderBanner();
  }

  function renderBanner() {
    var banner = $('banner');
    var c = state.connection;
    var text = '';
    var warn = false;
    if (!state.streamOk) {
      text = 'Lost the connection to the console; reconnecting… Showing the last known state.';
    } else if (c && c.state === 'disconnected') {
      text = 'ZooKeeper is unreachable since ' + clock(c.since) + ' (' + duration(Date.now() - c.since) + ')' + (c.reason ? ': ' + c.reason : '') +
        '. Showing the last known state; changes will appear once it is back.';
    } else if (c && c.state === 'connecting' && !state.ready) {
      text = 'Connecting to ZooKeeper at ' + (state.about ? state.about.zk : '…') + ' since ' + clock(c.since) + '…';
      warn = true;
    }
    banner.hidden = text === '';
    banner.className = 'banner' + (warn ? ' warn' : '');
    setText(banner, text);
  }

  setInterval(function () {
    if (state.connection && state.connection.state !== 'connected') renderBanner();
  }, 1000);

  // ---------------------------------------------------------------------------------------------------------
  // Services view

  function rolloutCell(summary) {
    var r = summary.rollout;
    if (summary.rolloutError) return h('span', { className: 'state unknown', title: summary.rolloutError, text: 'unreadable' });
    if (!r) return h('span', { className: 'state none', text: '—' });
    var of = r.steps.length;
    if (r.status === 'running') return h('span', null, h('span', { className: 'state running', text: 'running' }), ' step ' + r.step + '/' + of + (r.ratio !== null ? ' · ' + pct(r.ratio) : ''));
    if (r.status === 'crashed') return h('span', null, h('span', { className: 'state crashed', text: 'crashed' }), ' at step ' + r.step + '/' + of);
    return h('span', null, h('span', { className: 'faint', text: 'last: ' }), h('span', { className: 'state ' + r.state, text: r.state }), r.updatedAt ? ' ' + when(r.updatedAt) : '');
  }

  function ratioBar(ratio) {
    var value = ratio === null || ratio === undefined ? 0 : ratio;
    return h(
      'div',
      { className: 'ratio-bar', title: ratio === null ? 'No ratio in the config: consumers use their local ratio' : 'gray share configured: ' + pct(ratio, 2) },
      h('div', { className: 'track' }, h('div', { className: 'fill' })),
      h('span', { className: 'value', text: ratioText(ratio) }),
    );
  }

  function setRatioBar(bar, ratio) {
    var fill = bar.querySelector('.fill');
    fill.style.width = (ratio === null || ratio === undefined ? 0 : Math.max(0, Math.min(100, ratio))) + '%';
    setText(bar.querySelector('.value'), ratioText(ratio));
  }

  function versionsCell(summary) {
    var cell = h('span');
    summary.versions.gray.forEach(function (v) { cell.appendChild(h('span', { className: 'version-gray', title: 'gray lane', text: v })); cell.appendChild(document.createTextNode(' ')); });
    if (summary.versions.gray.length && summary.versions.normal.length) cell.appendChild(h('span', { className: 'faint', text: '· ' }));
    summary.versions.normal.forEach(function (v) { cell.appendChild(h('span', { className: 'version-normal', title: 'normal lane', text: v })); cell.appendChild(document.createTextNode(' ')); });
    if (!summary.versions.gray.length && !summary.versions.normal.length) cell.appendChild(h('span', { className: 'faint', text: '–' }));
    return cell;
  }

  function countsCell(summary) {
    return h(
      'span',
      null,
      h('span', { className: 'count gray', title: 'gray instances', text: String(summary.gray) }),
      h('span', { className: 'count normal', title: 'normal instances', text: String(summary.normal) }),
      summary.invalid ? h('span', { className: 'count invalid', title: 'instances with invalid data (not routed)', text: String(summary.invalid) }) : null,
      (summary.lanes || []).map(function (l) {
        return h('span', { className: 'count named-lane', dataset: { lane: l.lane }, title: 'lane ' + l.lane + ': ' + l.instances + ' instance(s), share ' + pct(l.share, 2), text: l.lane + ' ' + l.instances + ' · ' + pct(l.share, 2) });
      }),
    );
  }

  function servicesView(main) {
    var filter = h('input', { type: 'search', placeholder: 'Filter services', 'aria-label': 'Filter services' });
    var count = h('span', { className: 'muted' });
    var tbody = h('tbody');
    var empty = h('p', { className: 'empty' });
    var table = h(
      'table',
      { className: 'services' },
      h('thead', null, h('tr', null, h('th', { text: 'Service' }), h('th', { text: 'Ratio' }), h('th', { text: 'Instances' }), h('th', { className: 'opt', text: 'Versions' }), h('th', { className: 'opt num', text: 'Config' }), h('th', { text: 'Rollout' }))),
      tbody,
    );
    main.appendChild(h('div', { className: 'toolbar' }, h('h1', { text: 'Services' }), count, filter));
    main.appendChild(h('div', { className: 'card' }, h('div', { className: 'table-wrap' }, table), empty));
    var rows = new Map();
    filter.addEventListener('input', render);

    function makeRow(summary) {
      var link = h('a', { href: serviceHref(summary.service), text: summary.service });
      var row = h('tr', { dataset: { service: summary.service } }, h('td', { className: 'name' }, link), h('td', { className: 'ratio' }, ratioBar(summary.ratio)), h('td', { className: 'counts' }), h('td', { className: 'versions opt' }), h('td', { className: 'config opt num' }), h('td', { className: 'rollout' }));
      row.addEventListener('click', function (event) {
        if (event.target.closest('a')) return;
        location.hash = serviceHref(summary.service);
      });
      return { row: row, key: '' };
    }

    function render() {
      var q = filter.value.trim().toLowerCase();
      var seen = new Set();
      var shown = 0;
      var order = [];
      state.services.forEach(function (summary) {
        seen.add(summary.service);
        var entry = rows.get(summary.service);
        if (!entry) {
          entry = makeRow(summary);
          rows.set(summary.service, entry);
        }
        var key = JSON.stringify(summary);
        if (entry.key !== key) {
          entry.key = key;
          var cells = entry.row.children;
          setRatioBar(cells[1].firstChild, summary.ratio);
          clear(cells[2]);
          cells[2].appendChild(countsCell(summary));
          clear(cells[3]);
          cells[3].appendChild(versionsCell(summary));
          setText(cells[4], summary.configVersion === -1 ? 'none' : 'v' + summary.configVersion);
          cells[4].className = 'config opt num' + (summary.configError ? ' bad-text' : '');
          cells[4].title = summary.configError ? 'invalid: ' + summary.configError : '';
          clear(cells[5]);
          cells[5].appendChild(rolloutCell(summary));
        }
        var visible = !q || summary.service.indexOf(q) !== -1;
        entry.row.hidden = !visible;
        if (visible) shown++;
        order.push(entry.row);
      });
      rows.forEach(function (entry, name) {
        if (!seen.has(name)) {
          entry.row.remove();
          rows.delete(name);
        }
      });
      var current = tbody.children;
      var inOrder = current.length === order.length && order.every(function (row, i) { return current[i] === row; });
      if (!inOrder) {
        var fragment = document.createDocumentFragment();
        order.forEach(function (row) { fragment.appendChild(row); });
        tbody.appendChild(fragment);
      }
      setText(count, plural(state.services.length, 'service') + (q ? ', ' + shown + ' shown' : ''));
      var root = state.about ? state.about.root : '';
      empty.hidden = state.services.length > 0;
      setText(empty, state.ready ? 'No service is registered under ' + root + '/services yet. Providers appear here as they register.' : 'Waiting for the registry…');
      table.hidden = state.services.length === 0;
    }

    render();
    return { onServices: render };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Charts (uPlot)

  // Each lane of a point charted (normal, gray, then every lane the service's instances are in: the console picks
  // and caps them), and the lanes past the cap summed as one series. Its key '' is no lane name.
  var OTHER_KEY = '';
  var NAMED_LANE_COLORS = ['#16a34a', '#9333ea', '#db2777', '#0891b2', '#65a30d', '#b91c1c'];
  var OTHER_COLOR = '#94a3b8';

  function chartLanes(p) {
    var lanes = p.lanes ? p.lanes.slice() : [Object.assign({ lane: 'normal' }, p.normal), Object.assign({ lane: 'gray' }, p.gray)];
    if (p.other) lanes.push(Object.assign({}, p.other, { lane: OTHER_KEY }));
    return lanes;
  }

  function laneOf(p, key) {
    var lanes = chartLanes(p);
    for (var i = 0; i < lanes.length; i++) if (lanes[i].lane === key) return lanes[i];
    return null;
  }

  /** The series' lanes, from the newest point: key, label and colour of each. */
  function seriesLanes(last) {
    var named = 0;
    return chartLanes(last).map(function (l) {
      if (l.lane === OTHER_KEY) return { key: OTHER_KEY, label: 'other (' + l.lanes.length + ' lanes)', color: OTHER_COLOR };
      var color = LANE_COLOR[l.lane] || NAMED_LANE_COLORS[named++ % NAMED_LANE_COLORS.length];
      return { key: l.lane, label: l.lane, color: color };
    });
  }

  function laneValue(key, pick) {
    return function (p) {
      var lane = laneOf(p, key);
      return lane ? pick(lane) : null;
    };
  }

  function nowText(p, format) {
    return chartLanes(p).map(function (l) { return (l.lane === OTHER_KEY ? 'other' : l.lane) + ' ' + format(l); }).join(' · ');
  }

  function errorPct(l) { return l.errorRate === null ? null : l.errorRate * 100; }

  var CHARTS = [
    {
      id: 'rps',
      title: 'Requests per second',
      series: function (lanes) { return lanes.map(function (l) { return { label: l.label, lane: l.key, color: l.color, value: laneValue(l.key, function (x) { return x.rps; }) }; }); },
      axis: function (v) { return v === null ? '' : v >= 1000 ? (v / 1000).toFixed(1) + 'k' : String(+v.toFixed(1)); },
      now: function (p) { return nowText(p, function (l) { return rate(l.rps); }); },
      min: 0,
    },
    {
      id: 'errors',
      title: 'Error rate',
      series: function (lanes) { return lanes.map(function (l) { return { label: l.label, lane: l.key, color: l.color, value: laneValue(l.key, errorPct) }; }); },
      axis: function (v) { return v === null ? '' : +v.toFixed(2) + ' %'; },
      now: function (p) { return nowText(p, function (l) { return pct(errorPct(l), 2); }); },
      min: 0,
      softMax: 1,
    },
    {
      id: 'latency',
      title: 'Latency p50 / p99',
      series: function (lanes) {
        var series = [];
        lanes.forEach(function (l) {
          series.push({ label: l.label + ' p50', lane: l.key, color: l.color, value: laneValue(l.key, function (x) { return x.p50; }) });
          series.push({ label: l.label + ' p99', lane: l.key, color: l.color, dash: [5, 4], value: laneValue(l.key, function (x) { return x.p99; }) });
        });
        return series;
      },
      axis: function (v) { return v === null ? '' : +v.toFixed(1) + ' ms'; },
      now: function (p) { return 'p99 ' + nowText(p, function (l) { return ms(l.p99); }); },
      min: 0,
    },
    {
      id: 'share',
      title: 'Gray share vs ratio',
      series: function () {
        return [
          { label: 'gray share', color: LANE_COLOR.gray, value: function (p) { return p.grayShare === null ? null : p.grayShare * 100; } },
          { label: 'configured ratio', color: RATIO_COLOR, dash: [6, 4], step: true, value: function (p) { return p.ratio; } },
        ];
      },
      axis: function (v) { return v === null ? '' : +v.toFixed(0) + ' %'; },
      now: function (p) { return 'gray ' + pct(p.grayShare === null ? null : p.grayShare * 100) + ' · ratio ' + ratioText(p.ratio); },
      min: 0,
      max: 100,
    },
  ];

  function chartCard(spec) {
    var now = h('span', { className: 'now' });
    var box = h('div', { className: 'chart-box' });
    var emptyNote = h('div', { className: 'chart-empty' });
    box.appendChild(emptyNote);
    var legend = h('div', { className: 'legend' });
    var card = h('section', { className: 'card chart', dataset: { chart: spec.id } }, h('h2', { text: spec.title }), now, box, legend);
    var plot = null;
    var resize = null;
    var series = [];
    var seriesKey = null;

    // The series follow the newest point's lanes: when they change, the legend and the plot are made afresh.
    function setSeries(points) {
      var last = points[points.length - 1];
      var lanes = last ? seriesLanes(last) : seriesLanes({ gray: null, normal: null });
      var key = lanes.map(function (l) { return l.key + ':' + l.label; }).join('\n');
      if (key === seriesKey) return;
      seriesKey = key;
      series = spec.series(lanes);
      clear(legend);
      series.forEach(function (s) {
        var swatch = h('span', { className: 'swatch' + (s.dash ? ' dashed' : '') });
        if (s.dash) swatch.style.borderColor = s.color;
        else swatch.style.background = s.color;
        legend.appendChild(h('span', { className: 'key', dataset: s.lane === undefined ? undefined : { lane: s.lane } }, swatch, s.label));
      });
      destroyPlot();
    }

    function data(points) {
      var columns = [points.map(function (p) { return p.t / 1000; })];
      series.forEach(function (s) { columns.push(points.map(s.value)); });
      return columns;
    }

    function ensurePlot(points) {
      if (plot || typeof uPlot === 'undefined') return;
      var width = Math.max(200, box.clientWidth);
      plot = new uPlot(
        {
          width: width,
          height: 190,
          legend: { show: false },
          cursor: { y: false, points: { size: 6 } },
          padding: [8, 24, 0, 0],
          scales: {
            x: { time: true },
            y: {
              range: function (u, dataMin, dataMax) {
                var lo = spec.min === undefined ? dataMin : spec.min;
                var hi = spec.max !== undefined ? spec.max : Math.max(dataMax === null ? 0 : dataMax * 1.15, spec.softMax || 0, lo + 1e-9);
                if (!(hi > lo)) hi = lo + 1;
                return [lo, hi];
              },
            },
          },
          axes: [
            { stroke: '#64748b', space: 72, grid: { stroke: '#f1f5f9' }, ticks: { stroke: '#e2e8f0' }, values: function (u, values) { return values.map(function (v) { return clock(v * 1000); }); } },
            { stroke: '#64748b', size: 58, grid: { stroke: '#f1f5f9' }, ticks: { stroke: '#e2e8f0' }, values: function (u, values) { return values.map(spec.axis); } },
          ],
          series: [{}].concat(
            series.map(function (s) {
              return { label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: false }, paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined, spanGaps: false };
            }),
          ),
        },
        data(points),
        box,
      );
      resize = new ResizeObserver(function () {
        if (plot && box.clientWidth > 0) plot.setSize({ width: box.clientWidth, height: 190 });
      });
      resize.observe(box);
    }

    function destroyPlot() {
      if (resize) resize.disconnect();
      resize = null;
      if (plot) plot.destroy();
      plot = null;
    }

    setSeries([]);
    return {
      card: card,
      update: function (points, emptyText) {
        var last = points[points.length - 1];
        setSeries(points);
        setText(now, last ? spec.now(last) : '');
        emptyNote.hidden = points.length > 0;
        setText(emptyNote, emptyText);
        if (points.length === 0 && !plot) return;
        ensurePlot(points);
        if (plot) plot.setData(data(points));
      },
      destroy: destroyPlot,
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Service view

  function stat(label, className) {
    var value = h('div', { className: 'value' });
    var sub = h('div', { className: 'sub' });
    return { el: h('div', { className: 'stat ' + (className || '') }, h('div', { className: 'label', text: label }), value, sub), value: value, sub: sub };
  }

  function serviceView(main) {
    var s = state.service;
    var readOnly = state.about && state.about.readOnly;
    var stats = {
      ratio: stat('Ratio'),
      share: stat('Gray share', 'gray'),
      gray: stat('Gray', 'gray'),
      normal: stat('Normal', 'normal'),
      config: stat('Config'),
    };
    var missing = h('p', { className: 'empty', hidden: true });
    var head = h(
      'div',
      { className: 'service-head' },
      h('h1', { text: s.name }),
      h('div', { className: 'stats' }, stats.ratio.el, stats.share.el, stats.gray.el, stats.normal.el, stats.config.el),
    );

    // Actions
    var actionsCard = h('section', { className: 'card actions' });
    var ratioEdit = { dirty: false, baseVersion: null, baseRatio: null };
    var range = h('input', { type: 'range', min: '0', max: '100', step: '1', 'aria-label': 'ratio' });
    var number = h('input', { type: 'number', min: '0', max: '100', step: 'any', 'aria-label': 'ratio (number)' });
    var setRatioButton = h('button', { type: 'button', className: 'btn primary', text: 'Set ratio…', dataset: { action: 'ratio' } });
    var resetRatio = h('button', { type: 'button', className: 'btn small', text: 'Reset', title: 'Start again from the current config' });
    var ratioNote = h('div', { className: 'muted' });
    var promoteButton = h('button', { type: 'button', className: 'btn good', text: 'Promote…', dataset: { action: 'promote' } });
    var rollbackButton = h('button', { type: 'button', className: 'btn danger', text: 'Roll back…', dataset: { action: 'rollback' } });
    if (readOnly) {
      actionsCard.appendChild(h('h2', { text: 'Actions' }));
      actionsCard.appendChild(h('p', { className: 'readonly-note', text: 'This console is read-only: it serves no write endpoint. Use graykit console without --read-only to steer.' }));
    } else {
      actionsCard.appendChild(h('div', { className: 'card-head' }, h('h2', { text: 'Ratio' }), ratioNote));
      actionsCard.appendChild(h('div', { className: 'ratio-control' }, range, number, setRatioButton, resetRatio));
      actionsCard.appendChild(h('h2', { text: 'Release' }));
      actionsCard.appendChild(h('div', { className: 'action-row' }, promoteButton, rollbackButton));
    }

    function beginEdit() {
      if (!ratioEdit.dirty) {
        ratioEdit.dirty = true;
        ratioEdit.baseVersion = s.config ? s.config.version : -1;
        ratioEdit.baseRatio = s.config && s.config.config.ratio !== undefined ? s.config.config.ratio : null;
      }
    }
    range.addEventListener('input', function () {
      beginEdit();
      number.value = range.value;
      renderRatioNote();
    });
    number.addEventListener('input', function () {
      beginEdit();
      range.value = number.value;
      renderRatioNote();
    });
    resetRatio.addEventListener('click', function () {
      ratioEdit.dirty = false;
      syncRatioControl();
    });
    setRatioButton.addEventListener('click', function () {
      beginEdit();
      var ratio = Number(number.value);
      if (number.value === '' || !isFinite(ratio) || ratio < 0 || ratio > 100) {
        toast('The ratio is a number from 0 to 100.', true);
        return;
      }
      var base = ratioEdit.baseVersion;
      confirmAction({
        title: 'Set the ratio of ' + s.name + ' to ' + pct(ratio, 2) + '?',
        body: [
          'Consumers send ' + pct(ratio, 2) + ' of requests to the gray lane (now ' + ratioText(ratioEdit.baseRatio) + ').',
          'Written as a compare-and-set on config version ' + (base === -1 ? 'none' : 'v' + base) + ': if the config changed since, nothing is written.',
        ],
        confirm: 'Set ratio',
        run: function (tok) {
          return post('api/services/' + encodeURIComponent(s.name) + '/ratio', { ratio: ratio, expectedVersion: base }, tok);
        },
        done: function (result) {
          ratioEdit.dirty = false;
          syncRatioControl();
          return 'Ratio set to ' + pct(ratio, 2) + ' (config v' + result.version + ').';
        },
        failed: function (error) {
          if (error.code === 'ERR_GRAYKIT_CONFLICT') {
            ratioEdit.dirty = false;
            syncRatioControl();
          }
        },
      });
    });
    promoteButton.addEventListener('click', function () {
      var gray = grayIds();
      confirmAction({
        title: 'Promote ' + s.name + '?',
        body: [
          gray.length ? plural(gray.length, 'gray instance') + ' become formal (an override gray=false each): ' + listIds(gray) + '.' : 'No instance is gray now: nothing is promoted.',
          'Then the ratio returns to 0 for the next release. The same as graykit promote.',
        ],
        confirm: 'Promote',
        run: function (tok) { return post('api/services/' + encodeURIComponent(s.name) + '/promote', {}, tok); },
        done: function (result) { return 'Promoted ' + (result.promoted.length ? result.promoted.length + ' instance(s)' : 'nothing') + '; ratio 0.'; },
      });
    });
    rollbackButton.addEventListener('click', function () {
      var gray = grayIds();
      confirmAction({
        title: 'Roll back ' + s.name + '?',
        danger: true,
        body: [
          'The ratio goes to 0: the gray lane gets no traffic while a normal instance exists. Flags are left as they are.',
          gray.length ? 'Gray instances that go idle: ' + listIds(gray) + '.' : 'No instance is gray now.',
        ],
        confirm: 'Roll back',
        run: function (tok) { return post('api/services/' + encodeURIComponent(s.name) + '/rollback', {}, tok); },
        done: function () { return 'Rolled back: ratio 0.'; },
      });
    });

    function grayIds() {
      var ids = [];
      s.instances.forEach(function (i) { if (i.lane === 'gray') ids.push(i.id); });
      return ids;
    }
    function listIds(ids) {
      return ids.length > 4 ? ids.slice(0, 4).join(', ') + ' and ' + (ids.length - 4) + ' more' : ids.join(', ');
    }

    function syncRatioControl() {
      if (readOnly || ratioEdit.dirty) return renderRatioNote();
      var ratio = s.config && s.config.config.ratio !== undefined ? s.config.config.ratio : 0;
      range.value = String(Math.round(ratio));
      number.value = String(ratio);
      renderRatioNote();
    }
    function renderRatioNote() {
      if (readOnly) return;
      var c = s.config;
      var current = c && c.config.ratio !== undefined ? c.config.ratio : null;
      var version = c ? c.version : -1;
      if (ratioEdit.dirty && version !== ratioEdit.baseVersion) {
        ratioNote.className = 'warn-text';
        setText(ratioNote, 'Changed meanwhile: now ' + ratioText(current) + ' (v' + version + '). Setting yours will be refused; Reset to start from it.');
      } else {
        ratioNote.className = 'muted';
        setText(ratioNote, 'now ' + ratioText(current) + ' · config ' + (version === -1 ? 'none' : 'v' + version));
      }
    }

    // Rollout
    var rolloutCard = h('section', { className: 'card rollout', hidden: true });

    function renderRollout() {
      var summary = s.summary;
      var r = summary && summary.rollout;
      rolloutCard.hidden = !r && !(summary && summary.rolloutError);
      clear(rolloutCard);
      if (!summary) return;
      if (summary.rolloutError) {
        rolloutCard.appendChild(h('h2', { text: 'Rollout' }));
        rolloutCard.appendChild(h('p', { className: 'warn-text', text: 'The rollout state cannot be read: ' + summary.rolloutError }));
        return;
      }
      if (!r) return;
      var label = r.status === 'running' ? 'running' : r.status === 'crashed' ? 'crashed' : r.state;
      var stateClass = r.status === 'finished' ? r.state : r.status;
      rolloutCard.appendChild(h('div', { className: 'card-head' }, h('h2', { text: 'Rollout' + (r.id ? ' ' + r.id : '') }), h('span', { className: 'state ' + stateClass, text: label })));
      var steps = h('div', { className: 'steps' });
      r.steps.forEach(function (ratio, i) {
        var entry = r.history.filter(function (step) { return step.step === i + 1; }).pop();
        var cls = 'step' + (entry && entry.verdict ? ' ' + entry.verdict.result : '') + (i + 1 === r.step && r.status !== 'finished' ? ' current' : '');
        steps.appendChild(h('span', { className: cls, title: entry && entry.verdict ? entry.verdict.result + ': ' + entry.verdict.reason : 'step ' + (i + 1), text: pct(ratio) }));
      });
      rolloutCard.appendChild(steps);
      var kv = h('dl', { className: 'kv' });
      function row(k, v) {
        if (v === undefined || v === null || v === '') return;
        kv.appendChild(h('dt', { text: k }));
        kv.appendChild(h('dd', { text: v }));
      }
      row('Step', r.step + ' of ' + r.steps.length + (r.ratio !== null ? ' (ratio ' + pct(r.ratio) + ')' : ''));
      if (r.status === 'crashed') row('Status', 'its process is gone (no lease)' + (r.onCrash ? '; on crash: ' + r.onCrash : ''));
      row('Started', r.startedAt ? when(r.startedAt) : '');
      row('Updated', r.updatedAt ? when(r.updatedAt) : '');
      if (r.by) row('By', [r.by.user, r.by.host].filter(Boolean).join('@') + (r.by.pid ? ' (pid ' + r.by.pid + ')' : ''));
      if (r.reason) row('Outcome', r.reason);
      var last = r.history[r.history.length - 1];
      if (last && last.verdict) row('Last verdict', 'step ' + last.step + ': ' + last.verdict.result + (last.verdict.reason ? ' — ' + last.verdict.reason : ''));
      rolloutCard.appendChild(kv);
    }

    // Charts
    var charts = CHARTS.map(chartCard);
    var chartsGrid = h('div', { className: 'charts' }, charts.map(function (c) { return c.card; }));

    function chartsEmptyText() {
      var interval = state.about ? state.about.scrapeIntervalMs / 1000 : 2;
      var withMetrics = 0;
      s.instances.forEach(function (i) { if (i.metricsPath) withMetrics++; });
      if (s.instances.size > 0 && withMetrics === 0) return 'No instance advertises a metricsPath: providers opt in with grayRegister({ metricsPath: \'/metrics\' }).';
      return 'Waiting for metrics (read every ' + interval + ' s)…';
    }
    function renderCharts() {
      var text = chartsEmptyText();
      charts.forEach(function (c) { c.update(s.metrics, text); });
    }

    // Instances
    var instanceFilter = h('input', { type: 'search', placeholder: 'Filter instances', 'aria-label': 'Filter instances' });
    var instanceCount = h('span', { className: 'muted' });
    var tbody = h('tbody');
    var instancesTable = h(
      'table',
      { className: 'instances' },
      h(
        'thead',
        null,
        h('tr', null, h('th', { text: 'Instance' }), h('th', { text: 'Lane' }), h('th', { text: 'Flag from' }), h('th', { text: 'Version' }), h('th', { className: 'num opt', text: 'Weight' }), h('th', { className: 'opt', text: 'Registered' }), readOnly ? null : h('th', { className: 'num', text: 'Mark' })),
      ),
      tbody,
    );
    var instancesEmpty = h('p', { className: 'empty', text: 'No instance is registered.' });
    var instancesCard = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Instances' }), instanceCount, instanceFilter), h('div', { className: 'instances-list table-wrap' }, instancesTable), instancesEmpty);
    var rows = new Map();

    function markButton(label, gray, id) {
      return h('button', {
        type: 'button',
        className: 'btn small',
        text: label,
        dataset: { mark: gray === null ? 'clear' : gray ? 'gray' : 'normal' },
        on: {
          click: function () {
            var what = gray === null ? 'Clear the override of ' + id + '?' : 'Mark ' + id + ' ' + (gray ? 'gray' : 'normal') + '?';
            confirmAction({
              title: what,
              body:
                gray === null
                  ? ['The instance routes by its own metadata again. The same as graykit mark --clear.']
                  : ['An override {"gray": ' + gray + '} is written: it survives the instance\'s restarts until cleared. The same as graykit mark --' + (gray ? 'gray' : 'normal') + '.'],
              confirm: gray === null ? 'Clear override' : 'Mark ' + (gray ? 'gray' : 'normal'),
              run: function (tok) { return post('api/services/' + encodeURIComponent(s.name) + '/instances/' + encodeURIComponent(id) + '/flag', { gray: gray }, tok); },
              done: function () { return gray === null ? 'Override of ' + id + ' cleared.' : id + ' marked ' + (gray ? 'gray' : 'normal') + '.'; },
            });
          },
        },
      });
    }

    function makeInstanceRow(id) {
      var cells = {
        id: h('td', { className: 'id', text: id }),
        lane: h('td'),
        from: h('td'),
        version: h('td', { className: 'version' }),
        weight: h('td', { className: 'num opt' }),
        since: h('td', { className: 'opt' }),
      };
      var row = h('tr', { dataset: { instance: id } }, cells.id, cells.lane, cells.from, cells.version, cells.weight, cells.since);
      if (!readOnly) {
        cells.buttons = { gray: markButton('Gray', true, id), normal: markButton('Normal', false, id), clear: markButton('Clear', null, id) };
        row.appendChild(h('td', { className: 'flag-actions' }, cells.buttons.gray, ' ', cells.buttons.normal, ' ', cells.buttons.clear));
      }
      return { row: row, cells: cells, view: null };
    }

    function updateInstanceRow(entry, i) {
      if (entry.view === i) return;
      entry.view = i;
      var c = entry.cells;
      clear(c.lane);
      c.lane.appendChild(h('span', { className: 'lane ' + (i.lane || 'invalid'), text: i.lane || 'invalid', title: i.error || '' }));
      setText(c.from, i.flagFrom === 'override' ? 'override (own: ' + (i.ownGray ? 'gray' : 'normal') + ')' : 'own');
      setText(c.version, i.version === undefined ? '–' : i.version);
      c.version.title = i.error ? i.error : '';
      c.version.className = 'version' + (i.error ? ' error' : '');
      if (i.error) c.version.textContent = (i.version === undefined ? '' : i.version + ' — ') + i.error;
      setText(c.weight, i.weight === undefined ? '–' : i.weight + (i.weightFrom === 'override' ? ' (override)' : ''));
      setText(c.since, when(i.since));
      c.since.title = new Date(i.since).toISOString();
      if (c.buttons) {
        c.buttons.gray.disabled = i.lane === 'gray' && i.flagFrom === 'override';
        c.buttons.normal.disabled = i.lane === 'normal' && i.flagFrom === 'override';
        c.buttons.clear.disabled = i.flagFrom !== 'override';
      }
    }

    function applyInstanceFilter() {
      var q = instanceFilter.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (entry) {
        var i = entry.view;
        var visible = !q || entry.row.dataset.instance.indexOf(q) !== -1 || (i.version || '').toLowerCase().indexOf(q) !== -1 || (i.lane || 'invalid') === q;
        entry.row.hidden = !visible;
        if (visible) shown++;
      });
      setText(instanceCount, plural(s.instances.size, 'instance') + (q ? ', ' + shown + ' shown' : ''));
    }
    instanceFilter.addEventListener('input', applyInstanceFilter);

    function removeInstanceRow(id) {
      var entry = rows.get(id);
      if (entry) {
        entry.row.remove();
        rows.delete(id);
      }
    }

    // With changedIds, only the instances it names; without, every row is checked against s.instances.
    function renderInstances(changedIds) {
      var added = false;
      function upsert(i) {
        var entry = rows.get(i.id);
        if (!entry) {
          entry = makeInstanceRow(i.id);
          rows.set(i.id, entry);
          added = true;
        }
        updateInstanceRow(entry, i);
      }
      if (changedIds) {
        changedIds.remove.forEach(removeInstanceRow);
        changedIds.upsert.forEach(upsert);
      } else {
        rows.forEach(function (entry, id) {
          if (!s.instances.has(id)) removeInstanceRow(id);
        });
        s.instances.forEach(upsert);
      }
      if (added) {
        var ids = Array.from(rows.keys()).sort();
        var fragment = document.createDocumentFragment();
        ids.forEach(function (id) { fragment.appendChild(rows.get(id).row); });
        tbody.appendChild(fragment);
      }
      instancesEmpty.hidden = s.instances.size > 0;
      instancesTable.hidden = s.instances.size === 0;
      applyInstanceFilter();
    }

    // Config
    var configMeta = h('span', { className: 'muted' });
    var configError = h('p', { className: 'bad-text', hidden: true });
    var configPre = h('pre', { className: 'config' });
    var configCard = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Config' }), configMeta), configError, configPre);

    function renderConfig() {
      var c = s.config;
      if (!c) return;
      setText(configMeta, c.version === -1 ? 'no config znode' : 'version ' + c.version + (c.mtime ? ' · written ' + when(c.mtime) : ''));
      configError.hidden = !c.error;
      setText(configError, c.error ? 'Invalid, consumers keep the last valid config: ' + c.error : '');
      setText(configPre, c.version === -1 ? '(none: consumers use their local ratio)' : JSON.stringify(c.document, null, 2));
    }

    // Events
    var eventsList = h('ol', { className: 'events', reversed: true });
    var eventsNote = h('span', { className: 'muted' });
    var eventsCard = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Events' }), eventsNote), eventsList);
    var lastSeq = 0;

    function eventItem(e) {
      return h(
        'li',
        { className: [e.kind, e.level, e.lane || ''].join(' ').trim(), dataset: { seq: String(e.seq), kind: e.kind } },
        h('time', { datetime: new Date(e.at).toISOString(), title: new Date(e.at).toISOString(), text: clock(e.at) }),
        h('div', null, h('span', { className: 'kind', text: e.kind }), h('span', { className: 'text', text: e.text })),
      );
    }

    function renderEvents() {
      var fresh = s.events.filter(function (e) { return e.seq > lastSeq; });
      if (fresh.length === 0 && eventsList.children.length > 0) return;
      var fragment = document.createDocumentFragment();
      for (var i = fresh.length - 1; i >= 0; i--) fragment.appendChild(eventItem(fresh[i]));
      eventsList.insertBefore(fragment, eventsList.firstChild);
      if (fresh.length) lastSeq = fresh[fresh.length - 1].seq;
      while (eventsList.children.length > MAX_EVENTS_SHOWN) eventsList.removeChild(eventsList.lastChild);
      setText(eventsNote, state.about ? 'since the console started at ' + when(state.about.startedAt) : '');
      if (eventsList.children.length === 0) eventsList.appendChild(h('li', { className: 'faint', dataset: { placeholder: '1' } }, h('span'), h('span', { text: 'Nothing has changed yet.' })));
      else {
        var placeholder = eventsList.querySelector('[data-placeholder]');
        if (placeholder) placeholder.remove();
      }
    }

    function recentShare(points, windowMs) {
      var last = points[points.length - 1];
      if (!last) return { share: null, points: 0, seconds: 0 };
      var gray = 0;
      var total = 0;
      var used = 0;
      var interval = state.about ? state.about.scrapeIntervalMs : 2000;
      for (var i = points.length - 1; i >= 0 && (used === 0 || last.t - points[i].t < windowMs); i--) {
        gray += points[i].gray.requests;
        total += points[i].gray.requests + points[i].normal.requests;
        used++;
      }
      return { share: total > 0 ? gray / total : null, points: used, seconds: (used * interval) / 1000 };
    }

    // Head
    function renderHead() {
      var summary = s.summary;
      missing.hidden = s.exists && !!summary;
      setText(missing, s.exists ? 'Loading the service…' : 'Service "' + s.name + '" is not registered under ' + (state.about ? state.about.root : '') + '. This page fills in once it is.');
      if (!summary) return;
      setText(stats.ratio.value, ratioText(summary.ratio));
      setText(stats.ratio.sub, summary.ratio === null ? 'consumers\' local ratio' : 'configured');
      // Over the last ten seconds (at least one interval): one short interval of a small service is noisy.
      var recent = recentShare(s.metrics, 10000);
      setText(stats.share.value, recent.share === null ? '–' : pct(recent.share * 100));
      setText(stats.share.sub, recent.points ? 'of requests, last ' + Math.round(recent.seconds) + ' s' : 'waiting for metrics');
      setText(stats.gray.value, summary.gray);
      setText(stats.gray.sub, summary.versions.gray.join(', ') || 'instances');
      setText(stats.normal.value, summary.normal);
      setText(stats.normal.sub, (summary.versions.normal.join(', ') || 'instances') + (summary.invalid ? ' · ' + summary.invalid + ' invalid' : ''));
      setText(stats.config.value, summary.configVersion === -1 ? 'none' : 'v' + summary.configVersion);
      setText(stats.config.sub, summary.configError ? 'INVALID' : summary.rollout ? 'rollout ' + (summary.rollout.status === 'finished' ? summary.rollout.state : summary.rollout.status) : 'no rollout');
      stats.config.sub.className = 'sub' + (summary.configError ? ' bad-text' : '');
    }

    // Wide: charts and instances beside the actions and the record; narrow: the actions first.
    var layout = h(
      'div',
      { className: 'layout' },
      h('div', { className: 'col area-main' }, chartsGrid, instancesCard),
      h('div', { className: 'col area-steer' }, actionsCard, rolloutCard),
      h('div', { className: 'col area-record' }, configCard, eventsCard),
    );
    main.appendChild(head);
    main.appendChild(missing);
    main.appendChild(layout);

    function renderAll() {
      renderHead();
      syncRatioControl();
      renderRollout();
      renderInstances(null);
      renderConfig();
      renderEvents();
      renderCharts();
    }
    renderAll();

    return {
      onService: function (data) {
        renderHead();
        syncRatioControl();
        renderRollout();
        renderInstances(data.reset ? null : { upsert: data.upsert || [], remove: data.remove || [] });
        renderConfig();
        renderEvents();
        if (data.upsert && data.upsert.length) renderCharts();
      },
      onMetrics: function () {
        renderHead();
        renderCharts();
      },
      destroy: function () {
        charts.forEach(function (c) { c.destroy(); });
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Writes: confirmed in a dialog, sent with the token in a header.

  function post(url, body, tok) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tok },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    }).then(function (response) {
      return response
        .json()
        .catch(function () { return {}; })
        .then(function (json) {
          if (response.ok) return json;
          var error = (json && json.error) || {};
          throw { status: response.status, code: error.code || 'HTTP_' + response.status, message: error.message || 'HTTP ' + response.status };
        });
    });
  }

  var dialogRun = null;

  function confirmAction(action) {
    var dialog = $('dialog');
    setText($('dialog-title'), action.title);
    var body = $('dialog-body');
    clear(body);
    action.body.forEach(function (line) { body.appendChild(h('p', { text: line })); });
    var needToken = !token();
    $('dialog-token').hidden = !needToken;
    $('dialog-token-input').value = '';
    var result = $('dialog-result');
    result.className = 'dialog-result';
    setText(result, '');
    var confirm = $('dialog-confirm');
    confirm.hidden = false;
    confirm.disabled = false;
    setText(confirm, action.confirm);
    confirm.className = 'btn ' + (action.danger ? 'danger' : 'primary');
    setText($('dialog-cancel'), 'Cancel');
    dialogRun = action;
    if (!dialog.open) dialog.showModal();
    if (needToken) $('dialog-token-input').focus();
    else confirm.focus();
  }

  function onDialogSubmit(event) {
    event.preventDefault();
    var action = dialogRun;
    if (!action) return;
    var result = $('dialog-result');
    var confirm = $('dialog-confirm');
    var typed = $('dialog-token-input').value.trim();
    if (!$('dialog-token').hidden) {
      if (!typed) {
        result.className = 'dialog-result error';
        setText(result, 'Enter the console token: graykit console prints it at start.');
        return;
      }
      setToken(typed);
      renderChrome();
    }
    confirm.disabled = true;
    result.className = 'dialog-result';
    setText(result, 'Working…');
    action.run(token()).then(
      function (json) {
        if (dialogRun !== action) return;
        var message = action.done ? action.done(json) : 'Done.';
        dialogRun = null;
        $('dialog').close();
        toast(message, false);
      },
      function (error) {
        if (dialogRun !== action) return;
        error = error && error.code ? error : { code: 'NETWORK', message: 'The console did not answer: ' + (error && error.message ? error.message : String(error)) };
        result.className = 'dialog-result error';
        if (error.status === 401) {
          setToken('');
          renderChrome();
          $('dialog-token').hidden = false;
          $('dialog-token-input').value = '';
          $('dialog-token-input').focus();
          confirm.disabled = false;
          setText(result, (error.code === 'ERR_CONSOLE_TOKEN' ? 'Refused: ' : '') + error.message + '. Nothing was written.');
          return;
        }
        if (action.failed) action.failed(error);
        var label = error.code === 'ERR_GRAYKIT_CONFLICT' ? 'Conflict: ' : 'Refused: ';
        setText(result, label + error.message);
        confirm.hidden = true;
        setText($('dialog-cancel'), 'Close');
      },
    );
  }

  var toastTimer = null;
  function toast(message, isError) {
    var old = document.querySelector('.toast');
    if (old) old.remove();
    var el = h('div', { className: 'toast' + (isError ? ' error' : ''), role: 'status', text: message });
    document.body.appendChild(el);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.remove(); }, 5000);
  }

  // ---------------------------------------------------------------------------------------------------------

  function start() {
    takeTokenFromFragment();
    $('dialog-form').addEventListener('submit', onDialogSubmit);
    $('dialog-cancel').addEventListener('click', function () {
      dialogRun = null;
      $('dialog').close();
    });
    $('dialog').addEventListener('close', function () { dialogRun = null; });
    window.addEventListener('hashchange', onRoute);
    onRoute();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
