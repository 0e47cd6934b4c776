/*
 * authcode.js: shows the latest "authcode" pushed to one user (?token=T).
 *
 * Uses the compat per-user long-poll (GET /poll?token=T&event=authcode), so a
 * backend's existing `POST /push {"userId","event":"authcode","message"}`
 * reaches this page with no WebSocket at all. #code holds the latest value and
 * #changes counts the pushes received since the page opened (each push is a
 * fresh code, even when the digits happen to repeat). Without ?token= the page
 * asks for one; #curl is a ready command that pushes a sample code to it.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var token = new URLSearchParams(location.search).get('token');

  function shellQuote(s) { return "'" + s.replace(/'/g, "'\\''") + "'"; }

  function showHelp(user) {
    var body = JSON.stringify({ userId: user, event: 'authcode', message: String(100000 + Math.floor(Math.random() * 900000)) });
    $('curl').textContent = 'curl -d ' + shellQuote(body) + ' ' + location.origin + '/push';
    $('push-help').hidden = false;
  }

  if (!token) {
    $('ask').hidden = false;
    showHelp($('token').value);
    $('token').addEventListener('input', function () { showHelp($('token').value || 'alice'); });
    document.body.dataset.ready = '1';
    return;  // the form submits ?token=... and reloads the page
  }
  $('watching').hidden = false;
  $('user').textContent = token;
  showHelp(token);

  var changes = 0;
  var h = new Herald({ token: token, transport: 'longpoll' });
  h.onState(function (s) {
    $('state').textContent = s === 'connected' ? 'waiting for the next code' : s;
    document.body.dataset.state = s;
  });
  h.watchEvent('authcode', {
    onMessage: function (m) {
      changes += 1;
      $('code').textContent = m.message;
      $('changes').textContent = String(changes);
      $('when').textContent = new Date(typeof m.ts === 'number' ? m.ts : Date.now()).toLocaleTimeString();
    },
  });
  document.body.dataset.ready = '1';

  window.__heraldTest = {
    dropConnection: function () { h._dropConnection(); },
    holdReconnect: function (on) { h._hold(on); },
  };
})();
