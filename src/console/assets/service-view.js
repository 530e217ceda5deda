/*
 * The service view (#/services/<name>): the head, then its cards, each a module of its own that renders from the
 * shared state (the charts, instances, actions, rollout, config and events), laid out in three columns.
 */
import { h } from './dom.js';
import { CHARTS, chartCard } from './charts.js';
import { actionsCard } from './service-actions.js';
import { serviceHead } from './service-head.js';
import { instancesCard } from './service-instances.js';
import { configCard, eventsCard } from './service-record.js';
import { rolloutCard } from './service-rollout.js';
import { state } from './state.js';

export function serviceView(main) {
  var s = state.service;
  var readOnly = state.about && state.about.readOnly;
  var head = serviceHead(s);
  var actions = actionsCard(s, readOnly);
  var rollout = rolloutCard(s);
  var instances = instancesCard(s, readOnly);
  var config = configCard(s);
  var events = eventsCard(s);

  // The charts: one card each, fed the service's metrics points.
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

  // Wide: charts and instances beside the actions and the record; narrow: the actions first.
  var layout = h(
    'div',
    { className: 'layout' },
    h('div', { className: 'col area-main' }, chartsGrid, instances.el),
    h('div', { className: 'col area-steer' }, actions.el, rollout.el),
    h('div', { className: 'col area-record' }, config.el, events.el),
  );
  main.appendChild(head.el);
  main.appendChild(head.missing);
  main.appendChild(layout);

  function renderAll() {
    head.render();
    actions.render();
    rollout.render();
    instances.render(null);
    config.render();
    events.render();
    renderCharts();
  }
  renderAll();

  return {
    onService: function (data) {
      head.render();
      actions.render();
      rollout.render();
      instances.render(data.reset ? null : { upsert: data.upsert || [], remove: data.remove || [] });
      config.render();
      events.render();
      if (data.upsert && data.upsert.length) renderCharts();
    },
    onMetrics: function () {
      head.render();
      renderCharts();
    },
    destroy: function () {
      charts.forEach(function (c) { c.destroy(); });
    },
  };
}
