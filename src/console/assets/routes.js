/* The page's two routes, in the URL's fragment: #/ (the services) and #/services/<name> (one service). */

export function parseRoute() {
  var match = /^#\/services\/([^/?#]+)/.exec(location.hash);
  if (match) {
    try {
      return { view: 'service', name: decodeURIComponent(match[1]) };
    } catch (e) {
      return { view: 'services' };
    }
  }
  return { view: 'services' };
}

export function serviceHref(name) {
  return '#/services/' + encodeURIComponent(name);
}
