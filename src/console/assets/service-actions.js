/*
 * The service view's actions card: the ratio control (a compare-and-set on the config version it started from, so a
 * change made meanwhile is refused rather than overwritten), promote and roll back; in a read-only console, a note.
 */
import { h, setText } from './dom.js';
import { pct, plural, ratioText } from './format.js';
import { confirmAction, post, toast } from './writes.js';

/** `s` is the service the view shows (state.service). `render` leaves a ratio the operator is editing alone. */
export function actionsCard(s, readOnly) {
  var card = h('section', { className: 'card actions' });
  var ratioEdit = { dirty: false, baseVersion: null, baseRatio: null };
  var range = h('input', { type: 'range', min: '0', max: '100', step: '1', 'aria-label': 'ratio' });
  var number = h('input', { type: 'number', min: '0', max: '100', step: 'any', 'aria-label': 'ratio (number)' });
  var setRatioButton = h('button', { type: 'button', className: 'btn primary', text: 'Set ratio…', dataset: { action: 'ratio' } });
  var resetRatio = h('button', { type: 'button', className: 'btn small', text: 'Reset', title: 'Start again from the current config' });
  var ratioNote = h('div', { className: 'muted' });
  var promoteButton = h('button', { type: 'button', className: 'btn good', text: 'Promote…', dataset: { action: 'promote' } });
  var rollbackButton = h('button', { type: 'button', className: 'btn danger', text: 'Roll back…', dataset: { action: 'rollback' } });
  if (readOnly) {
    card.appendChild(h('h2', { text: 'Actions' }));
    card.appendChild(h('p', { className: 'readonly-note', text: 'This console is read-only: it serves no write endpoint. Use graykit console without --read-only to steer.' }));
  } else {
    card.appendChild(h('div', { className: 'card-head' }, h('h2', { text: 'Ratio' }), ratioNote));
    card.appendChild(h('div', { className: 'ratio-control' }, range, number, setRatioButton, resetRatio));
    card.appendChild(h('h2', { text: 'Release' }));
    card.appendChild(h('div', { className: 'action-row' }, promoteButton, rollbackButton));
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

  return { el: card, render: syncRatioControl };
}
