/*
 * authcode.js: shows the latest "authcode" pushed to one user (?token=T).
 *
 * Uses the compat per-user long-poll (GET /poll?token=T&event=authcode), so a
 * backend's existing `POST /push {"userId","event":"authcode","message"}`
 * reaches this page with no WebSocket at all. #code holds the latest value and
 * #changes counts the pushes received since the page opened (each push is a
 * fresh code, even when the digits happen to repeat).
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var token = new URLSearchParams(location.search).get('token');
  if (!token) {
    $('ask').hidden = false;
    return;  // the form submits ?token=... and reloads the page
  }
  $('user').textContent = token;

  var changes = 0;
  var h = new Herald({ token: token, transport: 'longpoll' });
  h.onState(function (s) {
    $('state').textContent = s;
    document.body.dataset.state = s;
  });
  h.watchEvent('authcode', {
    onReady: function () { document.body.dataset.ready = '1'; },
    onMessage: function (m) {
      changes += 1;
      $('code').textContent = m.message;
      $('changes').textContent = String(changes);
      $('when').textContent = new Date(typeof m.ts === 'number' ? m.ts : Date.now()).toLocaleTimeString();
    },
  });

  window.__heraldTest = {
    dropConnection: function () { h._dropConnection(); },
    holdReconnect: function (on) { h._hold(on); },
  };
})();
