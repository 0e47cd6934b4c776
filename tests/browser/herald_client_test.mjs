// Unit tests of gateway/www/herald.js in Node: the client's resume, dedupe,
// recovery, fallback and token renewal (getToken) logic, driven through
// scripted stand-ins for WebSocket, EventSource and fetch (no network, no
// server, no browser).
//
//   node --test tests/browser/herald_client_test.mjs
import test, { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const HeraldClient = require('../../gateway/www/herald.js');

// Every client a test makes is closed after it, also when an assertion
// failed first: a live client's reconnect timers would keep the run going.
const made = [];
class Herald extends HeraldClient {
  constructor(o) { super(o); made.push(this); }
}
afterEach(() => { made.splice(0).forEach((h) => h.close()); });

// A WebSocket whose server side the test plays by hand.
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  receive(obj) { this.onmessage && this.onmessage({ data: JSON.stringify(obj) }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose && this.onclose({ code, reason }); }
  lastSent(op) { return this.sent.filter((f) => f.op === op).pop(); }
}
FakeSocket.all = [];

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick(5);
  }
}

function wsClient(extra) {
  FakeSocket.all = [];
  return new Herald(Object.assign({
    url: 'http://127.0.0.1:1', token: 'bob', transport: 'websocket',
    WebSocket: FakeSocket, minDelay: 1, maxDelay: 2,
  }, extra));
}

function msg(offset, epoch = 'e1') {
  return { op: 'message', topic: 'room:a', offset, epoch, ts: 1, data: { text: `m${offset}` } };
}

// Subscribes, lets the server confirm at `offset`, and returns the collected events.
async function subscribed(h, offset = 0, epoch = 'e1') {
  const got = { messages: [], recovers: [] };
  h.subscribe('room:a', {
    onMessage: (m) => got.messages.push(m.offset),
    onRecover: (r) => got.recovers.push(r),
  });
  const ws = FakeSocket.all[0];
  ws.open();
  const sub = ws.lastSent('subscribe');
  ws.receive({ op: 'subscribed', topic: 'room:a', id: sub.id, epoch, offset, recovered: true });
  return { got, ws };
}

test('the socket authenticates before it subscribes, and a fresh subscribe asks for live messages only', async () => {
  const h = wsClient();
  const { ws } = await subscribed(h);
  assert.deepEqual(ws.sent.map((f) => f.op), ['auth', 'subscribe']);
  assert.equal(ws.sent[0].token, 'bob');
  assert.equal(ws.sent[1].since, undefined);
  assert.equal(ws.url, 'ws://127.0.0.1:1/ws');
  h.close();
});

test('a re-subscribe after a drop asks for messages after the last offset and epoch delivered', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 4);
  ws.receive(msg(5));
  ws.receive(msg(6));
  ws.drop();
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  const sub = again.lastSent('subscribe');
  assert.equal(sub.since, 6);
  assert.equal(sub.epoch, 'e1');
  assert.deepEqual(got.messages, [5, 6]);
  h.close();
});

test('an offset already delivered is never delivered again', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 0);
  for (const o of [1, 2, 2, 1, 3]) ws.receive(msg(o));
  ws.drop();
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  const sub = again.lastSent('subscribe');
  again.receive({ op: 'subscribed', topic: 'room:a', id: sub.id, epoch: 'e1', offset: 4, recovered: true });
  for (const o of [3, 4]) again.receive(msg(o));
  assert.deepEqual(got.messages, [1, 2, 3, 4]);
  h.close();
});

test('a resume the server cannot recover calls onRecover with recovered false', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 10);
  ws.drop();
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  const sub = again.lastSent('subscribe');
  again.receive({ op: 'subscribed', topic: 'room:a', id: sub.id, epoch: 'e1', offset: 900, recovered: false });
  assert.equal(got.recovers.length, 1);
  assert.equal(got.recovers[0].recovered, false);
  h.close();
});

test('a new epoch restarts offsets instead of taking the new stream for duplicates', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 7);
  ws.receive(msg(8));
  ws.drop();
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  const sub = again.lastSent('subscribe');
  again.receive({ op: 'subscribed', topic: 'room:a', id: sub.id, epoch: 'e2', offset: 0, recovered: false });
  again.receive(msg(1, 'e2'));
  assert.deepEqual(got.messages, [8, 1]);
  assert.equal(got.recovers.length, 1);
  h.close();
});

test('a server that is behind the last offset delivered does not make new messages look like duplicates', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 0);
  for (const o of [1, 2, 3]) ws.receive(msg(o));
  ws.drop();
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  const sub = again.lastSent('subscribe');
  again.receive({ op: 'subscribed', topic: 'room:a', id: sub.id, epoch: 'e1', offset: 1, recovered: false });
  again.receive(msg(2));
  assert.deepEqual(got.messages, [1, 2, 3, 2]);
  assert.equal(got.recovers.length, 1);
  h.close();
});

test('a publish over WebSocket resolves with the offset of the published reply', async () => {
  const h = wsClient();
  const { ws } = await subscribed(h);
  const p = h.publish('room:a', { text: 'hi' });
  const req = ws.lastSent('publish');
  assert.deepEqual(req.data, { text: 'hi' });
  ws.receive({ op: 'published', topic: 'room:a', offset: 3, id: req.id });
  assert.deepEqual(await p, { offset: 3 });
  const refused = h.publish('lobby', 1);
  ws.receive({ op: 'error', code: 'forbidden', reason: 'no', id: ws.lastSent('publish').id });
  await assert.rejects(refused, (e) => e.code === 'forbidden');
  h.close();
});

test('reconnect delays double from 250 ms up to 10 s, each jittered within 50%', () => {
  const o = { minDelay: 250, maxDelay: 10000 };
  for (let attempt = 0; attempt < 12; attempt++) {
    const base = Math.min(10000, 250 * 2 ** attempt);
    for (let i = 0; i < 50; i++) {
      const d = Herald.backoffDelay(attempt, o);
      assert.ok(d >= base * 0.5 && d <= base * 1.5, `attempt ${attempt}: ${d}`);
    }
  }
});

// fetch stand-in answering /poll from a scripted list of bodies.
function scriptedFetch(answers, log) {
  return async (url, init) => {
    log.push(url);
    const body = answers.shift();
    if (body === undefined) {
      return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    return { ok: true, status: 200, text: async () => JSON.stringify(body) };
  };
}

test('a long-poll client starts from the current offset and then polls after the last message it got', async () => {
  const log = [];
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', minDelay: 1, maxDelay: 2,
    fetch: scriptedFetch([
      // "now" comes from history (whose one message is old), since a poll without `since` waits.
      { topic: 'room:a', epoch: 'e1', offset: 5, recovered: true, messages: [msg(5)] },
      { topic: 'room:a', epoch: 'e1', offset: 7, recovered: true, messages: [msg(6), msg(7)] },
    ], log),
  });
  const got = [];
  const subscribed = [];
  h.subscribe('room:a', { onMessage: (m) => got.push(m.offset), onSubscribed: (i) => subscribed.push(i.offset) });
  await waitFor(() => log.length === 3);
  assert.match(log[0], /\/api\/v1\/history\?topic=room%3Aa&limit=1$/);
  assert.match(log[1], /\/poll\?topic=room%3Aa&since=5&/);
  assert.match(log[2], /since=7&/);
  assert.deepEqual(got, [6, 7]);
  assert.deepEqual(subscribed, [5]);
  h.close();
});

test('a long-poll client with a token sends it, so presence counts it while it polls', async () => {
  const log = [];
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'carol', minDelay: 1, maxDelay: 2,
    fetch: scriptedFetch([{ topic: 'room:a', epoch: 'e1', offset: 0, recovered: true, messages: [] }], log),
  });
  h.subscribe('room:a', {});
  await waitFor(() => log.length === 2);
  assert.match(log[1], /\/poll\?topic=room%3Aa&since=0&timeout=25&epoch=e1&token=carol$/);
  h.close();
});

test('an SSE client learns where "now" is from history, not from a poll that would wait', async () => {
  const log = [];
  const streams = [];
  class FakeEventSource {
    constructor(url) { this.url = url; streams.push(this); }
    close() {}
  }
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'sse', EventSource: FakeEventSource, minDelay: 1, maxDelay: 2,
    fetch: scriptedFetch([{ topic: 'room:a', epoch: 'e1', offset: 4, recovered: true, messages: [msg(4)] }], log),
  });
  h.subscribe('room:a', {});
  await waitFor(() => streams.length === 1);
  assert.match(log[0], /\/api\/v1\/history\?topic=room%3Aa&limit=1$/);
  assert.match(streams[0].url, /\/sse\?topic=room%3Aa&since=4&epoch=e1$/);
  h.close();
});

test('watchEvent waits for the next push on its first poll and then polls after it', async () => {
  const log = [];
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'dan', minDelay: 1, maxDelay: 2,
    fetch: scriptedFetch([
      { user: 'dan', epoch: 'e', offset: 9, recovered: true, messages: [{ offset: 9, ts: 1, event: 'authcode', message: '123456' }] },
    ], log),
  });
  const codes = [];
  h.watchEvent('authcode', { onMessage: (m) => codes.push(m.message) });
  await waitFor(() => log.length === 2);
  assert.match(log[0], /\/poll\?token=dan&event=authcode&timeout=25$/);
  assert.match(log[1], /&since=9&timeout=25$/);
  assert.deepEqual(codes, ['123456']);
  h.close();
});

test('auto settles on long-polling when the WebSocket cannot open in time', async () => {
  FakeSocket.all = [];
  const log = [];
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'auto', autoFallbackAfter: 30,
    WebSocket: FakeSocket, fetch: scriptedFetch([], log),
  });
  h.subscribe('room:a', {});
  assert.equal(h.transport, 'websocket');
  await waitFor(() => h.transport === 'longpoll' && log.length === 1);
  assert.equal(FakeSocket.all.length, 1);
  h.close();
});

// ------------------------------------------------------------ getToken

// A getToken stand-in: answers from `script` in turn (a string, or an Error
// to reject with), then `fallback`; records every call's ctx and time.
function tokenSource(script, fallback = 'fresh') {
  const calls = [];
  const fn = (ctx) => {
    calls.push({ reason: ctx && ctx.reason, at: Date.now() });
    const next = script.length ? script.shift() : fallback;
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  fn.calls = calls;
  return fn;
}

// A compact JWS whose payload says `exp` (seconds); the signature is junk,
// since the client only reads the claim.
function jwtWithExp(exp, sub = 'bob') {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, exp })}.c2ln`;
}

test('token_expired makes the socket send auth with a fresh token from getToken on the same connection, without reconnecting', async () => {
  const getToken = tokenSource([], 'bob-2');
  const h = wsClient({ getToken });
  const { got, ws } = await subscribed(h, 4);
  ws.receive({ op: 'authed', user: 'bob', id: ws.sent[0].id });
  ws.receive(msg(5));
  ws.receive({ op: 'error', code: 'token_expired', reason: 'token expired' });
  await waitFor(() => ws.sent.filter((f) => f.op === 'auth').length === 2);
  const renewal = ws.lastSent('auth');
  assert.equal(renewal.token, 'bob-2');
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['expired']);
  ws.receive({ op: 'authed', user: 'bob', id: renewal.id });
  ws.receive(msg(6));
  await tick(20);
  assert.equal(FakeSocket.all.length, 1);
  assert.equal(h.state, 'connected');
  assert.deepEqual(got.messages, [5, 6]);
  assert.equal(h.opts.token, 'bob-2');
  h.close();
});

test('a close 4001 reconnects with a token freshly fetched from getToken and resubscribes from the last offsets', async () => {
  const getToken = tokenSource([], 'bob-2');
  const h = wsClient({ getToken });
  const { got, ws } = await subscribed(h, 4);
  ws.receive(msg(5));
  ws.receive(msg(6));
  ws.drop(4001, 'token expired');
  await waitFor(() => FakeSocket.all.length === 2);
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['refused']);
  const again = FakeSocket.all[1];
  again.open();
  assert.deepEqual(again.sent.map((f) => f.op), ['auth', 'subscribe']);
  assert.equal(again.sent[0].token, 'bob-2');
  assert.equal(again.sent[1].since, 6);
  assert.equal(again.sent[1].epoch, 'e1');
  again.receive({ op: 'authed', user: 'bob', id: again.sent[0].id });
  again.receive({ op: 'subscribed', topic: 'room:a', id: again.sent[1].id, epoch: 'e1', offset: 7, recovered: true });
  for (const o of [6, 7]) again.receive(msg(o));
  assert.deepEqual(got.messages, [5, 6, 7]);
  h.close();
});

test('a getToken that rejects twice and then succeeds is retried with growing backoff, reported each time, and then connects', async () => {
  const errors = [];
  const states = [];
  const getToken = tokenSource([new Error('auth server down'), new Error('still down')], 'bob-3');
  const h = wsClient({ token: undefined, getToken, minDelay: 40, maxDelay: 1000, onTokenError: (e) => errors.push(e) });
  h.onState((s) => states.push(s));
  const random = Math.random;
  Math.random = () => 0.5;  // no jitter: the delays are exactly 40 and 80 ms
  try {
    h.subscribe('room:a', {});
    await waitFor(() => FakeSocket.all.length === 1);
  } finally {
    Math.random = random;
  }
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['initial', 'initial', 'initial']);
  const [a, b, c] = getToken.calls.map((x) => x.at);
  assert.ok(b - a >= 38, `first retry after ${b - a} ms`);
  assert.ok(c - b >= 78, `second retry after ${c - b} ms`);
  assert.deepEqual(errors.map((e) => e.code), ['token_unavailable', 'token_unavailable']);
  assert.match(errors[0].message, /auth server down/);
  assert.ok(states.includes('disconnected'));
  const ws = FakeSocket.all[0];
  ws.open();
  assert.equal(ws.sent[0].op, 'auth');
  assert.equal(ws.sent[0].token, 'bob-3');
  assert.equal(h.state, 'connected');
  h.close();
});

test('without getToken a close 4001 reconnects as before, authenticating with the same token', async () => {
  const h = wsClient();
  const { got, ws } = await subscribed(h, 4);
  ws.receive(msg(5));
  ws.drop(4001, 'token expired');
  await waitFor(() => FakeSocket.all.length === 2);
  const again = FakeSocket.all[1];
  again.open();
  assert.deepEqual(again.sent.map((f) => f.op), ['auth', 'subscribe']);
  assert.equal(again.sent[0].token, 'bob');
  assert.equal(again.sent[1].since, 5);
  // A refused auth is only logged: the socket stays.
  again.receive({ op: 'error', code: 'unauthorized', reason: 'token expired', id: again.sent[0].id });
  await tick(20);
  assert.equal(FakeSocket.all.length, 2);
  assert.deepEqual(got.messages, [5]);
  h.close();
});

test('a fresh token the server keeps refusing reconnects with growing backoff, not in a hot loop', async () => {
  const getToken = tokenSource([], 'still-bad');
  const h = wsClient({ getToken, minDelay: 20, maxDelay: 10000 });
  h.subscribe('room:a', {});
  const started = Date.now();
  // Play a server that answers every auth with unauthorized.
  const answered = new Set();
  while (Date.now() - started < 400) {
    for (const ws of FakeSocket.all) {
      if (answered.has(ws)) continue;
      answered.add(ws);
      ws.open();
      ws.receive({ op: 'error', code: 'unauthorized', reason: 'token signature does not verify', id: ws.sent[0].id });
    }
    await tick(2);
  }
  // Delays of at least 10, 20, 40, 80, 160 ms: six sockets at most in 400 ms
  // (one reset to the shortest delay per refusal would make twenty).
  assert.ok(FakeSocket.all.length >= 3 && FakeSocket.all.length <= 6, `${FakeSocket.all.length} sockets`);
  assert.ok(FakeSocket.all.slice(1).every((ws) => ws.sent[0].token === 'still-bad'));
  assert.ok(getToken.calls.every((c) => c.reason === 'refused'));
  h.close();
});

test('a WebSocket URL carrying ?token= gets the fresh token after a socket that never opened', async () => {
  const getToken = tokenSource([], 'tok 2');
  const h = wsClient({ url: 'ws://127.0.0.1:1/ws?token=tok1&x=1', token: 'tok1', getToken });
  h.subscribe('room:a', {});
  assert.equal(FakeSocket.all[0].url, 'ws://127.0.0.1:1/ws?token=tok1&x=1');
  FakeSocket.all[0].drop();  // what a browser shows for a 401 before the upgrade
  await waitFor(() => FakeSocket.all.length === 2);
  assert.equal(FakeSocket.all[1].url, 'ws://127.0.0.1:1/ws?token=tok%202&x=1');
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['refused']);
  h.close();
});

// fetch stand-in: `route(url, init)` returns [status, body] or undefined
// (the request then hangs until aborted, as a held poll does).
function routedFetch(route, log) {
  return async (url, init) => {
    log.push(url);
    const answer = route(url, init);
    if (answer === undefined) {
      return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    const [status, body] = answer;
    return { ok: status >= 200 && status < 300, status, text: async () => JSON.stringify(body) };
  };
}

const UNAUTHORIZED = [401, { error: 'unauthorized', reason: 'token expired' }];

test('a long-poll answered 401 fetches a fresh token, and the next poll carries it with the same since', async () => {
  const log = [];
  const getToken = tokenSource([], 'carol-2');
  let polls = 0;
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'carol', getToken, minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => {
      if (url.includes('/api/v1/history')) return [200, { topic: 'room:a', epoch: 'e1', offset: 3, recovered: true, messages: [] }];
      polls++;
      if (polls === 1) return [200, { topic: 'room:a', epoch: 'e1', offset: 5, recovered: true, messages: [msg(4), msg(5)] }];
      if (polls === 2) return UNAUTHORIZED;
      if (polls === 3) return [200, { topic: 'room:a', epoch: 'e1', offset: 6, recovered: true, messages: [msg(5), msg(6)] }];
      return undefined;
    }, log),
  });
  const got = [];
  h.subscribe('room:a', { onMessage: (m) => got.push(m.offset) });
  await waitFor(() => polls === 4);
  const pollUrls = log.filter((u) => u.includes('/poll?'));
  assert.match(pollUrls[1], /since=5&.*token=carol$/);
  assert.match(pollUrls[2], /since=5&.*token=carol-2$/);
  assert.match(pollUrls[3], /since=6&.*token=carol-2$/);
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['refused']);
  assert.deepEqual(got, [4, 5, 6]);
  h.close();
});

test('a long-poll client reads a topic\'s position and history with its token, so channel-only grants are not refused', async () => {
  const log = [];
  let polls = 0;
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'dora', minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => {
      if (url.includes('/api/v1/history')) {
        return url.endsWith('&token=dora') ? [200, { epoch: 'e1', offset: 0, recovered: true, messages: [] }]
          : [403, { error: 'forbidden', reason: 'no grant' }];
      }
      polls++;
      return undefined;
    }, log),
  });
  h.subscribe('$private', {});
  await waitFor(() => polls >= 1);
  const read = await h.history('$private', { limit: 5 });
  assert.equal(read.epoch, 'e1');
  const historyUrls = log.filter((u) => u.includes('/api/v1/history'));
  assert.equal(historyUrls.length, 2);
  for (const u of historyUrls) assert.match(u, /&token=dora$/);
  h.close();
});

test('long-polls of several topics refused at once share one getToken call', async () => {
  const log = [];
  const getToken = tokenSource([], 'carol-2');
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'carol', getToken, minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => {
      if (url.includes('/api/v1/history')) return [200, { epoch: 'e1', offset: 0, recovered: true, messages: [] }];
      return url.endsWith('token=carol') ? UNAUTHORIZED : undefined;
    }, log),
  });
  for (const t of ['room:a', 'room:b', 'room:c']) h.subscribe(t, {});
  await waitFor(() => log.filter((u) => u.endsWith('token=carol-2')).length === 3);
  assert.equal(getToken.calls.length, 1);
  h.close();
});

test('a held long-poll answered when its JWT expired is followed by a poll with a fresh token, not by a 401', async () => {
  const log = [];
  const soon = Math.floor(Date.now() / 1000);  // exp already reached
  const fresh = jwtWithExp(soon + 3600);
  const getToken = tokenSource([], fresh);
  let polls = 0;
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: jwtWithExp(soon + 3600), getToken, minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => {
      if (url.includes('/api/v1/history')) return [200, { epoch: 'e1', offset: 2, recovered: true, messages: [] }];
      polls++;
      // The server answers the first poll (empty) at the token's exp, which
      // the test plays by making the client's token an expired one.
      if (polls === 1) { h.opts.token = jwtWithExp(soon); return [200, { epoch: 'e1', offset: 2, recovered: true, messages: [] }]; }
      return polls === 2 ? [200, { epoch: 'e1', offset: 3, recovered: true, messages: [msg(3)] }] : undefined;
    }, log),
  });
  const got = [];
  h.subscribe('room:a', { onMessage: (m) => got.push(m.offset) });
  await waitFor(() => polls === 3);
  const pollUrls = log.filter((u) => u.includes('/poll?'));
  assert.match(pollUrls[1], new RegExp(`since=2&.*token=${fresh}$`));
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['expired']);
  assert.deepEqual(got, [3]);
  h.close();
});

class FakeEventSource {
  constructor(url) { this.url = url; this.closed = false; FakeEventSource.all.push(this); }
  close() { this.closed = true; }
  open() { this.onopen && this.onopen({}); }
  event(obj) { this.onmessage && this.onmessage({ data: JSON.stringify(obj) }); }
  fail() { this.onerror && this.onerror({}); }
}
FakeEventSource.all = [];

test('an SSE token_expired event opens a new EventSource with the fresh token at the last offset', async () => {
  FakeEventSource.all = [];
  const log = [];
  const getToken = tokenSource([], 'erin-2');
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'sse', token: 'erin', getToken, EventSource: FakeEventSource,
    minDelay: 1000, maxDelay: 2000,  // a backoff would show as a timeout below
    fetch: routedFetch(() => [200, { topic: 'room:a', epoch: 'e1', offset: 4, recovered: true, messages: [msg(4)] }], log),
  });
  const got = [];
  h.subscribe('room:a', { onMessage: (m) => got.push(m.offset) });
  await waitFor(() => FakeEventSource.all.length === 1);
  const first = FakeEventSource.all[0];
  assert.match(first.url, /\/sse\?topic=room%3Aa&since=4&epoch=e1&token=erin$/);
  first.open();
  first.event({ op: 'subscribed', topic: 'room:a', epoch: 'e1', offset: 4, recovered: true });
  first.event(msg(5));
  first.event(msg(6));
  first.event({ op: 'error', code: 'token_expired', reason: 'token expired' });
  await waitFor(() => FakeEventSource.all.length === 2, 500);
  assert.ok(first.closed, 'the old stream is closed, so EventSource does not retry it with the expired token');
  assert.match(FakeEventSource.all[1].url, /\/sse\?topic=room%3Aa&since=6&epoch=e1&token=erin-2$/);
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['expired']);
  FakeEventSource.all[1].open();
  FakeEventSource.all[1].event(msg(6));
  FakeEventSource.all[1].event(msg(7));
  assert.deepEqual(got, [5, 6, 7]);
  h.close();
});

test('an SSE stream refused before it opens learns of the 401 from history and retries with a fresh token', async () => {
  FakeEventSource.all = [];
  const log = [];
  const getToken = tokenSource([], 'erin-2');
  let refused = false;  // the server stops taking 'erin' once the stream is up
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'sse', token: 'erin', getToken, EventSource: FakeEventSource,
    minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => (refused && url.endsWith('token=erin') ? UNAUTHORIZED
      : [200, { topic: 'room:a', epoch: 'e1', offset: 4, recovered: true, messages: [] }]), log),
  });
  h.subscribe('room:a', {});
  await waitFor(() => FakeEventSource.all.length === 1);
  refused = true;
  FakeEventSource.all[0].fail();
  await waitFor(() => FakeEventSource.all.length === 2);
  assert.match(FakeEventSource.all[1].url, /since=4&epoch=e1&token=erin-2$/);
  assert.ok(log.some((u) => /\/api\/v1\/history\?.*since=4.*token=erin$/.test(u)), log.join('\n'));
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['refused']);
  h.close();
});

test('an HTTP publish refused with 401 is sent once more with a fresh token', async () => {
  const log = [];
  const bodies = [];
  const getToken = tokenSource([], 'fay-2');
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', token: 'fay', getToken,
    fetch: routedFetch((url, init) => {
      const body = JSON.parse(init.body);
      bodies.push(body.token);
      return body.token === 'fay' ? UNAUTHORIZED : [200, { delivered: 1, offset: 9 }];
    }, log),
  });
  assert.deepEqual(await h.publish('room:a', { text: 'hi' }), { offset: 9 });
  assert.deepEqual(bodies, ['fay', 'fay-2']);
  h.close();
});

test('watchEvent works from getToken alone and renews its token after a 401', async () => {
  const log = [];
  const getToken = tokenSource(['dan-1'], 'dan-2');
  const h = new Herald({
    url: 'http://127.0.0.1:1', transport: 'longpoll', getToken, minDelay: 1, maxDelay: 2,
    fetch: routedFetch((url) => {
      if (url.includes('token=dan-1&')) return UNAUTHORIZED;
      return log.length < 4 ? [200, { user: 'dan', epoch: 'e', offset: 9, recovered: true, messages: [] }] : undefined;
    }, log),
  });
  h.watchEvent('authcode', {});
  await waitFor(() => log.length === 4);
  assert.match(log[0], /token=dan-1&/);
  assert.match(log[1], /token=dan-2&/);
  assert.deepEqual(getToken.calls.map((c) => c.reason), ['initial', 'refused']);
  h.close();
});
