// End to end: gateway/www/herald.js in Node against a real herald that takes
// HS256 JWTs (--token-hmac-secret) and gives an expired WebSocket one second
// (--token-expiry-grace 1). The tokens live 2 s and are signed here with
// node:crypto; getToken mints the next one. A backend publishes through the
// HTTP API before, during and after the expiries, and every message must
// reach the app exactly once, in order, over WebSocket (renewed in place;
// and after a close 4001 when getToken fails through the grace), long-polling
// and SSE.
//
//   node tests/browser/herald_js_token_test.mjs <path-to-herald>
//
// Node 20 has WebSocket only behind --experimental-websocket, so the file
// restarts itself with that flag when it finds none. Node has no EventSource:
// a minimal one on fetch stands in (herald.js does its own reconnecting).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

if (typeof globalThis.WebSocket !== 'function') {
  const again = spawnSync(process.execPath, ['--experimental-websocket', ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' });
  process.exit(again.status === null ? 1 : again.status);
}

const { test, before, after } = await import('node:test');
const assert = (await import('node:assert/strict')).default;

const here = path.dirname(fileURLToPath(import.meta.url));
const Herald = createRequire(import.meta.url)('../../gateway/www/herald.js');
const SECRET = 'js-client-test-secret-0123456789abcdef';
const PUSH_KEY = 'js-client-test-push-key';
const TOKEN_LIFE = 2;      // seconds
const PUBLISH_FOR = 7000;  // ms: past two expiries of a 2 s token (a WebSocket is told 1 s late)
const PUBLISH_EVERY = 200; // ms
const TEST_LIMIT = 30000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = () => Math.random().toString(36).slice(2, 8);

function b64url(x) { return Buffer.from(x).toString('base64url'); }

// HS256 as RFC 7515 has it: no library, so herald is checked against a
// signer it did not come with.
function mint(sub, lifeSeconds = TOKEN_LIFE, secret = SECRET) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + lifeSeconds }));
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

let proc = null;
let base = null;
const serverOutput = [];

before(async () => {
  const bin = process.argv[2];
  assert.ok(bin, 'usage: node herald_js_token_test.mjs <path-to-herald>');
  const port = await freePort();
  // history-size: the 4001 check keeps publishing while the client is away
  // for a few seconds, and all of that must be recoverable.
  proc = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--threads', '2', '--www-dir', path.resolve(here, '../../gateway/www'),
    '--token-hmac-secret', SECRET, '--token-expiry-grace', '1', '--push-key', PUSH_KEY, '--history-size', '200'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [proc.stdout, proc.stderr]) s.on('data', (d) => { serverOutput.push(String(d)); serverOutput.splice(0, serverOutput.length - 50); });
  base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 10000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`herald exited ${proc.exitCode}:\n${serverOutput.join('')}`);
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch (e) { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`herald did not answer /healthz:\n${serverOutput.join('')}`);
    await sleep(50);
  }
});

after(() => { if (proc && proc.exitCode === null) proc.kill('SIGKILL'); });

async function publish(topic, data) {
  const res = await fetch(`${base}/api/v1/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${PUSH_KEY}` },
    body: JSON.stringify({ topic, data }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.offset;
}

// WebSocket that records every socket herald.js opens and how each closed.
function recordingWebSocket() {
  const sockets = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url) {
      super(url);
      const rec = { url, opened: false, close: null };
      sockets.push(rec);
      this.addEventListener('open', () => { rec.opened = true; });
      this.addEventListener('close', (ev) => { rec.close = ev.code; });
    }
  }
  return { RecordingWebSocket, sockets };
}

// EventSource on fetch: the parts herald.js uses (onopen, onmessage,
// onerror, close), one stream, no reconnecting of its own.
class FetchEventSource {
  constructor(url) {
    this.url = url;
    this.closed = false;
    this.ctrl = new AbortController();
    FetchEventSource.all.push(this);
    this._run().catch(() => this._fail());
  }

  async _run() {
    const res = await fetch(this.url, { signal: this.ctrl.signal, headers: { Accept: 'text/event-stream' } });
    if (res.status !== 200) { this._fail(); return; }
    if (!this.closed && this.onopen) this.onopen({});
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let cut;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
        if (!data.length || this.closed) continue;
        if (data.join('\n').includes('"code":"token_expired"')) FetchEventSource.expiredEvents++;
        if (this.onmessage) this.onmessage({ data: data.join('\n') });
      }
    }
    this._fail();
  }

  _fail() { if (!this.closed && this.onerror) this.onerror({}); }

  close() { this.closed = true; this.ctrl.abort(); }
}
FetchEventSource.all = [];
FetchEventSource.expiredEvents = 0;

// Publishes to `topic` every PUBLISH_EVERY ms for PUBLISH_FOR ms, then waits
// until the client delivered as many; resolves with the numbers published.
async function publishThrough(topic, got) {
  const sent = [];
  const end = Date.now() + PUBLISH_FOR;
  for (let n = 0; Date.now() < end; n++) {
    await publish(topic, { n });
    sent.push(n);
    await sleep(PUBLISH_EVERY);
  }
  const limit = Date.now() + 10000;
  while (got.length < sent.length && Date.now() < limit) await sleep(20);
  await sleep(300);  // room for a duplicate to show up
  return sent;
}

// A client on `transport` whose getToken mints 2 s tokens for `user`, unless
// `refuse()` says to reject; returns it and what it saw.
async function tokenClient(transport, topic, extra = {}) {
  const seen = { messages: [], offsets: [], reasons: [], tokenErrors: [], states: [] };
  const refuse = extra.refuse || (() => false);
  delete extra.refuse;
  const h = new Herald(Object.assign({
    url: base, transport, token: mint('alice'), minDelay: 100, maxDelay: 1000,
    getToken: async ({ reason }) => {
      seen.reasons.push(reason);
      if (refuse()) throw new Error('identity provider unavailable');
      return mint('alice');
    },
    onTokenError: (e) => seen.tokenErrors.push(e.code),
  }, extra));
  h.onState((s) => seen.states.push(s));
  const ready = new Promise((resolve) => {
    h.subscribe(topic, {
      onMessage: (m) => { seen.messages.push(m.data.n); seen.offsets.push(m.offset); },
      onSubscribed: resolve,
      onError: (e) => seen.states.push(`error ${e.code}`),
    });
  });
  await Promise.race([ready, sleep(5000).then(() => { throw new Error('subscription not confirmed in 5 s'); })]);
  return { h, seen };
}

function assertExactlyOnce(seen, sent) {
  assert.deepEqual(seen.messages, sent, `delivered ${JSON.stringify(seen.messages)}`);
  assert.equal(new Set(seen.offsets).size, seen.offsets.length, 'an offset delivered twice');
}

test('a WebSocket whose JWT expires renews it in place with auth: every message exactly once and never a close 4001', { timeout: TEST_LIMIT }, async () => {
  const topic = `room:ws-${tag()}`;
  const { RecordingWebSocket, sockets } = recordingWebSocket();
  const { h, seen } = await tokenClient('websocket', topic, { WebSocket: RecordingWebSocket });
  try {
    const sent = await publishThrough(topic, seen.messages);
    assertExactlyOnce(seen, sent);
    assert.ok(seen.reasons.filter((r) => r === 'expired').length >= 2, `getToken reasons ${seen.reasons}`);
    assert.equal(sockets.length, 1, `sockets ${JSON.stringify(sockets)}`);
    assert.equal(sockets[0].close, null);
  } finally {
    h.close();
  }
});

test('a WebSocket whose getToken fails through the grace is closed with 4001, reconnects with a fresh token and loses nothing', { timeout: TEST_LIMIT }, async () => {
  const topic = `room:ws4001-${tag()}`;
  const { RecordingWebSocket, sockets } = recordingWebSocket();
  // The identity provider is down from the first expiry for 2.5 s: longer
  // than the 1 s grace, so the server closes the socket.
  let downUntil = 0;
  const refuse = () => {
    if (!downUntil) downUntil = Date.now() + 2500;
    return Date.now() < downUntil;
  };
  const { h, seen } = await tokenClient('websocket', topic, { WebSocket: RecordingWebSocket, refuse });
  try {
    const sent = await publishThrough(topic, seen.messages);
    assertExactlyOnce(seen, sent);
    assert.ok(sockets.some((s) => s.close === 4001), `sockets ${JSON.stringify(sockets)}`);
    assert.ok(sockets.length >= 2 && sockets.length <= 4, `${sockets.length} sockets`);
    assert.ok(seen.tokenErrors.length >= 1 && seen.tokenErrors.every((c) => c === 'token_unavailable'));
    assert.ok(seen.reasons.includes('refused'), `getToken reasons ${seen.reasons}`);
    // Backoff, not a hot loop (which would fail hundreds of times). With
    // every delay at its shortest jitter (half of 100 ms doubling to 1 s) the
    // 2.5 s of refusals take at most 10 calls: 5 renewals in the 1 s grace
    // (at 0, 50, 150, 350, 750 ms), then after the close 4001 a reconnect
    // backoff that starts over (at 1050, 1150, 1350, 1750, 2250 ms); 10 is
    // what Math.random() = 0 gives. 12 leaves room for a close 4001 that a
    // busy machine sends a sweep late.
    assert.ok(seen.tokenErrors.length <= 12, `${seen.tokenErrors.length} getToken failures`);
    assert.equal(h.state, 'connected');
  } finally {
    h.close();
  }
});

test('a WebSocket URL whose ?token= the server refuses with 401 reconnects with a token from getToken', { timeout: TEST_LIMIT }, async () => {
  const topic = `room:wsurl-${tag()}`;
  const { RecordingWebSocket, sockets } = recordingWebSocket();
  const forged = mint('alice', 3600, 'not-the-secret-not-the-secret-not-the');
  const { h, seen } = await tokenClient('websocket', topic, {
    WebSocket: RecordingWebSocket, url: `${base.replace('http', 'ws')}/ws?token=${forged}`, token: forged,
  });
  try {
    assert.equal(sockets[0].opened, false);
    assert.deepEqual(seen.reasons.slice(0, 1), ['refused']);
    assert.ok(!sockets[sockets.length - 1].url.includes(forged));
    const offset = await publish(topic, { n: 0 });
    const limit = Date.now() + 3000;
    while (seen.messages.length < 1 && Date.now() < limit) await sleep(20);
    assert.deepEqual(seen.offsets, [offset]);
  } finally {
    h.close();
  }
});

test('a long-poll client refused with 401 and then held past its JWT expiry keeps every message exactly once', { timeout: TEST_LIMIT }, async () => {
  const topic = `room:lp-${tag()}`;
  // Not a JWT at all: the first poll is refused with 401.
  const { h, seen } = await tokenClient('longpoll', topic, { token: 'not-a-jwt' });
  try {
    const sent = await publishThrough(topic, seen.messages);
    assertExactlyOnce(seen, sent);
    assert.equal(seen.reasons[0], 'refused', `getToken reasons ${seen.reasons}`);
    assert.ok(seen.reasons.filter((r) => r === 'expired').length >= 2, `getToken reasons ${seen.reasons}`);
  } finally {
    h.close();
  }
});

test('an SSE stream ended by token_expired continues on a new stream with a fresh token: every message exactly once', { timeout: TEST_LIMIT }, async () => {
  const topic = `room:sse-${tag()}`;
  FetchEventSource.all = [];
  FetchEventSource.expiredEvents = 0;
  const { h, seen } = await tokenClient('sse', topic, { EventSource: FetchEventSource });
  try {
    const sent = await publishThrough(topic, seen.messages);
    assertExactlyOnce(seen, sent);
    assert.ok(seen.reasons.filter((r) => r === 'expired').length >= 2, `getToken reasons ${seen.reasons}`);
    assert.ok(FetchEventSource.all.length >= 3, `${FetchEventSource.all.length} streams`);
    assert.ok(FetchEventSource.expiredEvents >= 2, `${FetchEventSource.expiredEvents} token_expired events`);
    const tokens = FetchEventSource.all.map((es) => new URL(es.url).searchParams.get('token'));
    assert.equal(new Set(tokens).size, tokens.length, 'a stream reopened with a token already used');
  } finally {
    h.close();
  }
});
