/* The service view's record: its config as the znode holds it, and what changed since the console started. */
import { h, setText } from './dom.js';
import { clock, when } from './format.js';
import { MAX_EVENTS_SHOWN, state } from './state.js';

/** `s` is the service the view shows (state.service). */
export function configCard(s) {
  var configMeta = h('span', { className: 'muted' });
  var configError = h('p', { className: 'bad-text', hidden: true });
  var configPre = h('pre', { className: 'config' });
  var card = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Config' }), configMeta), configError, configPre);

  function renderConfig() {
    var c = s.config;
    if (!c) return;
    setText(configMeta, c.version === -1 ? 'no config znode' : 'version ' + c.version + (c.mtime ? ' · written ' + when(c.mtime) : ''));
    configError.hidden = !c.error;
    setText(configError, c.error ? 'Invalid, consumers keep the last valid config: ' + c.error : '');
    setText(configPre, c.version === -1 ? '(none: consumers use their local ratio)' : JSON.stringify(c.document, null, 2));
  }

  return { el: card, render: renderConfig };
}

/** `s` is the service the view shows (state.service); each render adds the events it has not shown yet. */
export function eventsCard(s) {
  var eventsList = h('ol', { className: 'events', reversed: true });
  var eventsNote = h('span', { className: 'muted' });
  var card = h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', { text: 'Events' }), eventsNote), eventsList);
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

  return { el: card, render: renderEvents };
}
