/* The service view's rollout card: its steps with their verdicts, and where it stands; hidden without a rollout. */
import { clear, h } from './dom.js';
import { pct, when } from './format.js';

/** `s` is the service the view shows (state.service). */
export function rolloutCard(s) {
  var card = h('section', { className: 'card rollout', hidden: true });

  function renderRollout() {
    var summary = s.summary;
    var r = summary && summary.rollout;
    card.hidden = !r && !(summary && summary.rolloutError);
    clear(card);
    if (!summary) return;
    if (summary.rolloutError) {
      card.appendChild(h('h2', { text: 'Rollout' }));
      card.appendChild(h('p', { className: 'warn-text', text: 'The rollout state cannot be read: ' + summary.rolloutError }));
      return;
    }
    if (!r) return;
    var label = r.status === 'running' ? 'running' : r.status === 'crashed' ? 'crashed' : r.state;
    var stateClass = r.status === 'finished' ? r.state : r.status;
    card.appendChild(h('div', { className: 'card-head' }, h('h2', { text: 'Rollout' + (r.id ? ' ' + r.id : '') }), h('span', { className: 'state ' + stateClass, text: label })));
    var steps = h('div', { className: 'steps' });
    r.steps.forEach(function (ratio, i) {
      var entry = r.history.filter(function (step) { return step.step === i + 1; }).pop();
      var cls = 'step' + (entry && entry.verdict ? ' ' + entry.verdict.result : '') + (i + 1 === r.step && r.status !== 'finished' ? ' current' : '');
      steps.appendChild(h('span', { className: cls, title: entry && entry.verdict ? entry.verdict.result + ': ' + entry.verdict.reason : 'step ' + (i + 1), text: pct(ratio) }));
    });
    card.appendChild(steps);
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
    card.appendChild(kv);
  }

  return { el: card, render: renderRollout };
}
