/* The services view (#/): every service with its ratio, instances, versions, config and rollout, filtered by name. */
import { clear, h, setText } from './dom.js';
import { pct, plural, ratioText, when } from './format.js';
import { serviceHref } from './routes.js';
import { state } from './state.js';

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

export function servicesView(main) {
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
