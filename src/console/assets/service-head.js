/* The service view's head: its name and five figures (ratio, gray share, gray and normal instances, config). */
import { h, setText } from './dom.js';
import { pct, ratioText } from './format.js';
import { state } from './state.js';

function stat(label, className) {
  var value = h('div', { className: 'value' });
  var sub = h('div', { className: 'sub' });
  return { el: h('div', { className: 'stat ' + (className || '') }, h('div', { className: 'label', text: label }), value, sub), value: value, sub: sub };
}

/** The gray share of the requests in the newest points that span windowMs (at least the newest one). */
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

/**
 * `s` is the service the view shows (state.service). `missing` is the note shown, below the head, while the service
 * is not registered or not loaded yet.
 */
export function serviceHead(s) {
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

  return { el: head, missing: missing, render: renderHead };
}
