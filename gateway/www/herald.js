/*
 * herald.js: a dependency-free client for the Herald push gateway.
 *
 * Loads as a classic <script> (defines window.Herald) or as a CommonJS module
 * (module.exports = Herald), so Node tests can drive it with injected
 * WebSocket / EventSource / fetch implementations. ES2017, no build step.
 *
 *   const h = new Herald({
 *     url: 'http://127.0.0.1:8080',   // default: the page's origin
 *     token: 'alice',                 // needed to publish and to appear in presence
 *     transport: 'auto',              // 'websocket' | 'longpoll' | 'sse' | 'auto'
 *     getToken(ctx) {},               // optional, for expiring tokens (JWTs): below
 *     onTokenError(err) {},           // optional: getToken threw, rejected or gave no string
 *   });
 *   const sub = h.subscribe('room:lobby', {
 *     onMessage(msg) {},   // {op:'message', topic, offset, epoch, ts, data, from?}
 *     onJoin(ev) {},       // {op:'join', topic, user}
 *     onLeave(ev) {},      // {op:'leave', topic, user}
 *     onRecover(info) {},  // {recovered:false, epoch, offset}: messages may have been
 *                          // lost (history window passed or server restarted); refetch
 *                          // with h.history(topic) if the app shows a backlog
 *     onSubscribed(info) {}, // {epoch, offset, recovered} each time the server confirms
 *     onError(err) {},     // a refused subscribe (err.code is the server's error code)
 *   }, {since: 12, epoch: 'e1'});  // optional: start after a known position
 *   sub.unsubscribe();
 *   h.publish('room:lobby', {text: 'hi'});  // Promise<{offset}>; rejects with err.code
 *   h.history('room:lobby', {since: 0, limit: 50});  // Promise<history JSON>
 *   h.presence('room:lobby');                        // Promise<{users, connections}>
 *   h.watchEvent('authcode', {onMessage(m) {}});      // compat per-user long-poll;
 *                                                    // m = {offset, ts, event, message};
 *                                                    // pushes from the first poll on (the
 *                                                    // first one waits for the next push)
 *   const off = h.onState(s => {});  // 'connecting' | 'connected' | 'disconnected';
 *                                    // called at once with the current state
 *   h.close();
 *
 * Guarantees: per topic the client remembers the last offset and epoch it
 * delivered and resumes from them after any reconnect (WebSocket `since` and
 * `epoch` on re-subscribe, long-poll `since`, SSE `Last-Event-ID` or `since`),
 * and never hands the app an offset it has already delivered. Reconnects use
 * exponential backoff (250 ms doubling to 10 s, each delay jittered by +-50%)
 * so a restarted server is not hit by every client at the same instant.
 * 'auto' tries WebSocket and settles on long-polling if the first WebSocket
 * cannot open within 3 s (proxies that block upgrades).
 *
 * Expiring tokens: getToken(ctx) returns a token string (or a Promise of one)
 * and is then the source of truth for `token`: every token the client sends
 * after that is the last one it returned (options.token, if also given, is
 * used until then; without it getToken is called before the first request).
 * ctx.reason says why it is called:
 *   'initial'  no token yet;
 *   'expired'  the token ran out: WebSocket error `token_expired`, an SSE
 *              `token_expired` event, or a JWT whose `exp` is less than a
 *              second away (the client reads `exp` without checking the
 *              signature, so a held long-poll the server answered at `exp`
 *              is followed by a fresh token, not by a 401);
 *   'refused'  the server refused it: `unauthorized` answering `auth`, close
 *              4001, or a 401 on /poll, /sse (seen through /api/v1/history,
 *              since EventSource hides statuses), client-publish, or a
 *              `?token=` in a WebSocket URL (a browser shows a 401 there only
 *              as a socket that never opened, so that counts as one).
 * On `token_expired` the WebSocket sends `auth` with the fresh token on the
 * same connection (the server then keeps it; a failing getToken is retried
 * with backoff until the grace runs out); a refused fresh token or a
 * close 4001 reconnects with one more fresh token and resumes every topic from
 * its last offset. Long-poll and SSE continue from the remembered offsets
 * with the fresh token. Calls made at once (several topics) share one
 * getToken call. A getToken that throws, rejects or returns no string is
 * reported to onTokenError (err.code 'token_unavailable', err.cause) and
 * called again after the usual backoff, the state 'disconnected' until it
 * succeeds; a token the server keeps refusing backs off the same way (never
 * a hot loop). A getToken that never settles leaves the client waiting.
 * Without getToken nothing of this happens: `token` is sent as given.
 *
 * Thread contract: single-threaded (JavaScript event loop); callbacks run on it.
 * A callback that throws is reported with console.error and does not stop delivery.
 */
(function (root, factory) {
  'use strict';
  var Herald = factory(root);
  if (typeof module === 'object' && module && module.exports) {
    module.exports = Herald;
    module.exports.Herald = Herald;
  } else if (root) {
    root.Herald = Herald;
  }
})(typeof globalThis !== 'undefined' ? globalThis : this, function (root) {
  'use strict';

  var DEFAULTS = {
    transport: 'auto',
    minDelay: 250,
    maxDelay: 10000,
    connectTimeout: 10000,     // one WebSocket handshake
    autoFallbackAfter: 3000,   // 'auto': give up on WebSocket after this long
    pollTimeout: 25,           // seconds the server may hold a long-poll
    pingInterval: 20000,       // quiet this long -> send an application ping
    pingTimeout: 10000,        // and no answer this long -> the socket is dead
    requestTimeout: 10000,     // publish and other request/reply round trips
  };

  function backoffDelay(attempt, o) {
    var base = Math.min(o.maxDelay, o.minDelay * Math.pow(2, attempt));
    return Math.round(base * (0.5 + Math.random()));
  }

  function callSafely(fn, arg) {
    if (typeof fn !== 'function') return;
    try { fn(arg); } catch (e) { if (typeof console !== 'undefined') console.error('herald: handler threw', e); }
  }

  // When a compact JWS's `exp` falls (ms since 1970), else null. Reading the
  // claim needs no key: it only tells the client to fetch a fresh token before
  // sending one the server would refuse anyway.
  function tokenExpiry(token) {
    var parts = typeof token === 'string' ? token.split('.') : [];
    if (parts.length !== 3 || typeof atob !== 'function') return null;
    try {
      var b = parts[1].replace(/-/g, '+').replace(/_/g, '/');
      while (b.length % 4) b += '=';
      var claims = JSON.parse(atob(b));
      return claims && typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    } catch (e) {
      return null;
    }
  }

  function heraldError(code, reason) {
    var e = new Error(reason ? code + ': ' + reason : code);
    e.code = code;
    e.reason = reason;
    return e;
  }

  // A sleep that stop() can cut short, so closing never waits out a backoff.
  function Sleeper() { this.timer = null; this.wake = null; }
  Sleeper.prototype.sleep = function (ms) {
    var self = this;
    return new Promise(function (resolve) {
      self.wake = resolve;
      self.timer = setTimeout(function () { self.timer = null; self.wake = null; resolve(); }, ms);
    });
  };
  Sleeper.prototype.cancel = function () {
    if (this.timer) clearTimeout(this.timer);
    var w = this.wake;
    this.timer = null; this.wake = null;
    if (w) w();
  };

  // ---------------------------------------------------------------- WebSocket
  // One socket carries every topic. Requests carry ids; replies settle them.
  class WsTransport {
    constructor(h) {
      this.h = h;
      this.name = 'websocket';
      this.ws = null;
      this.attempt = 0;
      this.timer = null;
      this.heartbeat = null;
      this.lastRx = 0;
      this.pingSent = 0;
      this.pending = new Map();
      this.nextId = 1;
      this.stopped = false;
      this.everOpened = false;
      this.firstTry = 0;  // when the first connect began ('auto' measures from it)
      this.state = 'idle';  // no socket until the first subscribe
      // getToken only:
      this.fetching = false;    // a token is being fetched before connecting
      this.needToken = false;   // 'refused': the server refused the token, fetch one first
      this.usedToken = undefined;  // the token this connection authenticated with
      this.authPending = false; // auth sent, not yet answered
      this.renewing = null;     // the socket a token_expired renewal runs for
      this.renewSleeper = new Sleeper();
    }

    start() {
      if (!this.ws && !this.timer && !this.fetching && !this.stopped) this._connect();
    }

    _setState(s) {
      this.state = s;
      this.h._recomputeState();
    }

    _connect() {
      var self = this;
      if (this.h._held) {
        this._setState('disconnected');
        this.h._whenReleased().then(function () { if (!self.stopped && !self.ws && !self.timer && !self.fetching) self._connect(); });
        return;
      }
      this._setState('connecting');
      if (this.h._tokenNeeded(this.needToken)) {
        // Connecting with a token the server would refuse only to learn so
        // costs a round trip and, on a URL token, is indistinguishable from
        // an outage: fetch the fresh one first.
        this.fetching = true;
        this.h._freshToken(this.needToken || this.h._staleReason(), this.usedToken).then(function () {
          self.fetching = false;
          if (self.stopped) return;
          self.needToken = false;
          self._open();
        }, function (err) {
          self.fetching = false;
          if (!self.stopped) self._down(err.message, true);
        });
        return;
      }
      this._open();
    }

    _open() {
      var self = this;
      var WS = this.h._WebSocket;
      var ws;
      var url = this.h._wsUrlWithToken();
      this.usedToken = this.h.opts.token;
      try {
        ws = new WS(url);
      } catch (e) {
        this._down('cannot create WebSocket: ' + e.message);
        return;
      }
      this.ws = ws;
      if (!this.firstTry) this.firstTry = Date.now();
      var limit = this._autoPending()
        ? Math.max(1, this.firstTry + this.h.opts.autoFallbackAfter - Date.now()) : this.h.opts.connectTimeout;
      var openTimer = setTimeout(function () {
        if (self.ws === ws && ws.readyState !== 1) self._down('WebSocket did not open in ' + limit + ' ms');
      }, limit);
      var wasOpen = false;
      ws.onopen = function () {
        clearTimeout(openTimer);
        wasOpen = true;
        if (self.ws === ws) self._opened();
      };
      ws.onmessage = function (ev) {
        if (self.ws === ws) self._frame(ev.data);
      };
      var closed = function (ev) {
        clearTimeout(openTimer);
        if (self.ws !== ws) return;
        if (self.h.opts.getToken) {
          // 4001: the token expired and no fresh one arrived in the grace. A
          // `?token=` URL the server refused with 401 shows up only as a
          // socket that closed without opening, so treat that as a refusal too.
          if (ev.code === 4001 || (self.h._wsUrlToken && !wasOpen)) self.needToken = 'refused';
        }
        self._down('closed ' + ev.code + (ev.reason ? ' ' + ev.reason : ''));
      };
      ws.onclose = closed;
      // Browsers follow an error with a close event; Node's WebSocket (undici)
      // fires only the error when the handshake is refused (a 401 for a bad
      // `?token=`), which would otherwise wait out the open timeout.
      ws.onerror = function () { if (!wasOpen) closed({ code: 1006, reason: '' }); };
    }

    // 'auto' and no socket has opened yet: WebSocket is still on probation.
    _autoPending() {
      return !this.everOpened && this.h.opts.transport === 'auto';
    }

    _opened() {
      var self = this;
      this.everOpened = true;
      this.lastRx = Date.now();
      this.pingSent = 0;
      // Frames are handled in order by the server, so auth, subscribes and any
      // publish after them can be pipelined without waiting for replies.
      if (this.h.opts.token) {
        // With getToken the backoff is only reset once the token is accepted,
        // so a token the server keeps refusing cannot reconnect at full speed.
        this.authPending = !!this.h.opts.getToken;
        this._request({ op: 'auth', token: this.h.opts.token }, { kind: 'auth' });
      }
      this.h._topics.forEach(function (ts) { self._subscribe(ts); });
      this._setState('connected');
      this.heartbeat = setInterval(function () { self._beat(); }, Math.max(1000, Math.min(this.h.opts.pingInterval, this.h.opts.pingTimeout) / 2));
    }

    _beat() {
      var now = Date.now();
      if (this.pingSent && now - this.pingSent > this.h.opts.pingTimeout) {
        this._down('no pong in ' + this.h.opts.pingTimeout + ' ms');
      } else if (!this.pingSent && now - this.lastRx > this.h.opts.pingInterval) {
        this.pingSent = now;
        this._send({ op: 'ping' });
      }
    }

    // Tears the socket down and schedules the next attempt. Requests in flight
    // are rejected: whether a publish reached the server is unknown, and
    // retrying could publish twice.
    // `noSocket`: no connection was tried (getToken failed), so this says
    // nothing about whether WebSocket works: no 'auto' fallback.
    _down(why, noSocket) {
      var ws = this.ws;
      this.ws = null;
      this.authPending = false;
      this.renewing = null;
      this.renewSleeper.cancel();
      if (this.heartbeat) { clearInterval(this.heartbeat); this.heartbeat = null; }
      if (ws) {
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try { ws.close(); } catch (e) { /* already closing */ }
      }
      var pend = this.pending;
      this.pending = new Map();
      pend.forEach(function (p) { if (p.timer) clearTimeout(p.timer); if (p.reject) p.reject(heraldError('disconnected', why)); });
      if (this.stopped) return;
      this.h._log('websocket down: ' + why);
      this._setState('disconnected');
      var self = this;
      var delay = backoffDelay(this.attempt++, this.h.opts);
      var left = this.firstTry + this.h.opts.autoFallbackAfter - Date.now();
      if (this._autoPending() && delay >= left && !noSocket) {
        // The next try would come after the probation: settle for long-polling.
        this.timer = setTimeout(function () {
          self.timer = null;
          if (self.stopped) return;
          self.stopped = true;
          self.h._fallBack('longpoll', why);
        }, Math.max(0, left));
        return;
      }
      this.timer = setTimeout(function () { self.timer = null; if (!self.stopped) self._connect(); }, delay);
    }

    _send(obj) {
      if (!this.ws || this.ws.readyState !== 1) return false;
      this.ws.send(JSON.stringify(obj));
      return true;
    }

    _request(obj, extra) {
      var id = this.nextId++;
      obj.id = id;
      var entry = extra || {};
      this.pending.set(id, entry);
      if (entry.reject) {
        var self = this;
        entry.timer = setTimeout(function () {
          if (self.pending.delete(id)) entry.reject(heraldError('timeout', obj.op + ' got no reply'));
        }, this.h.opts.requestTimeout);
      }
      this._send(obj);
      return id;
    }

    _subscribe(ts) {
      var req = { op: 'subscribe', topic: ts.name };
      var resumed = ts.known;
      if (resumed) {
        req.since = ts.last;
        if (ts.epoch !== undefined) req.epoch = ts.epoch;
      }
      this._request(req, { kind: 'subscribe', ts: ts, resumed: resumed });
    }

    _frame(text) {
      this.lastRx = Date.now();
      this.pingSent = 0;
      var msg;
      try { msg = JSON.parse(text); } catch (e) { this.h._emitRaw(text); return; }
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) { this.h._emitRaw(text); return; }
      // The server answered something after open: the connection is healthy,
      // so the next outage starts its backoff from the shortest delay.
      if (!this.authPending) this.attempt = 0;
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        var p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (p.timer) clearTimeout(p.timer);
        this._reply(p, msg);
        return;
      }
      if (msg.op === 'message' && msg.topic !== undefined) this.h._onEnvelope(msg);
      else if (msg.op === 'join' || msg.op === 'leave') this.h._onEnvelope(msg);
      else if (msg.op === 'message' && msg.user !== undefined) this.h._emitPush(msg);
      else if (msg.op === 'error' && msg.code === 'token_expired' && this.h.opts.getToken) this._renew(this.ws);
      else if (msg.op === 'error') this.h._log('server error: ' + msg.code + ' ' + msg.reason);
    }

    // token_expired: the server keeps this socket for --token-expiry-grace
    // if `auth` brings a fresh token, and reconnecting would cost a resume of
    // every topic, so renew in place. A getToken failure is retried (with
    // backoff) until the grace runs out; the close 4001 then takes over.
    async _renew(ws) {
      if (this.renewing === ws) return;
      this.renewing = ws;
      var stale = this.usedToken;
      for (var n = 0; this.renewing === ws; n++) {
        try {
          var token = await this.h._freshToken('expired', stale);
          if (this.renewing !== ws) return;
          this.renewing = null;
          this.usedToken = token;
          this._request({ op: 'auth', token: token }, { kind: 'auth', renewal: true });
          return;
        } catch (e) {
          if (this.renewing !== ws) return;
          await this.renewSleeper.sleep(backoffDelay(n, this.h.opts));
        }
      }
    }

    _reply(p, msg) {
      if (p.kind === 'auth' && this.h.opts.getToken) {
        if (msg.op === 'authed') {
          this.authPending = false;
          this.attempt = 0;
        } else if (msg.op === 'error' && msg.code === 'unauthorized') {
          // Whatever this socket subscribed meanwhile went in without the
          // user: start clean with a token fetched for the purpose.
          this.needToken = 'refused';
          this._down('token refused: ' + msg.reason);
        }
      } else if (p.kind === 'subscribe') {
        if (msg.op === 'error') this.h._subscribeFailed(p.ts, heraldError(msg.code, msg.reason));
        else if (this.h._topics.get(p.ts.name) === p.ts) this.h._onSubscribed(p.ts, msg, p.resumed);
      } else if (p.resolve) {
        if (msg.op === 'error') p.reject(heraldError(msg.code, msg.reason));
        else p.resolve(msg);
      } else if (msg.op === 'error') {
        this.h._log('server refused ' + (p.kind || 'request') + ': ' + msg.code + ' ' + msg.reason);
      }
    }

    addTopic(ts) {
      this.start();
      if (this.ws && this.ws.readyState === 1) this._subscribe(ts);
    }

    removeTopic(ts) {
      if (this.ws && this.ws.readyState === 1) this._request({ op: 'unsubscribe', topic: ts.name }, { kind: 'unsubscribe' });
    }

    publish(topic, data) {
      var self = this;
      if (!this.ws || this.ws.readyState !== 1) return this.h._httpPublish(topic, data);
      return new Promise(function (resolve, reject) {
        self._request({ op: 'publish', topic: topic, data: data }, { kind: 'publish', resolve: resolve, reject: reject });
      }).then(function (reply) { return { offset: reply.offset }; });
    }

    drop() {
      if (this.ws) this._down('dropped by test hook');
    }

    stop() {
      this.stopped = true;
      if (this.timer) { clearTimeout(this.timer); this.timer = null; }
      this._down('client closed');
    }
  }

  // ------------------------------------------------------------- long-polling
  // One request loop per topic: GET /poll?topic=T&since=K&timeout=S.
  class PollChannel {
    constructor(h, ts) {
      this.h = h;
      this.ts = ts;
      this.attempt = 0;
      this.stopped = false;
      this.abort = null;
      this.sleeper = new Sleeper();
      this.state = 'connecting';
      this.confirmed = false;
      this.needToken = false;  // getToken only: 'refused' | 'expired', fetch one first
      this.usedToken = undefined;
    }

    _setState(s) {
      if (this.state === s) return;
      this.state = s;
      this.h._recomputeState();
    }

    async run() {
      var self = this;
      if (this.ts.known) {
        // Starting from a known position: everything after it will arrive,
        // so the subscription is in force before the first (held) poll returns.
        this.confirmed = true;
        this.h._emit(this.ts, 'onSubscribed', { topic: this.ts.name, epoch: this.ts.epoch, offset: this.ts.last, recovered: true });
      }
      while (!this.stopped) {
        if (this.h._held) {
          this._setState('disconnected');
          await this.h._whenReleased();
          continue;
        }
        if (!await this.h._ensureToken(this)) continue;
        if (this.stopped) return;
        var ts = this.ts;
        var resumed = ts.known;
        var q = 'topic=' + encodeURIComponent(ts.name) + '&since=' + ts.last + '&timeout=' + this.h.opts.pollTimeout;
        if (ts.epoch !== undefined) q += '&epoch=' + encodeURIComponent(ts.epoch);
        // The token counts this client in the topic's presence while its polls keep coming.
        if (this.h.opts.token) q += '&token=' + encodeURIComponent(this.h.opts.token);
        this.usedToken = this.h.opts.token;
        // A poll the server is still holding after a second has reached it
        // (refused connections fail faster), so count it as connected.
        var held = setTimeout(function () { self._setState('connected'); }, 1000);
        try {
          this.abort = typeof AbortController !== 'undefined' ? new AbortController() : null;
          // A fresh subscriber first learns where "now" is (a poll without
          // `since` would wait for the next message), then polls after it.
          var res = resumed
            ? await this.h._getJson('/poll?' + q, this.abort, (this.h.opts.pollTimeout + 10) * 1000)
            : await this.h._position(ts.name, this.abort);
          clearTimeout(held);
          if (this.stopped) return;
          this.attempt = 0;
          this._setState('connected');
          this.h._onBatch(ts, res, resumed, !this.confirmed);
          this.confirmed = true;
        } catch (e) {
          clearTimeout(held);
          if (this.stopped) return;
          this.h._log('long-poll ' + ts.name + ' failed: ' + e.message);
          if (e.code === 'bad_since') this.h._positionRejected(ts);
          else if (e.status === 403 || e.status === 400) this.h._subscribeFailed(ts, e);
          this._setState('disconnected');
          await this.h._afterFailure(this, e);
        }
      }
    }

    drop() {
      if (this.abort) this.abort.abort();
    }

    stop() {
      this.stopped = true;
      this.sleeper.cancel();
      if (this.abort) this.abort.abort();
    }
  }

  // ---------------------------------------------------------------------- SSE
  // One EventSource per topic. Every reconnect is ours, not EventSource's:
  // a new EventSource with `since=<last delivered>`, because the server
  // prefers the URL's `since` over Last-Event-ID and a native retry would
  // replay from the first position every time.
  class SseChannel {
    constructor(h, ts) {
      this.h = h;
      this.ts = ts;
      this.es = null;
      this.attempt = 0;
      this.stopped = false;
      this.sleeper = new Sleeper();
      this.state = 'connecting';
      this.ended = null;  // resolves when the current stream fails
      this.needToken = false;  // getToken only, as in PollChannel
      this.usedToken = undefined;
      this.expired = false;    // the stream ended with a token_expired event
    }

    _setState(s) {
      if (this.state === s) return;
      this.state = s;
      this.h._recomputeState();
    }

    async run() {
      var checkFirst = false;
      while (!this.stopped) {
        if (this.h._held) {
          this._setState('disconnected');
          await this.h._whenReleased();
          continue;
        }
        if (!await this.h._ensureToken(this)) continue;
        if (this.stopped) return;
        try {
          // A fresh stream would start at "now" without saying where that is,
          // and a refused one tells EventSource nothing about why; a plain
          // request settles both before the stream opens.
          if (!this.ts.known) await this._probe();
          else if (checkFirst) await this._validate();
        } catch (e) {
          if (this.stopped) return;
          this._setState('disconnected');
          await this.h._afterFailure(this, e);
          continue;
        }
        if (this.stopped) return;
        this.expired = false;
        var opened = await this._stream();
        if (this.stopped) return;
        checkFirst = !opened;
        this._setState('disconnected');
        // The server ended the stream at the token's exp, as announced: no
        // outage, so straight on with a fresh token from the last offset.
        if (this.expired) { this.needToken = 'expired'; continue; }
        await this.sleeper.sleep(backoffDelay(this.attempt++, this.h.opts));
      }
    }

    async _probe() {
      var res = await this.h._position(this.ts.name, null);
      if (!this.stopped) this.h._onBatch(this.ts, res, false, false);
    }

    async _validate() {
      var ts = this.ts;
      var q = 'topic=' + encodeURIComponent(ts.name) + '&since=' + ts.last + '&limit=1';
      if (ts.epoch !== undefined) q += '&epoch=' + encodeURIComponent(ts.epoch);
      // History refuses a bad token with the 401 the failed stream hid.
      try {
        await this.h._getJson('/api/v1/history?' + q + this.h._tokenQuery(), null, this.h.opts.requestTimeout);
      } catch (e) {
        if (e.code !== 'bad_since') throw e;
        this.h._positionRejected(ts);
        await this._probe();
      }
    }

    // Resolves when the stream fails: true if it had opened first.
    _stream() {
      var self = this;
      var ts = this.ts;
      var q = 'topic=' + encodeURIComponent(ts.name) + '&since=' + ts.last;
      if (ts.epoch !== undefined) q += '&epoch=' + encodeURIComponent(ts.epoch);
      if (this.h.opts.token) q += '&token=' + encodeURIComponent(this.h.opts.token);
      this.usedToken = this.h.opts.token;
      this._setState('connecting');
      var ES = this.h._EventSource;
      var es = new ES(this.h._httpUrl('/sse?' + q));
      this.es = es;
      var opened = false;
      return new Promise(function (resolve) {
        self.ended = function () {
          es.onopen = es.onmessage = es.onerror = null;
          es.close();
          if (self.es === es) self.es = null;
          self.ended = null;
          resolve(opened);
        };
        es.onopen = function () {
          opened = true;
          self.attempt = 0;
          self._setState('connected');
          self.h._emit(ts, 'onSubscribed', { topic: ts.name, epoch: ts.epoch, offset: ts.last, recovered: true });
        };
        es.onmessage = function (ev) {
          var env;
          try { env = JSON.parse(ev.data); } catch (e) { return; }
          if (!env || typeof env !== 'object') return;
          if (env.op === 'error' && env.code === 'token_expired' && self.h.opts.getToken) {
            // The stream's last event. Closing it here keeps EventSource from
            // reconnecting by itself with the expired token.
            self.expired = true;
            if (self.ended) self.ended();
            return;
          }
          if (env.topic === undefined) env.topic = ts.name;
          if (env.op === 'subscribed') self.h._onSubscribed(ts, env, true);
          else self.h._onEnvelope(env);
        };
        es.onerror = function () { if (self.ended) self.ended(); };
      });
    }

    drop() {
      if (this.ended) this.ended();
    }

    stop() {
      this.stopped = true;
      this.sleeper.cancel();
      if (this.ended) this.ended();
    }
  }

  // Long-polling and SSE share this: one channel per topic, HTTP publish.
  class PerTopicTransport {
    constructor(h, name, Channel) {
      this.h = h;
      this.name = name;
      this.Channel = Channel;
      this.channels = new Map();
    }
    start() {
      var self = this;
      this.h._topics.forEach(function (ts) { if (!self.channels.has(ts.name)) self.addTopic(ts); });
    }
    addTopic(ts) {
      var ch = new this.Channel(this.h, ts);
      this.channels.set(ts.name, ch);
      ch.run();
      this.h._recomputeState();
    }
    removeTopic(ts) {
      var ch = this.channels.get(ts.name);
      if (ch) { ch.stop(); this.channels.delete(ts.name); }
      this.h._recomputeState();
    }
    publish(topic, data) { return this.h._httpPublish(topic, data); }
    drop() { this.channels.forEach(function (ch) { ch.drop(); }); }
    stop() {
      this.channels.forEach(function (ch) { ch.stop(); });
      this.channels.clear();
    }
    get state() {
      var states = [];
      this.channels.forEach(function (ch) { states.push(ch.state); });
      if (states.indexOf('disconnected') >= 0) return 'disconnected';
      if (states.length === 0) return 'idle';
      if (states.indexOf('connecting') >= 0) return 'connecting';
      return 'connected';
    }
  }

  // Compat per-user long-poll: GET /poll?token=T&event=E&since=K&timeout=S.
  class EventWatch {
    constructor(h, event, handlers) {
      this.h = h;
      this.event = event;
      this.handlers = handlers || {};
      this.last = null;
      this.attempt = 0;
      this.stopped = false;
      this.abort = null;
      this.sleeper = new Sleeper();
      this.state = 'connecting';
      this.recheck = false;
      this.needToken = false;  // getToken only, as in PollChannel
      this.usedToken = undefined;
    }

    _setState(s) {
      if (this.state === s) return;
      this.state = s;
      this.h._recomputeState();
    }

    async run() {
      while (!this.stopped) {
        if (this.h._held) { this._setState('disconnected'); await this.h._whenReleased(); continue; }
        if (!await this.h._ensureToken(this)) continue;
        if (this.stopped) return;
        this.usedToken = this.h.opts.token;
        var q = 'token=' + encodeURIComponent(this.h.opts.token) + '&event=' + encodeURIComponent(this.event);
        // Per-user offsets carry no epoch, so after a failure we cannot tell
        // a restarted server (whose offsets start again below ours) from a
        // network blip. The server holds a poll from "the future" until its
        // timeout before answering recovered:false, and a push landing then
        // would be skipped; a short first poll keeps that window to a second.
        var wait = this.recheck ? 1 : this.h.opts.pollTimeout;
        // Without `since` (the first poll) the server waits for the next
        // push and answers it with the position to poll after, as the seed did.
        if (this.last !== null) q += '&since=' + this.last;
        q += '&timeout=' + wait;
        var self = this;
        var held = setTimeout(function () { self._setState('connected'); }, 1000);  // see PollChannel
        try {
          this.abort = typeof AbortController !== 'undefined' ? new AbortController() : null;
          var res = await this.h._getJson('/poll?' + q, this.abort, (this.h.opts.pollTimeout + 10) * 1000);
          clearTimeout(held);
          if (this.stopped) return;
          this.attempt = 0;
          this.recheck = false;
          var first = this.last === null;
          this._deliver(res);
          this._setState('connected');
          if (first) callSafely(this.handlers.onReady, { offset: this.last });
        } catch (e) {
          clearTimeout(held);
          if (this.stopped) return;
          this.h._log('user poll failed: ' + e.message);
          // Per-user offsets have no epoch: a restarted server knows only
          // lower ones and refuses ours. Start again from "now".
          if (e.code === 'bad_since') this.last = null;
          this.recheck = true;
          this._setState('disconnected');
          await this.h._afterFailure(this, e);
        }
      }
    }

    _deliver(res) {
      var msgs = Array.isArray(res.messages) ? res.messages : [];
      var last = this.last === null ? 0 : this.last;
      if (res.recovered === false && this.last !== null) callSafely(this.handlers.onRecover, { recovered: false, offset: res.offset });
      for (var i = 0; i < msgs.length; i++) {
        var m = msgs[i];
        // Offset 0: a fleet node delivered it while its bus was down; it is
        // in no history, so it moves no position.
        if (typeof m.offset === 'number' && m.offset > 0) {
          if (m.offset <= last) continue;
          last = m.offset;
        }
        if (m.event === undefined || m.event === this.event) callSafely(this.handlers.onMessage, m);
      }
      // An empty answer that reports a later offset means we are behind a
      // lost stretch (or this is the first poll): continue from "now".
      if (typeof res.offset === 'number' && (msgs.length === 0 || this.last === null)) last = Math.max(last, res.offset);
      if (typeof res.offset === 'number' && res.offset < last) last = res.offset;  // per-user history restarted
      this.last = last;
    }

    drop() { if (this.abort) this.abort.abort(); }

    stop() {
      this.stopped = true;
      this.sleeper.cancel();
      if (this.abort) this.abort.abort();
      this.h._watches.delete(this);
      this.h._recomputeState();
    }
  }

  // ------------------------------------------------------------------- Herald
  class Herald {
    constructor(options) {
      var o = {};
      var k;
      for (k in DEFAULTS) o[k] = DEFAULTS[k];
      for (k in (options || {})) if (options[k] !== undefined) o[k] = options[k];
      if (!o.url) {
        if (root && root.location && root.location.origin && root.location.origin !== 'null') o.url = root.location.origin;
        else throw new Error('Herald: options.url is required outside a page');
      }
      if (['auto', 'websocket', 'longpoll', 'sse'].indexOf(o.transport) < 0) throw new Error('Herald: unknown transport ' + o.transport);
      if (o.getToken !== undefined && typeof o.getToken !== 'function') throw new Error('Herald: getToken must be a function');
      this.opts = o;
      var base = String(o.url).replace(/\/+$/, '');
      this._base = base.replace(/^ws(s?):/, 'http$1:');
      this._wsUrl = /^wss?:/.test(base) ? base : base.replace(/^http(s?):/, 'ws$1:') + '/ws';
      if (/\/ws$/.test(this._base)) this._base = this._base.slice(0, -3);
      // A WebSocket URL that carries its own `?token=`: getToken's tokens replace it.
      this._wsUrlToken = !!o.getToken && /[?&]token=/.test(this._wsUrl);
      this._tokenPromise = null;
      this._WebSocket = o.WebSocket || (root && root.WebSocket);
      this._EventSource = o.EventSource || (root && root.EventSource);
      this._fetch = o.fetch || (root && root.fetch && root.fetch.bind(root));
      this._topics = new Map();
      this._watches = new Set();
      this._stateFns = new Set();
      this._pushFns = new Set();
      this._rawFns = new Set();
      this._state = 'connecting';
      this._held = false;
      this._release = null;
      this._releasePromise = null;
      this._closed = false;
      this._transport = this._makeTransport(o.transport === 'auto' ? 'websocket' : o.transport);
    }

    get transport() { return this._transport ? this._transport.name : null; }
    get state() { return this._state; }

    _makeTransport(name) {
      if (name === 'websocket') {
        if (!this._WebSocket) throw new Error('Herald: no WebSocket implementation');
        return new WsTransport(this);
      }
      if (name === 'sse') {
        if (!this._EventSource) throw new Error('Herald: no EventSource implementation');
        return new PerTopicTransport(this, 'sse', SseChannel);
      }
      return new PerTopicTransport(this, 'longpoll', PollChannel);
    }

    // 'auto' only: WebSocket never opened, so carry on over long-polling.
    _fallBack(name, why) {
      this._log('falling back to ' + name + ' (' + why + ')');
      this._transport = this._makeTransport(name);
      this._transport.start();
      this._recomputeState();
    }

    subscribe(topic, handlers, position) {
      if (this._closed) throw new Error('Herald: closed');
      if (typeof topic !== 'string' || !topic) throw new Error('Herald: topic must be a non-empty string');
      var ts = this._topics.get(topic);
      var fresh = !ts;
      if (fresh) {
        ts = { name: topic, subs: new Set(), last: 0, epoch: undefined, known: false };
        if (position && typeof position.since === 'number') {
          ts.last = position.since;
          ts.epoch = position.epoch;
          ts.known = true;
        }
        this._topics.set(topic, ts);
      }
      var self = this;
      var sub = {
        topic: topic,
        handlers: handlers || {},
        unsubscribe: function () { self._unsubscribe(ts, sub); },
      };
      ts.subs.add(sub);
      if (fresh) this._transport.addTopic(ts);
      return sub;
    }

    _unsubscribe(ts, sub) {
      if (!ts.subs.delete(sub) || ts.subs.size > 0) return;
      if (this._topics.get(ts.name) !== ts) return;
      this._topics.delete(ts.name);
      if (!this._closed) this._transport.removeTopic(ts);
    }

    publish(topic, data) {
      if (this._closed) return Promise.reject(new Error('Herald: closed'));
      return this._transport.publish(topic, data);
    }

    history(topic, opts) {
      var q = 'topic=' + encodeURIComponent(topic);
      if (opts && opts.since !== undefined) q += '&since=' + opts.since;
      if (opts && opts.limit !== undefined) q += '&limit=' + opts.limit;
      return this._getJson('/api/v1/history?' + q + this._tokenQuery(), null, this.opts.requestTimeout);
    }

    presence(topic) {
      return this._getJson('/api/v1/presence?topic=' + encodeURIComponent(topic), null, this.opts.requestTimeout);
    }

    watchEvent(event, handlers) {
      if (!this.opts.token && !this.opts.getToken) throw new Error('Herald: watchEvent needs options.token or getToken');
      var w = new EventWatch(this, event, handlers);
      this._watches.add(w);
      w.run();
      this._recomputeState();
      return { unsubscribe: function () { w.stop(); } };
    }

    onState(fn) {
      var fns = this._stateFns;
      fns.add(fn);
      callSafely(fn, this._state);
      return function () { fns.delete(fn); };
    }

    // Messages pushed to this user with POST /api/v1/push (WebSocket only).
    onPush(fn) {
      var fns = this._pushFns;
      fns.add(fn);
      return function () { fns.delete(fn); };
    }

    close() {
      if (this._closed) return;
      this._closed = true;
      this._transport.stop();
      this._watches.forEach(function (w) { w.stop(); });
      if (this._release) this._release();
      this._setState('disconnected');
    }

    // ---- tokens (getToken only)

    // Whether to fetch a token before the next request: the server refused
    // the last one (`refused`), there is none yet, or its `exp` has passed
    // (a second early, so one the server would refuse in flight is not sent).
    _tokenNeeded(refused) {
      if (!this.opts.getToken) return false;
      if (refused || !this.opts.token) return true;
      var exp = tokenExpiry(this.opts.token);
      return exp !== null && exp - Date.now() < 1000;
    }

    _staleReason() { return this.opts.token ? 'expired' : 'initial'; }

    // Before a channel's next request (long-poll, SSE, watchEvent): a fresh
    // token if it needs one. False, after the backoff, when getToken failed:
    // the caller goes round its loop again.
    async _ensureToken(ch) {
      if (!this._tokenNeeded(ch.needToken)) return true;
      try {
        await this._freshToken(ch.needToken || this._staleReason(), ch.usedToken);
        ch.needToken = false;
        return true;
      } catch (e) {
        if (ch.stopped) return false;
        ch._setState('disconnected');
        await ch.sleeper.sleep(backoffDelay(ch.attempt++, this.opts));
        return false;
      }
    }

    // A channel's request failed: back off, except that the first 401 of a
    // run goes straight to a fresh token (the server is up and said why); a
    // fresh token refused again backs off like any failure.
    async _afterFailure(ch, e) {
      var delay = backoffDelay(ch.attempt++, this.opts);
      if (e && e.status === 401 && this.opts.getToken) {
        ch.needToken = 'refused';
        if (ch.attempt === 1) return;
      }
      await ch.sleeper.sleep(delay);
    }

    // A token newer than `stale` (the one the caller saw refused or expire):
    // the current one if someone already replaced it, else getToken's next.
    // Concurrent callers (one per topic on long-poll and SSE) share one call.
    _freshToken(reason, stale) {
      var self = this;
      if (this.opts.token && this.opts.token !== stale && !this._tokenNeeded(false)) return Promise.resolve(this.opts.token);
      if (this._tokenPromise) return this._tokenPromise;
      var p = new Promise(function (resolve) { resolve(self.opts.getToken({ reason: reason })); }).then(function (token) {
        self._tokenPromise = null;
        if (typeof token !== 'string' || !token) throw new Error('getToken gave ' + (token === '' ? 'an empty string' : typeof token));
        self.opts.token = token;
        return token;
      }).catch(function (e) {
        self._tokenPromise = null;
        var err = heraldError('token_unavailable', e && e.message ? e.message : String(e));
        err.cause = e;
        self._log('getToken failed: ' + err.reason);
        if (!self._closed) callSafely(self.opts.onTokenError, err);
        throw err;
      });
      this._tokenPromise = p;
      return p;
    }

    _wsUrlWithToken() {
      if (!this._wsUrlToken || !this.opts.token) return this._wsUrl;
      var token = encodeURIComponent(this.opts.token);
      return this._wsUrl.replace(/([?&]token=)[^&#]*/, function (all, key) { return key + token; });
    }

    // ---- test hooks: simulate an outage without touching the network.
    // _dropConnection() cuts every live connection as a network failure would;
    // _hold(true) keeps the client from reconnecting until _hold(false).
    _dropConnection() {
      this._transport.drop();
      this._watches.forEach(function (w) { w.drop(); });
    }

    _hold(on) {
      if (on && !this._held) {
        var self = this;
        this._held = true;
        this._releasePromise = new Promise(function (resolve) { self._release = resolve; });
      } else if (!on && this._held) {
        this._held = false;
        var r = this._release;
        this._release = null;
        r();
      }
    }

    _whenReleased() {
      return this._held ? this._releasePromise : Promise.resolve();
    }

    // ---- internals shared by the transports

    // The worst state of anything that should be connected; a transport with
    // nothing to carry yet ('idle') does not count.
    _recomputeState() {
      var states = [];
      if (this._transport && this._transport.state !== 'idle') states.push(this._transport.state);
      this._watches.forEach(function (w) { states.push(w.state); });
      var s = 'connecting';
      if (this._closed || states.indexOf('disconnected') >= 0) s = 'disconnected';
      else if (states.length > 0 && states.indexOf('connecting') < 0) s = 'connected';
      this._setState(s);
    }

    _setState(s) {
      if (s === this._state) return;
      this._state = s;
      this._stateFns.forEach(function (fn) { callSafely(fn, s); });
    }

    // A confirmed (re)subscription. `resumed` means we asked for messages
    // after a known position; recovered:false then tells the app it has a gap.
    _onSubscribed(ts, reply, resumed) {
      var lost = false;
      if (reply.epoch !== undefined && reply.epoch !== null) {
        if (ts.epoch !== undefined && reply.epoch !== ts.epoch) lost = true;
        // Offsets of a new epoch start again from 1: forget the old ones so
        // the new stream's messages are not taken for duplicates.
        if (lost) ts.last = 0;
        ts.epoch = reply.epoch;
      }
      if (typeof reply.offset === 'number' && reply.offset < ts.last) {
        // The server is behind what we delivered (its history was reset
        // under the same epoch): everything after its offset is new to us.
        ts.last = reply.offset;
        lost = true;
      }
      if (!resumed && typeof reply.offset === 'number') {
        // Live-only subscription: the reply says where "now" is, so a later
        // resume asks for exactly what happens after it.
        ts.last = Math.max(ts.last, reply.offset);
        ts.known = true;
      }
      var info = { topic: ts.name, epoch: ts.epoch, offset: reply.offset, recovered: reply.recovered !== false && !lost };
      if (resumed && !info.recovered) this._emit(ts, 'onRecover', { topic: ts.name, recovered: false, epoch: ts.epoch, offset: reply.offset });
      this._emit(ts, 'onSubscribed', info);
    }

    // The server refused our position as ahead of its own (its history was
    // reset without a new epoch): start again from "now" and tell the app.
    _positionRejected(ts) {
      ts.known = false;
      ts.last = 0;
      this._emit(ts, 'onRecover', { topic: ts.name, recovered: false, epoch: ts.epoch });
    }

    _subscribeFailed(ts, err) {
      this._emit(ts, 'onError', err);
    }

    // A long-poll answer (history shape) for one topic.
    _onBatch(ts, res, resumed, firstConfirm) {
      if (!res || typeof res !== 'object') return;
      var lost = false;
      if (res.epoch !== undefined && res.epoch !== null) {
        if (ts.epoch !== undefined && res.epoch !== ts.epoch) { lost = true; ts.last = 0; }
        ts.epoch = res.epoch;
      }
      if (typeof res.offset === 'number' && res.offset < ts.last) { lost = true; ts.last = res.offset; }
      if (resumed && (res.recovered === false || lost)) {
        this._emit(ts, 'onRecover', { topic: ts.name, recovered: false, epoch: ts.epoch, offset: res.offset });
      }
      var msgs = Array.isArray(res.messages) ? res.messages : [];
      for (var i = 0; i < msgs.length; i++) {
        var env = msgs[i];
        if (env && env.topic === undefined) env.topic = ts.name;
        if (env && env.op === undefined) env.op = 'message';
        this._onEnvelope(env);
      }
      if (typeof res.offset === 'number' && (!resumed || msgs.length === 0) && res.offset > ts.last) {
        // Nothing to deliver yet the topic is ahead: either this is the first
        // poll ("start from now") or the gap fell out of history.
        ts.last = res.offset;
      }
      ts.known = true;
      if (firstConfirm) this._emit(ts, 'onSubscribed', { topic: ts.name, epoch: ts.epoch, offset: res.offset, recovered: res.recovered !== false && !lost });
    }

    // Every topic envelope from every transport passes here, which is what
    // makes "no duplicate offsets" hold across reconnects and transports.
    _onEnvelope(env) {
      var ts = this._topics.get(env.topic);
      if (!ts) return;
      if (env.op === 'join') { this._emit(ts, 'onJoin', env); return; }
      if (env.op === 'leave') { this._emit(ts, 'onLeave', env); return; }
      if (env.op !== 'message') return;
      if (env.offset !== 0 && env.epoch !== undefined && env.epoch !== null && env.epoch !== ts.epoch) {
        if (ts.epoch !== undefined) {
          // The server lost its history under us (restart) without a
          // subscribe reply to say so, e.g. an SSE stream that reconnected.
          ts.last = 0;
          ts.epoch = env.epoch;
          this._emit(ts, 'onRecover', { topic: ts.name, recovered: false, epoch: env.epoch, offset: env.offset });
        }
        ts.epoch = env.epoch;
      }
      if (typeof env.offset === 'number' && env.offset > 0) {
        if (env.offset <= ts.last && ts.known) return;
        ts.last = env.offset;
        if (ts.epoch !== undefined) ts.known = true;
      }
      this._emit(ts, 'onMessage', env);
    }

    _emit(ts, name, arg) {
      ts.subs.forEach(function (sub) { callSafely(sub.handlers[name], arg); });
    }

    _emitPush(msg) { this._pushFns.forEach(function (fn) { callSafely(fn, msg); }); }
    _emitRaw(text) { this._rawFns.forEach(function (fn) { callSafely(fn, text); }); }

    _log(text) {
      if (this.opts.debug && typeof console !== 'undefined') console.log('herald: ' + text);
    }

    _httpUrl(path) { return this._base + path; }

    // History is read as a subscriber would read it: a private topic, or one
    // only the token's `channels` grant, answers 403 to a reader without it.
    _tokenQuery() { return this.opts.token ? '&token=' + encodeURIComponent(this.opts.token) : ''; }

    // A topic's current position as a long-poll answer with no messages, at
    // once: the history endpoint, because a /poll without `since` waits for
    // the next message.
    async _position(topic, abort) {
      var res = await this._getJson('/api/v1/history?topic=' + encodeURIComponent(topic) + '&limit=1' +
        this._tokenQuery(), abort, this.opts.requestTimeout);
      return { topic: topic, epoch: res && res.epoch, offset: res && res.offset, recovered: true, messages: [] };
    }

    async _getJson(path, abort, timeoutMs) {
      return this._fetchJson(path, { method: 'GET' }, abort, timeoutMs);
    }

    async _fetchJson(path, init, abort, timeoutMs) {
      if (!this._fetch) throw new Error('Herald: no fetch implementation');
      var ctrl = abort || (typeof AbortController !== 'undefined' ? new AbortController() : null);
      if (ctrl) init.signal = ctrl.signal;
      if (root && root.document) init.cache = 'no-store';  // Node's fetch rejects cache modes
      var timer = ctrl && timeoutMs ? setTimeout(function () { ctrl.abort(); }, timeoutMs) : null;
      try {
        var res = await this._fetch(this._httpUrl(path), init);
        var text = await res.text();
        var body;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: 'bad_json', reason: text }; }
        if (!res.ok) {
          var err = heraldError((body && body.error) || 'http_' + res.status, (body && body.reason) || text);
          err.status = res.status;
          throw err;
        }
        return body;
      } finally {
        if (timer) clearTimeout(timer);
      }
    }

    async _httpPublish(topic, data) {
      var self = this;
      var send = function () {
        var body = { topic: topic, data: data };
        if (self.opts.token) body.token = self.opts.token;
        return self._fetchJson('/api/v1/client-publish', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        }, null, self.opts.requestTimeout);
      };
      var r;
      if (this._tokenNeeded(false)) await this._freshToken(this._staleReason(), this.opts.token);
      var used = this.opts.token;
      try {
        r = await send();
      } catch (e) {
        // A 401 published nothing, so one retry with a fresh token is safe.
        if (e.status !== 401 || !this.opts.getToken) throw e;
        await this._freshToken('refused', used);
        r = await send();
      }
      return { offset: r && r.offset };
    }
  }

  Herald.backoffDelay = backoffDelay;
  return Herald;
});
