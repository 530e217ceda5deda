/*
 * What the page knows, in one object every module reads and the live stream writes: the modules share it rather
 * than each keeping a copy that could disagree. What only one module uses stays in that module (the stream's
 * EventSource and current view, the dialog's pending action, the token in sessionStorage).
 */

/** The most events one service keeps and shows: the stream adds them for as long as the page is open. */
export var MAX_EVENTS_SHOWN = 200;

export var state = {
  /** The console's own description (registry, root, read-only, intervals), from the stream's first message. */
  about: null,
  /** The console's ZooKeeper connection: state, since, reason. */
  connection: null,
  /** Whether the console has read the registry once. */
  ready: false,
  /** Whether the live stream is open; false while the browser reconnects it. */
  streamOk: true,
  /** Every service's summary, as the services view lists them. */
  services: [],
  /** The service the page shows (name, exists, summary, config, instances by id, events, metrics), or null. */
  service: null,
  /** From the URL's fragment: { view: 'services' } or { view: 'service', name }. */
  route: { view: 'services' },
};
