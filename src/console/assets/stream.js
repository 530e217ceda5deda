/*
 * The live stream: one EventSource per route, its messages folded into the shared state, and the view they feed.
 * A new route closes the old stream and opens one for the new route, whose first message (hello) carries
 * everything the view shows; updates follow as ZooKeeper watches fire and metrics are scraped.
 */
import { clear, h, $ } from './dom.js';
import { renderBanner, renderChrome, renderCrumbs } from './chrome.js';
import { parseRoute } from './routes.js';
import { serviceView } from './service-view.js';
import { servicesView } from './services-view.js';
import { MAX_EVENTS_SHOWN, state } from './state.js';

var view = null;
var source = null;
var firstRenderMarked = false;

export function onRoute() {
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
