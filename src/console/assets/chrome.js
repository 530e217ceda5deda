/* The page's chrome: the top bar (breadcrumbs, registry, write mode, connection) and the banner under it. */
import { clear, h, setText, $ } from './dom.js';
import { clock, duration } from './format.js';
import { state } from './state.js';
import { token } from './token.js';

export function renderCrumbs() {
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

export function renderChrome() {
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

export function renderBanner() {
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

/** Redraws the banner every second while ZooKeeper is not connected: it says for how long. */
export function startBannerClock() {
  setInterval(function () {
    if (state.connection && state.connection.state !== 'connected') renderBanner();
  }, 1000);
}
