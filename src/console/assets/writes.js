/*
 * Writes: each confirmed in a dialog, then sent as a POST with the token in a header (never a cookie), and its
 * outcome shown in the dialog or a toast. A refused token is dropped and asked for again; nothing was written.
 */
import { clear, h, setText, $ } from './dom.js';
import { renderChrome } from './chrome.js';
import { setToken, token } from './token.js';

export function post(url, body, tok) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + tok },
    body: JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  }).then(function (response) {
    return response
      .json()
      .catch(function () { return {}; })
      .then(function (json) {
        if (response.ok) return json;
        var error = (json && json.error) || {};
        throw { status: response.status, code: error.code || 'HTTP_' + response.status, message: error.message || 'HTTP ' + response.status };
      });
  });
}

/** The action the open dialog confirms; null once it is done, cancelled or closed, so a late answer is dropped. */
var dialogRun = null;

/** Wires the dialog of index.html: Confirm sends the action; Cancel, Escape or any close drops it. */
export function setUpDialog() {
  $('dialog-form').addEventListener('submit', onDialogSubmit);
  $('dialog-cancel').addEventListener('click', function () {
    dialogRun = null;
    $('dialog').close();
  });
  $('dialog').addEventListener('close', function () { dialogRun = null; });
}

export function confirmAction(action) {
  var dialog = $('dialog');
  setText($('dialog-title'), action.title);
  var body = $('dialog-body');
  clear(body);
  action.body.forEach(function (line) { body.appendChild(h('p', { text: line })); });
  var needToken = !token();
  $('dialog-token').hidden = !needToken;
  $('dialog-token-input').value = '';
  var result = $('dialog-result');
  result.className = 'dialog-result';
  setText(result, '');
  var confirm = $('dialog-confirm');
  confirm.hidden = false;
  confirm.disabled = false;
  setText(confirm, action.confirm);
  confirm.className = 'btn ' + (action.danger ? 'danger' : 'primary');
  setText($('dialog-cancel'), 'Cancel');
  dialogRun = action;
  if (!dialog.open) dialog.showModal();
  if (needToken) $('dialog-token-input').focus();
  else confirm.focus();
}

function onDialogSubmit(event) {
  event.preventDefault();
  var action = dialogRun;
  if (!action) return;
  var result = $('dialog-result');
  var confirm = $('dialog-confirm');
  var typed = $('dialog-token-input').value.trim();
  if (!$('dialog-token').hidden) {
    if (!typed) {
      result.className = 'dialog-result error';
      setText(result, 'Enter the console token: graykit console prints it at start.');
      return;
    }
    setToken(typed);
    renderChrome();
  }
  confirm.disabled = true;
  result.className = 'dialog-result';
  setText(result, 'Working…');
  action.run(token()).then(
    function (json) {
      if (dialogRun !== action) return;
      var message = action.done ? action.done(json) : 'Done.';
      dialogRun = null;
      $('dialog').close();
      toast(message, false);
    },
    function (error) {
      if (dialogRun !== action) return;
      error = error && error.code ? error : { code: 'NETWORK', message: 'The console did not answer: ' + (error && error.message ? error.message : String(error)) };
      result.className = 'dialog-result error';
      if (error.status === 401) {
        setToken('');
        renderChrome();
        $('dialog-token').hidden = false;
        $('dialog-token-input').value = '';
        $('dialog-token-input').focus();
        confirm.disabled = false;
        setText(result, (error.code === 'ERR_CONSOLE_TOKEN' ? 'Refused: ' : '') + error.message + '. Nothing was written.');
        return;
      }
      if (action.failed) action.failed(error);
      var label = error.code === 'ERR_GRAYKIT_CONFLICT' ? 'Conflict: ' : 'Refused: ';
      setText(result, label + error.message);
      confirm.hidden = true;
      setText($('dialog-cancel'), 'Close');
    },
  );
}

var toastTimer = null;
export function toast(message, isError) {
  var old = document.querySelector('.toast');
  if (old) old.remove();
  var el = h('div', { className: 'toast' + (isError ? ' error' : ''), role: 'status', text: message });
  document.body.appendChild(el);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(function () { el.remove(); }, 5000);
}
