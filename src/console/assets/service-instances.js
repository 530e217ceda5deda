/*
 * The service view's instances: one row per instance with its lane, where its flag comes from, version, weight and
 * registration time, and (unless read-only) buttons that mark it gray or normal or clear its override.
 */
import { clear, h, setText } from './dom.js';
import { plural, when } from './format.js';
import { confirmAction, post } from './writes.js';

/**
 * `s` is the service the view shows (state.service). `render(changedIds)` redraws the rows of the instances
 * changedIds names ({ upsert, remove }), or with null checks every row against s.instances.
 */
export function instancesCard(s, readOnly) {
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
  var card = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Instances' }), instanceCount, instanceFilter), h('div', { className: 'instances-list table-wrap' }, instancesTable), instancesEmpty);
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

  return { el: card, render: renderInstances };
}
