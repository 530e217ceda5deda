/* Numbers, times and counts as the page writes them. */

export function pct(value, digits) {
  if (value === null || value === undefined || !isFinite(value)) return '–';
  var d = digits === undefined ? (Math.abs(value) >= 10 || value === 0 ? 0 : 1) : digits;
  return value.toFixed(d).replace(/\.0+$/, '') + ' %';
}
export function ratioText(ratio) {
  return ratio === null || ratio === undefined ? 'unset' : pct(ratio, 2);
}
export function rate(value) {
  if (value === null || value === undefined) return '–';
  return (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)) + '/s';
}
export function ms(value) {
  if (value === null || value === undefined) return '–';
  return (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + ' ms';
}
function pad(n) {
  return n < 10 ? '0' + n : String(n);
}
export function clock(t) {
  var d = new Date(t);
  return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}
export function when(t) {
  if (!t) return '–';
  var d = new Date(t);
  var today = new Date();
  var sameDay = d.toDateString() === today.toDateString();
  return (sameDay ? '' : d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ') + clock(t);
}
export function duration(msValue) {
  var s = Math.max(0, Math.round(msValue / 1000));
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}
export function plural(n, word) {
  return n + ' ' + word + (n === 1 ? '' : 's');
}
