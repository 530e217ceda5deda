/*
 * The console token, which writes send in a header: taken from the URL's fragment (#token=…, never sent to a
 * server) or typed by the operator, and kept in sessionStorage, for this tab only.
 */

var TOKEN_KEY = 'graykit-console-token';

export function takeTokenFromFragment() {
  var match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  } catch (e) {
    /* storage refused: the dialog will ask */
  }
  history.replaceState(null, '', location.pathname + location.search + '#/');
}
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (e) {
    return '';
  }
}
export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    /* ignore */
  }
}
