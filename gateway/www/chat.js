/*
 * chat.js: the group chat demo served at / (index.html).
 *
 * Settings come from the query string (?name=&room=&transport=, used by the
 * browser tests) and from the form; changing one starts a fresh Herald client
 * and rewrites the query so a reload keeps them. Without ?name= each tab gets
 * its own generated name, kept in sessionStorage (per tab) and left out of
 * the query, so a second tab, or a copied address, is a second person. Messages are published as
 * {name, text} and shown with the server's timestamp. The page keeps its own
 * set of rendered (epoch, offset) pairs so a history reload after
 * recovered:false never shows a message twice.
 *
 * window.__heraldTest exposes outage hooks for tests/browser/chat_test.mjs:
 * dropConnection() cuts the live connection, holdReconnect(true|false) keeps
 * the client offline until released.
 */
(function () {
  'use strict';

  var BACKLOG = 50;
  var $ = function (id) { return document.getElementById(id); };
  var els = {
    name: $('name'), room: $('room'), transport: $('transport'), state: $('state'),
    messages: $('messages'), online: $('online'), composer: $('composer'), text: $('text'),
  };
  var params = new URLSearchParams(location.search);
  var TRANSPORTS = ['websocket', 'longpoll', 'sse', 'auto'];

  var chosenName = params.get('name');  // null until the user names themselves
  els.name.value = chosenName || sessionStorage.getItem('herald.name') || 'guest-' + Math.floor(1000 + Math.random() * 9000);
  els.room.value = params.get('room') || 'room:lobby';
  els.transport.value = TRANSPORTS.indexOf(params.get('transport')) >= 0 ? params.get('transport') : 'websocket';

  var client = null;
  var rendered = new Set();  // "epoch:offset" of every message on screen
  var online = new Set();

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function shellQuote(s) { return "'" + s.replace(/'/g, "'\\''") + "'"; }
  function clock(ms) {
    var d = typeof ms === 'number' ? new Date(ms) : new Date();
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function append(li) {
    var list = els.messages;
    var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.appendChild(li);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function line(cls, text, ms) {
    var li = document.createElement('li');
    li.className = cls;
    var time = document.createElement('span');
    time.className = 'time';
    time.textContent = clock(ms);
    li.appendChild(time);
    li.appendChild(document.createTextNode(text));
    append(li);
    return li;
  }

  function showMessage(msg) {
    var key = msg.epoch + ':' + msg.offset;
    if (msg.offset !== undefined && rendered.has(key)) return;
    rendered.add(key);
    var data = msg.data && typeof msg.data === 'object' ? msg.data : { text: String(msg.data) };
    var li = document.createElement('li');
    li.className = 'msg';
    if (msg.offset !== undefined) li.dataset.offset = msg.offset;
    var time = document.createElement('span');
    time.className = 'time';
    time.textContent = clock(msg.ts);
    if (typeof msg.ts === 'number') time.title = new Date(msg.ts).toISOString();
    var name = document.createElement('span');
    name.className = 'name';
    name.textContent = data.name || msg.from || 'server';
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = data.text === undefined ? JSON.stringify(data) : String(data.text);
    li.appendChild(time);
    li.appendChild(name);
    li.appendChild(text);
    append(li);
  }

  function showPresence(kind, user) {
    var li = line('presence', user + (kind === 'join' ? ' joined' : ' left'));
    li.dataset.kind = kind;
    li.dataset.user = user;
    if (kind === 'join') online.add(user); else online.delete(user);
    renderOnline();
  }

  function renderOnline() {
    els.online.textContent = '';
    Array.from(online).sort().forEach(function (u) {
      var li = document.createElement('li');
      li.textContent = u;
      els.online.appendChild(li);
    });
  }

  // The last BACKLOG messages and the position to subscribe after, or null
  // when the server keeps no history (then the page starts live).
  async function backlog(h, room) {
    try {
      var head = await h.history(room, { since: 0, limit: 1 });
      var since = Math.max(0, head.offset - BACKLOG);
      var page = await h.history(room, { since: since, limit: BACKLOG });
      return page;
    } catch (e) {
      return null;
    }
  }

  async function reloadHistory(h, room) {
    var page = await backlog(h, room);
    if (!page || client !== h) return;
    els.messages.textContent = '';
    rendered.clear();
    line('system', 'Reconnected after messages were lost; showing the latest history.');
    page.messages.forEach(showMessage);
  }

  async function start() {
    if (client) client.close();
    var name = els.name.value.trim() || 'guest';
    var room = els.room.value.trim() || 'room:lobby';
    var transport = els.transport.value;
    sessionStorage.setItem('herald.name', name);
    var q = new URLSearchParams(location.search);
    if (chosenName) q.set('name', name); else q.delete('name');
    q.set('room', room); q.set('transport', transport);
    history.replaceState(null, '', '?' + q.toString());
    document.title = room + ' - Herald chat';
    $('publish-example').textContent = 'curl -d ' + shellQuote(JSON.stringify({ topic: room, data: { name: 'backend', text: 'hello from curl' } })) +
      ' ' + location.origin + '/api/v1/publish';
    document.body.dataset.ready = '0';
    els.messages.textContent = '';
    rendered.clear();
    online.clear();
    renderOnline();

    var h = new Herald({ token: name, transport: transport });
    client = h;
    h.onState(function (s) {
      if (client !== h) return;
      els.state.textContent = s + (h.transport && h.transport !== transport ? ' (' + h.transport + ')' : '');
      document.body.dataset.state = s;
    });

    var page = await backlog(h, room);
    if (client !== h) return;
    if (page) page.messages.forEach(showMessage);
    var position = page ? { since: page.offset, epoch: page.epoch } : undefined;
    h.subscribe(room, {
      onMessage: showMessage,
      onJoin: function (ev) { showPresence('join', ev.user); },
      onLeave: function (ev) { showPresence('leave', ev.user); },
      onRecover: function () { reloadHistory(h, room); },
      onError: function (err) { line('system', 'Subscription refused: ' + err.message); },
      onSubscribed: function () {
        document.body.dataset.ready = '1';
        h.presence(room).then(function (p) {
          if (client !== h || !p || !Array.isArray(p.users)) return;
          p.users.forEach(function (u) { online.add(u); });
          renderOnline();
        }, function () { /* presence is optional decoration */ });
      },
    }, position);
  }

  els.composer.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = els.text.value.trim();
    if (!text || !client) return;
    var room = els.room.value.trim() || 'room:lobby';
    els.text.value = '';
    client.publish(room, { name: els.name.value.trim(), text: text }).catch(function (err) {
      els.text.value = els.text.value || text;  // give the words back to retry
      line('system', 'Not sent: ' + err.message);
    });
  });
  els.transport.addEventListener('change', start);
  els.name.addEventListener('change', function () { chosenName = els.name.value.trim() || null; start(); });
  els.room.addEventListener('change', start);
  $('settings').addEventListener('submit', function (ev) { ev.preventDefault(); start(); });

  window.__heraldTest = {
    dropConnection: function () { client._dropConnection(); },
    holdReconnect: function (on) { client._hold(on); },
    client: function () { return client; },
  };

  start();
})();
