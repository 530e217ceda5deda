/*
 * The service view's charts, drawn by uPlot: requests per second, error rate, latency and gray share, one series
 * per lane. uPlot is the global its own script (assets/uPlot.iife.min.js) defines; the page loads that script
 * before this module, and a chart without it shows its numbers and no plot.
 */
import { clear, h, setText } from './dom.js';
import { clock, ms, pct, rate, ratioText } from './format.js';

var LANE_COLOR = { gray: '#d97706', normal: '#2563eb' };
var RATIO_COLOR = '#475569';

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

export var CHARTS = [
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

export function chartCard(spec) {
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
