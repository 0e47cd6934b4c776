// Unit tests of gateway/www/herald.js in Node: the client's resume, dedupe,
// recovery and fallback logic, driven through scripted stand-ins for
// WebSocket and fetch (no network, no server, no browser).
//
//   node --test tests/browser/herald_client_test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Herald = require('../../gateway/www/herald.js');

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
  drop() { this.readyState = 3; this.onclose && this.onclose({ code: 1006, reason: '' }); }
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
