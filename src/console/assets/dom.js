/*
 * DOM helpers. Everything the page shows comes from the registry, where anyone who can write a znode can put any
 * text: `h` and `setText` set it with textContent, never parse it as HTML.
 */

export function h(tag, props) {
  var el = document.createElement(tag);
  if (props) {
    for (var key in props) {
      var value = props[key];
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') el.textContent = String(value);
      else if (key === 'className') el.className = value;
      else if (key === 'on') for (var type in value) el.addEventListener(type, value[type]);
      else if (key === 'dataset') for (var d in value) el.dataset[d] = value[d];
      else if (key === 'hidden' || key === 'disabled' || key === 'checked') el[key] = Boolean(value);
      else if (key === 'value') el.value = value;
      else el.setAttribute(key, String(value));
    }
  }
  for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
  return el;
}

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
  else if (typeof child === 'object' && child.nodeType) el.appendChild(child);
  else el.appendChild(document.createTextNode(String(child)));
}

export function setText(el, text) {
  text = text === null || text === undefined ? '' : String(text);
  if (el.textContent !== text) el.textContent = text;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function $(id) {
  return document.getElementById(id);
}
