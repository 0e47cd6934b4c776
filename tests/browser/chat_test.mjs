// Black-box browser tests: the pages in gateway/www, served by a real herald
// binary, driven by Debian's headless Chromium through playwright-core.
//
//   node tests/browser/chat_test.mjs <path-to-herald>
//
// Prints one line per check ("ok - ..." or "FAIL - ...: why"), then
// "N passed, M failed"; exits 1 if any failed. Every wait is bounded and a
// watchdog ends the whole run after 85 s, so a broken server cannot hang CI.
// Needs tests/browser/setup.sh to have run (chromium + node_modules).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const WWW = path.join(repo, 'gateway', 'www');
const CHROMIUM = '/usr/bin/chromium';
const RUN_LIMIT_MS = 85000;
const CHECK_LIMIT_MS = 12000;
const STEP_LIMIT_MS = 6000;  // one wait inside a check

const results = { passed: 0, failed: 0 };
let herald = null;
let browser = null;
const heraldOutput = [];  // the server's last lines, shown when it dies

function report(ok, name, why) {
  if (ok) results.passed++; else results.failed++;
  console.log(ok ? `ok - ${name}` : `FAIL - ${name}: ${why}`);
}

function finish() {
  console.log(`${results.passed} passed, ${results.failed} failed`);
  if (herald && herald.exitCode === null) herald.kill('SIGKILL');
  process.exit(results.failed > 0 || results.passed === 0 ? 1 : 0);
}

const watchdog = setTimeout(() => {
  report(false, 'the whole run finishes within 85 s', 'watchdog fired; later checks did not run');
  finish();
}, RUN_LIMIT_MS);

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms); });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = () => Math.random().toString(36).slice(2, 8);

// Starts herald and resolves with its base URL once /healthz answers; rejects
// with the server's own output if it exits or stays silent.
async function startHerald(bin) {
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--threads', '2', '--www-dir', WWW,
    '--client-publish', 'room:*', '--presence', 'room:*'];
  const out = heraldOutput;
  herald = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d) => { out.push(d.toString()); if (out.length > 50) out.shift(); };
  herald.stdout.on('data', keep);
  herald.stderr.on('data', keep);
  const exited = new Promise((resolve) => herald.on('exit', (code, sig) => resolve(`exited (${code ?? sig})`)));
  herald.on('error', (e) => out.push(String(e)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const early = await Promise.race([exited, sleep(100).then(() => null)]);
    if (early) throw new Error(`herald ${early}: ${out.join('').trim().slice(-800)}`);
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return base;
    } catch { /* not listening yet */ }
  }
  throw new Error(`no /healthz answer in 10 s: ${out.join('').trim().slice(-800)}`);
}

async function post(base, urlPath, body) {
  const r = await fetch(base + urlPath, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body), signal: AbortSignal.timeout(STEP_LIMIT_MS),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${urlPath} answered ${r.status}: ${text}`);
  return text;
}

// Each page gets its own browser context so the pages share no connection
// pool or storage, like two people on two machines.
async function openPage(base, urlPath, errors) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_LIMIT_MS);
  page.on('pageerror', (e) => errors.push(`${urlPath}: ${e.message}`));
  await page.goto(base + urlPath);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return page;
}

function chatUrl(name, room, transport) {
  return `/?${new URLSearchParams({ name, room, transport })}`;
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

function shown(page, name, text) {
  return page.waitForFunction(([n, t]) => Array.from(document.querySelectorAll('#messages li.msg')).some(
    (li) => li.querySelector('.name').textContent === n && li.querySelector('.text').textContent === t), [name, text]);
}

function messageTexts(page) {
  return page.$$eval('#messages li.msg .text', (els) => els.map((e) => e.textContent));
}

async function check(name, fn) {
  const errors = [];
  const pages = [];
  const open = async (base, urlPath) => { const p = await openPage(base, urlPath, errors); pages.push(p); return p; };
  try {
    await withTimeout(fn(open, errors), CHECK_LIMIT_MS, 'the check');
    if (errors.length) throw new Error(`uncaught page error: ${errors.join('; ')}`);
    report(true, name);
  } catch (e) {
    let why = String(e.message || e).split('\n')[0];
    // A crashed server explains every later failure; say so rather than
    // leaving a bare "connection refused".
    if (herald.exitCode !== null || herald.signalCode !== null) {
      why += ` [herald exited (${herald.exitCode ?? herald.signalCode}): ${heraldOutput.join('').trim().slice(-300)}]`;
    }
    report(false, name, why);
  } finally {
    await Promise.all(pages.map((p) => p.context().close().catch(() => {})));
  }
}

async function chatsBothWays(base, open, transport) {
  const room = `room:${transport}-${tag()}`;
  const a = await open(base, chatUrl('alice', room, transport));
  const b = await open(base, chatUrl('bob', room, transport));
  await say(a, `hello bob over ${transport}`);
  await shown(b, 'alice', `hello bob over ${transport}`);
  await say(b, `hi alice over ${transport}`);
  await shown(a, 'bob', `hi alice over ${transport}`);
}

const CHECKS = [
  ['two pages chat with each other over WebSocket',
    (base, open) => chatsBothWays(base, open, 'websocket')],
  ['two pages chat with each other over long-polling',
    (base, open) => chatsBothWays(base, open, 'longpoll')],
  ['two pages chat with each other over SSE',
    (base, open) => chatsBothWays(base, open, 'sse')],
  ['a second page opening and closing shows join and leave lines to the first', async (base, open) => {
    const room = `room:presence-${tag()}`;
    const a = await open(base, chatUrl('alice', room, 'websocket'));
    const b = await open(base, chatUrl('bob', room, 'websocket'));
    await a.waitForSelector('#messages li.presence[data-kind="join"][data-user="bob"]', { state: 'attached' });
    await b.context().close();
    await a.waitForSelector('#messages li.presence[data-kind="leave"][data-user="bob"]', { state: 'attached' });
  }],
  ['the auth code page shows each pushed code and counts every change', async (base, open) => {
    const user = `user-${tag()}`;
    const page = await open(base, `/authcode.html?token=${encodeURIComponent(user)}`);
    for (const [code, changes] of [['123456', '1'], ['654321', '2']]) {
      const answer = await post(base, '/push', { userId: user, event: 'authcode', message: code });
      if (!/^message sent to \d+ clients$/.test(answer)) throw new Error(`/push answered "${answer}"`);
      await page.waitForFunction(([c, n]) => document.getElementById('code').textContent === c
        && document.getElementById('changes').textContent === n, [code, changes]);
    }
  }],
  ['a page that loses its WebSocket shows every message published meanwhile exactly once, in order', async (base, open) => {
    const room = `room:resume-${tag()}`;
    const b = await open(base, chatUrl('bob', room, 'websocket'));
    // One message seen before the outage, so a resume from the wrong offset
    // would show it twice.
    await post(base, '/api/v1/publish', { topic: room, data: { name: 'backend', text: 'before' } });
    await shown(b, 'backend', 'before');
    await b.evaluate(() => { window.__heraldTest.holdReconnect(true); window.__heraldTest.dropConnection(); });
    await b.waitForSelector('body[data-state="disconnected"]', { state: 'attached' });
    const missed = ['missed one', 'missed two', 'missed three'];
    for (const text of missed) await post(base, '/api/v1/publish', { topic: room, data: { name: 'backend', text } });
    await sleep(300);
    const early = await messageTexts(b);
    if (early.length !== 1) throw new Error(`messages arrived while the page was offline: ${JSON.stringify(early)}`);
    await b.evaluate(() => window.__heraldTest.holdReconnect(false));
    await shown(b, 'backend', 'missed three');
    await sleep(500);  // room for a duplicate to show up if the resume sent one
    const got = await messageTexts(b);
    const want = ['before', ...missed];
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`page shows ${JSON.stringify(got)}`);
  }],
];

async function main() {
  const bin = process.argv[2];
  if (!bin || !fs.existsSync(bin)) {
    console.error('usage: node tests/browser/chat_test.mjs <path-to-herald-binary>');
    process.exit(2);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  } catch (e) {
    report(false, 'the browser test toolchain is installed', `${e.message} (run tests/browser/setup.sh)`);
    return finish();
  }
  let base;
  try {
    base = await startHerald(path.resolve(bin));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 20000,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    report(false, 'herald and Chromium start', e.message);
    for (const [name] of CHECKS) report(false, name, 'not run');
    return finish();
  }
  for (const [name, fn] of CHECKS) await check(name, (open, errors) => fn(base, open, errors));
  clearTimeout(watchdog);
  await withTimeout(browser.close(), 5000, 'closing Chromium').catch(() => {});
  if (herald.exitCode === null) {
    herald.kill('SIGTERM');
    await withTimeout(new Promise((r) => herald.once('exit', r)), 3000, 'herald shutdown').catch(() => herald.kill('SIGKILL'));
  }
  finish();
}

process.on('exit', () => { if (herald && herald.exitCode === null) herald.kill('SIGKILL'); });
main().catch((e) => { report(false, 'the test runner itself', e.stack || e.message); finish(); });
