// Black-box browser tests: the pages in gateway/www, served by a real herald
// binary, driven by Debian's headless Chromium through playwright-core.
//
//   node tests/browser/chat_test.mjs <path-to-herald>
//
// Prints one line per check ("ok - ..." or "FAIL - ...: why"), then
// "N passed, M failed"; exits 1 if any failed. Every wait is bounded and a
// watchdog ends the whole run after 150 s, so a broken server cannot hang CI.
// Needs tests/browser/setup.sh to have run (chromium + node_modules).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const WWW = path.join(repo, 'gateway', 'www');
const CHROMIUM = '/usr/bin/chromium';
const RUN_LIMIT_MS = 150000;
const CHECK_LIMIT_MS = 12000;
const STEP_LIMIT_MS = 6000;  // one wait inside a check

const results = { passed: 0, failed: 0 };
let herald = null;
let browser = null;
let heraldBin = null;
const heraldOutput = [];  // the server's last lines, shown when it dies
const extraHeralds = [];  // started by a check (other flags), killed at the end

function report(ok, name, why) {
  if (ok) results.passed++; else results.failed++;
  console.log(ok ? `ok - ${name}` : `FAIL - ${name}: ${why}`);
}

function finish() {
  console.log(`${results.passed} passed, ${results.failed} failed`);
  if (herald && herald.exitCode === null) herald.kill('SIGKILL');
  for (const p of extraHeralds) if (p.exitCode === null) p.kill('SIGKILL');
  process.exit(results.failed > 0 || results.passed === 0 ? 1 : 0);
}

const watchdog = setTimeout(() => {
  report(false, 'the whole run finishes within 150 s', 'watchdog fired; later checks did not run');
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
// with the server's own output if it exits or stays silent. The main node
// (extra = null) is `herald`; others go to extraHeralds.
async function startHerald(bin, extra = null) {
  const port = await freePort();
  // A long-poller leaves one second after its last poll, so the presence
  // check need not wait out the default five.
  const args = ['--listen', `127.0.0.1:${port}`, '--threads', '2', '--www-dir', WWW,
    '--client-publish', 'room:*', '--presence', 'room:*', ...(extra || ['--status-page', '--poll-presence-window', '1'])];
  const out = extra ? [] : heraldOutput;
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (extra) extraHeralds.push(proc); else herald = proc;
  return waitHealthy(proc, port, out);
}

async function waitHealthy(proc, port, out) {
  const keep = (d) => { out.push(d.toString()); if (out.length > 50) out.shift(); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(`exited (${code ?? sig})`)));
  proc.on('error', (e) => out.push(String(e)));
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
// pool or storage, like two people on two machines, unless `context` names
// one to share (two tabs of one browser).
async function openPage(base, urlPath, errors, context = null) {
  if (!context) context = await browser.newContext();
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

// Pushes until herald says one client got it: a waiting poll starts "from
// now", so a push before it arrived reaches nobody (and is not shown).
async function pushUntilDelivered(push) {
  const deadline = Date.now() + STEP_LIMIT_MS;
  for (;;) {
    const answer = (await push()).trim();
    if (answer === 'message sent to 1 clients') return;
    if (!/^message sent to 0 clients$/.test(answer)) throw new Error(`/push answered "${answer}"`);
    if (Date.now() > deadline) throw new Error('no poll was waiting for the push');
    await sleep(50);
  }
}

// Runs a command line as shown on a page (sh -c), bounded; resolves with its stdout.
function runShell(line) {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', line], { timeout: STEP_LIMIT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${line}: ${err.message} ${stderr}`)); else resolve(stdout);
    });
  });
}

function messageTexts(page) {
  return page.$$eval('#messages li.msg .text', (els) => els.map((e) => e.textContent));
}

async function check(name, fn) {
  const errors = [];
  const pages = [];
  const open = async (base, urlPath, context) => {
    const p = await openPage(base, urlPath, errors, context);
    pages.push(p);
    return p;
  };
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
    // The page's first poll waits for the next code, as the seed's did: a
    // code pushed before that poll reached herald is nobody's.
    await pushUntilDelivered(() => post(base, '/push', { userId: user, event: 'authcode', message: '123456' }));
    await page.waitForFunction(() => document.getElementById('code').textContent === '123456'
      && document.getElementById('changes').textContent === '1');
    const answer = await post(base, '/push', { userId: user, event: 'authcode', message: '654321' });
    if (!/^message sent to \d+ clients$/.test(answer)) throw new Error(`/push answered "${answer}"`);
    await page.waitForFunction(() => document.getElementById('code').textContent === '654321'
      && document.getElementById('changes').textContent === '2');
  }],
  ['the auth code page without a token asks for one, and its curl line pushes a code to it', async (base, open) => {
    const form = await open(base, '/authcode.html');
    if (!await form.isVisible('#ask') || await form.isVisible('#watching')) throw new Error('no token form, or an empty watch card');
    const user = `user-${tag()}`;
    await form.fill('#token', user);
    await form.click('#ask button');
    await form.waitForSelector('#watching', { state: 'visible' });
    if (!form.url().includes(`token=${user}`)) throw new Error(`the form went to ${form.url()}`);
    const line = await form.textContent('#curl');
    const m = /^curl -d '(\{"userId":"[^"]+","event":"authcode","message":"(\d{6})"\})' (\S+)$/.exec(line);
    if (!m || !m[1].includes(`"userId":"${user}"`) || m[3] !== `${base}/push`) throw new Error(`curl line: ${line}`);
    // Run the line exactly as shown, as a person would paste it.
    await pushUntilDelivered(() => runShell(line));
    await form.waitForFunction((c) => document.getElementById('code').textContent === c, m[2]);
  }],
  ['two tabs of one browser get different names, kept out of the address, and both are Online', async (base, open) => {
    const room = `room:tabs-${tag()}`;
    const context = await browser.newContext();
    const a = await open(base, `/?${new URLSearchParams({ room, transport: 'websocket' })}`, context);
    const b = await open(base, `/?${new URLSearchParams({ room, transport: 'websocket' })}`, context);
    const [na, nb] = [await a.inputValue('#name'), await b.inputValue('#name')];
    if (!na || na === nb) throw new Error(`names ${na} and ${nb}`);
    if (a.url().includes('name=') || b.url().includes('name=')) throw new Error(`a generated name went into ${a.url()}`);
    await a.waitForFunction((n) => Array.from(document.querySelectorAll('#online li')).some((li) => li.textContent === n), nb);
    await a.reload();
    await a.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    if (await a.inputValue('#name') !== na) throw new Error('a reload lost the tab\'s name');
  }],
  ['the chat page explains ?name=, ?room= and ?transport= and shows a publish command for its room', async (base, open) => {
    const room = `room:help-${tag()}`;
    const page = await open(base, chatUrl('alice', room, 'websocket'));
    await page.click('#help summary');
    const help = await page.textContent('#help');
    for (const word of ['?name=', '?room=', '?transport=', 'longpoll', 'sse', '--poll-presence-window']) {
      if (!help.includes(word)) throw new Error(`the help does not mention ${word}`);
    }
    const line = await page.textContent('#publish-example');
    if (!line.includes(`"topic":"${room}"`) || !line.endsWith(`${base}/api/v1/publish`)) throw new Error(`publish line: ${line}`);
    await runShell(line);
    await shown(page, 'backend', 'hello from curl');
  }],
  ['a long-polling user is Online, and its join and leave are shown to the others', async (base, open) => {
    const room = `room:lp-presence-${tag()}`;
    const a = await open(base, chatUrl('alice', room, 'websocket'));
    const b = await open(base, chatUrl('bob', room, 'longpoll'));
    await a.waitForSelector('#messages li.presence[data-kind="join"][data-user="bob"]', { state: 'attached' });
    await a.waitForFunction(() => Array.from(document.querySelectorAll('#online li')).some((li) => li.textContent === 'bob'));
    await b.waitForFunction(() => Array.from(document.querySelectorAll('#online li')).some((li) => li.textContent === 'alice'));
    await say(b, 'still polling');  // a message (and the polls after it) must not make bob leave and join again
    await shown(a, 'bob', 'still polling');
    await b.context().close();  // bob stops polling: he leaves once the window passes
    await a.waitForSelector('#messages li.presence[data-kind="leave"][data-user="bob"]', { state: 'attached' });
    const joins = await a.$$eval('#messages li.presence[data-kind="join"][data-user="bob"]', (els) => els.length);
    if (joins !== 1) throw new Error(`bob joined ${joins} times`);
  }],
  ['the status page charts connections per shard, deliveries and drops, and names bus and build', async (base, open) => {
    const status = await open(base, '/status');
    const room = `room:status-${tag()}`;
    const reader = await open(base, chatUrl('carol', room, 'websocket'));
    await status.waitForFunction(() => Number(document.getElementById('connections-total').textContent) >= 1);
    const shards = await status.$$eval('#connections-legend li', (els) => els.length);
    if (shards !== 2) throw new Error(`${shards} shards in the legend, herald runs 2`);
    for (let i = 0; i < 5; i++) await post(base, '/api/v1/publish', { topic: room, data: { name: 'backend', text: `m${i}` } });
    await shown(reader, 'backend', 'm4');
    await status.waitForFunction(() => Number(document.getElementById('deliveries-minute').textContent) >= 5
      && Number(document.getElementById('deliveries-chart').dataset.max) > 0);
    const facts = await status.evaluate(() => ({
      bus: document.getElementById('bus').textContent,
      drops: document.getElementById('drops-minute').textContent,
      commit: document.getElementById('commit').textContent,
      points: Number(document.getElementById('connections-chart').dataset.points),
    }));
    if (!facts.bus.startsWith('standalone')) throw new Error(`bus: ${facts.bus}`);
    if (!/^\d+$/.test(facts.drops)) throw new Error(`drops: ${facts.drops}`);
    if (!/^([0-9a-f]{12}(-dirty)?|unknown)$/.test(facts.commit)) throw new Error(`commit: ${facts.commit}`);
    if (!(facts.points > 0)) throw new Error('the connections chart drew nothing');
  }],
  ['the status page behind a push key asks for the key and then shows the figures', async (base, open) => {
    const key = `k-${tag()}-secret`;
    const keyed = await startHerald(heraldBin, ['--push-key', key]);
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_LIMIT_MS);
    await page.goto(`${keyed}/status`);
    await page.waitForSelector('body[data-state="key"]', { state: 'attached' });
    await page.fill('#key', 'wrong');
    await page.click('#key-form button');
    await page.waitForFunction(() => document.getElementById('key-error').textContent.includes('refused'));
    await page.fill('#key', key);
    await page.click('#key-form button');
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    if (!await page.isVisible('#panels')) throw new Error('no figures after the key');
    await context.close();
  }],
  ['without --status-page or a push key there is no status page', async () => {
    const plain = await startHerald(heraldBin, []);
    const r = await fetch(`${plain}/status`, { signal: AbortSignal.timeout(STEP_LIMIT_MS) });
    if (r.status !== 404) throw new Error(`/status answered ${r.status}`);
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
  heraldBin = path.resolve(bin);
  try {
    base = await startHerald(heraldBin);
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

process.on('exit', () => {
  if (herald && herald.exitCode === null) herald.kill('SIGKILL');
  for (const p of extraHeralds) if (p.exitCode === null) p.kill('SIGKILL');
});
main().catch((e) => { report(false, 'the test runner itself', e.stack || e.message); finish(); });
