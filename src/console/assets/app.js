/*
 * The graykit console's page. Plain JavaScript in native ES modules, no build step, no framework: it keeps one live
 * stream to the console (server-sent events pushed from ZooKeeper watches and metrics scrapes) and renders two
 * views, the services and one service.
 *
 * Everything shown comes from the registry, where anyone who can write a znode can put any text: it is always set
 * with textContent (the `h` helper of dom.js), never parsed as HTML. Writes send the token in a header; the token
 * comes from the URL's fragment (never sent to a server) or the operator, and lives in sessionStorage only.
 *
 * This module starts the page. A module script runs once the document is parsed, after the deferred uPlot script
 * before it, so the DOM of index.html and uPlot are both there.
 */
import { startBannerClock } from './chrome.js';
import { onRoute } from './stream.js';
import { takeTokenFromFragment } from './token.js';
import { setUpDialog } from './writes.js';

takeTokenFromFragment();
setUpDialog();
startBannerClock();
window.addEventListener('hashchange', onRoute);
onRoute();
