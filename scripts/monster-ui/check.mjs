#!/usr/bin/env node
// Drive a locally built Monster UI (not part of this repository) in headless
// Chromium against our crossbar-compatible API: log in, open apps, and report
// every API request that failed or answered >= 400.
//
// See README.md next to this file for how to build Monster UI and the env vars.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const env = process.env;
const MONSTER_UI_DIR = path.resolve(env.MONSTER_UI_DIR || '');
const API_URL = withSlash(env.API_URL || 'http://127.0.0.1:8000/v2/');
const ACCOUNT_NAME = env.ACCOUNT_NAME || '';
const USERNAME = env.USERNAME || '';
const PASSWORD = env.PASSWORD || '';
const APPS = (env.APPS ?? 'recordings,storagemgmt').split(',').map((s) => s.trim()).filter(Boolean);
const PLAYWRIGHT_DIR = env.PLAYWRIGHT_DIR || '';
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(env.OUT || 'monster-ui-report/report.json');
const OUT_DIR = path.dirname(OUT);
// Optional: comma-separated regexes matched against "METHOD /path" (path
// relative to API_URL); matching failures are reported but do not fail the run.
const ALLOW_FAILURES = (env.ALLOW_FAILURES || '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => new RegExp(s));
const TIMEOUT_MS = Number(env.TIMEOUT_MS || 30000);
const HEADED = env.HEADED === '1';
// Apps (of APPS) whose extra actions run after they open: see APP_ACTION_FNS below.
const APP_ACTIONS = (env.APP_ACTIONS ?? 'recordings,recordings-community').split(',').map((s) => s.trim()).filter(Boolean);

function withSlash(u) { return u.endsWith('/') ? u : u + '/'; }
function log(...a) { console.error('[monster-ui-check]', ...a); }
function snippet(s, n = 2000) { return s == null ? s : (s.length > n ? s.slice(0, n) + `...(${s.length} bytes)` : s); }

if (!env.MONSTER_UI_DIR || !fs.existsSync(path.join(MONSTER_UI_DIR, 'index.html'))) {
  console.error('MONSTER_UI_DIR must point at a built Monster UI (directory containing index.html)');
  process.exit(2);
}

async function loadPlaywright() {
  if (PLAYWRIGHT_DIR) {
    const req = createRequire(path.join(path.resolve(PLAYWRIGHT_DIR), 'package.json'));
    return req('playwright-core');
  }
  return import('playwright-core');
}

// ---------------------------------------------------------------- static server
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.png': 'image/png', '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.eot': 'application/vnd.ms-fontobject',
  '.otf': 'font/otf', '.mp3': 'audio/mpeg', '.wav': 'audio/wav', '.pdf': 'application/pdf',
  '.txt': 'text/plain; charset=utf-8', '.map': 'application/json',
};

// Wrap the AMD define() call of js/config.js so that api.default is forced to
// API_URL whatever form the config takes (object or factory function).
function patchConfig(src) {
  const prelude = `(function(){var d=window.define,u=${JSON.stringify(API_URL)};` +
    `var patch=function(c){c=c||{};c.api=c.api||{};c.api['default']=u;return c;};` +
    `var w=function(){var a=Array.prototype.slice.call(arguments);window.define=d;var i=a.length-1,f=a[i];` +
    `if(typeof f==='function'){a[i]=function(){return patch(f.apply(this,arguments));};}else{a[i]=patch(f);}` +
    `return d.apply(this,a);};w.amd=d.amd;window.define=w;})();\n`;
  return prelude + src;
}

function startServer(root) {
  const server = http.createServer((req, res) => {
    let pathname;
    try { pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch { res.writeHead(400).end(); return; }
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = path.join(root, path.normalize(pathname));
    if (!file.startsWith(root + path.sep)) { res.writeHead(403).end(); return; }
    fs.readFile(file, (err, buf) => {
      if (err) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return; }
      let body = buf;
      if (path.relative(root, file) === path.join('js', 'config.js')) body = Buffer.from(patchConfig(buf.toString('utf8')));
      res.writeHead(200, {
        'content-type': MIME[path.extname(file).toLowerCase()] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---------------------------------------------------------------- main
const report = {
  startedAt: new Date().toISOString(), apiUrl: API_URL, monsterUiDir: MONSTER_UI_DIR,
  login: { ok: false }, apps: [], actions: [], apiRequests: [], apiFailures: [], otherFailures: [],
  blockedExternal: [], consoleErrors: [], pageErrors: [], dialogs: [], steps: [],
};
let step = 'load';
const pending = new Map();
const pageBodies = [];
const isApi = (url) => url.startsWith(API_URL);
function pageOf(req) { try { return req.frame().page(); } catch { return null; } }

function relPath(url) {
  const u = url.slice(API_URL.length);
  return '/' + u.split('?')[0];
}
function groupKey(r) {
  return `${r.method} ${relPath(r.url).replace(/[0-9a-f]{32}/gi, '{id}')}`;
}

async function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const server = await startServer(MONSTER_UI_DIR);
  const uiOrigin = `http://127.0.0.1:${server.address().port}`;
  const apiOrigin = new URL(API_URL).origin;
  log(`serving ${MONSTER_UI_DIR} at ${uiOrigin}/ ; API_URL=${API_URL}`);

  const { chromium } = await loadPlaywright();
  // External hosts (fonts.googleapis.com, ...) are made unresolvable instead of
  // using Playwright request interception: interception makes Playwright answer
  // CORS preflights itself, which would hide CORS problems of the API.
  const apiHost = new URL(API_URL).hostname;
  const resolverRules = `MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE ${apiHost}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: !HEADED,
    args: ['--no-sandbox', `--host-resolver-rules=${resolverRules}`],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ignoreHTTPSErrors: true });
  // Response bodies of failed API calls are also captured inside the page and
  // handed over immediately, because Monster UI often reloads the page right
  // after an error (e.g. logoutAndReload), which makes the body unavailable
  // to the protocol afterwards.
  await context.exposeFunction('__muiCheckBody', (method, url, status, body) => {
    if (isApi(url)) pageBodies.push({ method, url, status, body: snippet(redact(body)) });
  });
  await context.addInitScript(() => {
    const send = (m, u, s, b) => { try { window.__muiCheckBody(m, u, s, b); } catch (e) { /* ignore */ } };
    const open = XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.open = function (method, url) {
      try { this.__mui = { method: String(method).toUpperCase(), url: new URL(url, location.href).href }; } catch (e) { /* ignore */ }
      return open.apply(this, arguments);
    };
    const xsend = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function () {
      const x = this;
      x.addEventListener('loadend', () => {
        if (!x.__mui || (x.status > 0 && x.status < 400)) return;
        let body = null;
        try { body = (x.responseType === '' || x.responseType === 'text') ? x.responseText : `<${x.responseType}>`; } catch (e) { /* ignore */ }
        send(x.__mui.method, x.__mui.url, x.status, body);
      });
      return xsend.apply(this, arguments);
    };
    if (window.fetch) {
      const f = window.fetch;
      window.fetch = function (input, init) {
        const method = String((init && init.method) || (input && input.method) || 'GET').toUpperCase();
        let url; try { url = new URL(typeof input === 'string' ? input : input.url, location.href).href; } catch (e) { url = String(input); }
        return f.apply(this, arguments).then((r) => {
          if (r.status >= 400) r.clone().text().then((b) => send(method, url, r.status, b), () => {});
          return r;
        });
      };
    }
  });
  const page = await context.newPage();

  // Network events are taken from the whole context, so that requests of popups (e.g. a
  // download link with target=_blank) count too, and from every resource type: an <audio>
  // element's media request or a popup's document request is an API request as well.
  context.on('request', (req) => {
    if (!isApi(req.url())) return;
    const rec = { step, method: req.method(), url: req.url(), resourceType: req.resourceType(), status: null, requestBody: null };
    const pg = pageOf(req);
    if (pg && pg !== page) rec.popup = true;
    if (req.method() !== 'GET' && req.method() !== 'OPTIONS') rec.requestBody = snippet(redact(req.postData()), 1000);
    pending.set(req, rec);
    report.apiRequests.push(rec);
  });
  context.on('response', async (resp) => {
    const req = resp.request();
    const rec = pending.get(req);
    if (!rec) {
      if (resp.status() >= 400) report.otherFailures.push({ step, method: req.method(), url: req.url(), status: resp.status() });
      return;
    }
    rec.status = resp.status();
    if (rec.resourceType !== 'xhr' && rec.resourceType !== 'fetch') {
      const h = resp.headers();
      rec.contentType = h['content-type'];
      if (h['content-length']) rec.contentLength = Number(h['content-length']);
      if (h['content-range']) rec.contentRange = h['content-range'];
    }
    if (rec.status >= 400) {
      try { rec.responseBody = snippet(redact(await resp.text())); } catch (e) { rec.responseBody = `<unreadable: ${e.message}>`; }
    }
  });
  context.on('requestfailed', (req) => {
    const rec = pending.get(req);
    const err = req.failure()?.errorText;
    if (rec) { rec.failed = err; return; }
    const u = req.url();
    if (!u.startsWith(uiOrigin) && !u.startsWith(apiOrigin)) { report.blockedExternal.push(u); return; }
    report.otherFailures.push({ step, method: req.method(), url: u, failed: err });
  });
  const watchPage = (p, label) => {
    p.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const loc = msg.location();
      if (loc?.url && !loc.url.startsWith(uiOrigin) && !loc.url.startsWith(apiOrigin)) return; // blocked external host
      report.consoleErrors.push({ step, page: label, text: snippet(msg.text(), 1000), url: loc?.url });
    });
    p.on('pageerror', (err) => report.pageErrors.push({ step, page: label, message: err.message, stack: snippet(err.stack, 2000) }));
  };
  watchPage(page, 'main');
  context.on('page', (p) => { if (p !== page) watchPage(p, 'popup'); });

  const settle = async (ms = TIMEOUT_MS) => {
    try { await page.waitForLoadState('networkidle', { timeout: ms }); } catch { /* keep going */ }
    await page.waitForTimeout(750);
    try { await page.waitForLoadState('networkidle', { timeout: ms }); } catch { /* keep going */ }
  };
  const shot = async (name) => {
    const file = path.join(OUT_DIR, `${name}.png`);
    try { await page.screenshot({ path: file, fullPage: false }); } catch (e) { log('screenshot failed', e.message); }
    return file;
  };
  const visibleDialogs = () => page.evaluate(() => Array.from(document.querySelectorAll('.ui-dialog'))
    .filter((d) => (d.checkVisibility ? d.checkVisibility() : d.offsetParent !== null))
    .map((d) => ({ alert: d.classList.contains('monster-alert'), text: (d.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 500) }))).catch(() => []);
  const seenDialogs = new Set();
  const recordDialogs = async () => {
    for (const d of await visibleDialogs()) {
      const text = redactTokens(d.text);
      if (seenDialogs.has(text) || expectedDialogs.has(text)) continue;
      seenDialogs.add(text);
      report.dialogs.push({ step, alert: d.alert, text });
    }
  };
  const monsterState = () => page.evaluate(() => {
    try {
      // eslint-disable-next-line no-undef
      const m = require('monster');
      return { loggedIn: !!(m.util.isLoggedIn && m.util.isLoggedIn()), activeApp: m.apps.getActiveApp ? m.apps.getActiveApp() : null };
    } catch (e) { return { loggedIn: false, activeApp: null, error: String(e) }; }
  }).catch((e) => ({ loggedIn: false, activeApp: null, error: String(e) }));

  // ---------------------------------------------------------------- per-app actions
  // Each action pushes { app, action, ok, ... } to report.actions and takes a screenshot.
  // Selectors come from the apps' views: recordings (kazoo-classic/monster-ui-recordings,
  // views/recordings-rows.html, received-recordings.html) and recordings-community
  // (bpbp-boop/monster-ui-recordings-community, views/recordings-rows.html).
  const ROWS = '#monster_content tr.recording-row';
  const expectedDialogs = new Set(); // dialog texts opened on purpose by an action (not errors)
  const mediaState = (p, sel) => p.evaluate((s) => {
    const a = document.querySelector(s);
    if (!a) return null;
    return { readyState: a.readyState, networkState: a.networkState, error: a.error ? { code: a.error.code, message: a.error.message } : null,
      duration: Number.isFinite(a.duration) ? Math.round(a.duration * 10) / 10 : String(a.duration),
      currentTime: Math.round(a.currentTime * 100) / 100, paused: a.paused, src: a.currentSrc || a.src };
  }, sel).catch((e) => ({ error: { message: String(e) } }));
  const waitMedia = async (p, sel) => {
    // enough data to play (readyState >= 3) or an error, then give playback a moment
    await p.waitForFunction((s) => { const a = document.querySelector(s); return a && (a.error || a.readyState >= 3); },
      sel, { timeout: Math.min(TIMEOUT_MS, 15000), polling: 200 }).catch(() => {});
    await p.waitForTimeout(1500);
    return mediaState(p, sel);
  };
  const firstRow = async () => {
    try { await page.locator(ROWS).first().waitFor({ state: 'visible', timeout: Math.min(TIMEOUT_MS, 15000) }); } catch { return null; }
    return page.locator(ROWS).first();
  };
  const rowCount = () => page.locator(ROWS).count().catch(() => 0);
  const magic = (buf) => {
    if (!buf || buf.length < 3) return 'empty';
    if (buf[0] === 0x49 && buf[1] === 0x44 && buf[2] === 0x33) return 'mp3 (ID3)';
    if (buf[0] === 0xff && (buf[1] & 0xe0) === 0xe0) return 'mp3 (frame sync)';
    if (buf.slice(0, 4).toString() === 'RIFF') return 'wav';
    return `unknown (${buf.slice(0, 8).toString('hex')})`;
  };
  // Fetch a URL outside the browser (Node) to check what the link returns in full.
  const fetchCheck = async (url) => {
    try {
      const r = await fetch(url);
      const buf = Buffer.from(await r.arrayBuffer());
      return { status: r.status, contentType: r.headers.get('content-type'), contentDisposition: r.headers.get('content-disposition'),
        bytes: buf.length, format: magic(buf), body: r.status >= 400 ? snippet(redact(buf.toString('utf8')), 500) : undefined };
    } catch (e) { return { error: String(e) }; }
  };
  const apiDuring = (stepName) => report.apiRequests.filter((r) => r.step === stepName)
    .map((r) => ({ method: r.method, path: relPath(r.url), query: (r.url.split('?')[1] || '').replace(/auth_token=[^&]+/, 'auth_token=***'),
      type: r.resourceType, status: r.status, contentType: r.contentType, contentLength: r.contentLength, contentRange: r.contentRange,
      failed: r.failed, popup: r.popup }));
  const runAction = async (app, name, shotName, fn) => {
    const prev = step;
    step = `app:${app}:${name}`;
    const res = { app, action: name, ok: false };
    try { Object.assign(res, await fn(res)); } catch (e) { res.error = e.message.split('\n')[0]; }
    res.apiRequests = apiDuring(step);
    await recordDialogs();
    res.screenshot = res.screenshot || await shot(shotName);
    report.actions.push(res);
    log(`action ${app}/${name}: ${res.ok ? 'ok' : 'FAILED'}${res.error ? ` (${res.error})` : ''}`);
    step = prev;
    return res;
  };

  // Click the play button of the first row; the app appends <audio src="recordings/{id}?accept=audio/mpeg&auth_token=…">.
  const playFirst = async (app, prefix, playSel, idAttr) => runAction(app, 'play', `${prefix}a-play`, async () => {
    const row = await firstRow();
    if (!row) return { ok: false, skipped: 'no recording rows' };
    if (!(await row.locator(playSel).count())) return { ok: false, skipped: `no play button (${playSel})` };
    const mediaId = await row.getAttribute(idAttr);
    const respP = page.waitForResponse((r) => isApi(r.url()) && r.url().includes(`/recordings/${mediaId}`) && r.request().resourceType() === 'media',
      { timeout: Math.min(TIMEOUT_MS, 15000) }).catch(() => null);
    await row.locator(playSel).click();
    const resp = await respP;
    const sel = '#monster_content .recording-player audio';
    const audio = await waitMedia(page, sel);
    const out = { mediaId, rows: await rowCount(), audio };
    if (resp) {
      out.request = { status: resp.status(), contentType: resp.headers()['content-type'], range: (await resp.request().allHeaders().catch(() => ({}))).range,
        contentRange: resp.headers()['content-range'], contentLength: resp.headers()['content-length'] };
    }
    out.screenshot = await shot(`${prefix}a-play`);
    // close the player (the app ignores other rows' buttons while one plays)
    await page.locator('#monster_content .recording-player .close-player').first().click({ timeout: 5000 }).catch(() => {});
    out.playerClosed = (await page.locator('#monster_content .recording-player').count()) === 0;
    out.ok = !!resp && resp.status() < 400 && !!audio && !audio.error && audio.readyState >= 1;
    return out;
  });

  // Click the download link of the first row (<a href=… target=_blank>): a popup page or a download.
  const downloadFirst = async (app, prefix, linkSel) => runAction(app, 'download', `${prefix}b-download`, async () => {
    const row = await firstRow();
    if (!row) return { ok: false, skipped: 'no recording rows' };
    const link = row.locator(linkSel).first();
    if (!(await link.count())) return { ok: false, skipped: `no download link (${linkSel})` };
    const href = await link.getAttribute('href');
    // With Content-Disposition: attachment (as KAZOO sends) the popup turns into a download
    // and closes; without it Chromium plays the audio in the popup.
    let download = null;
    const onDl = (d) => { download = d; };
    const onPage = (p) => p.on('download', onDl);
    page.on('download', onDl);
    context.on('page', onPage);
    const popupP = page.waitForEvent('popup', { timeout: 10000 }).catch(() => null);
    await link.click();
    const popup = await popupP;
    const out = { href: (href || '').replace(/auth_token=[^&]+/, 'auth_token=***') };
    if (popup) {
      await Promise.race([popup.waitForEvent('download', { timeout: 10000 }), popup.waitForEvent('close', { timeout: 10000 }),
        popup.waitForLoadState('load', { timeout: 10000 })]).catch(() => {});
      await page.waitForTimeout(500);
      out.popup = { url: popup.url().replace(/auth_token=[^&]+/, 'auth_token=***'), closedItself: popup.isClosed() };
      if (!popup.isClosed() && !download) {
        out.popup.media = await waitMedia(popup, 'video, audio').catch((e) => ({ error: { message: e.message } }));
        out.screenshot = path.join(OUT_DIR, `${prefix}b-download-popup.png`);
        await popup.screenshot({ path: out.screenshot }).catch((e) => { out.screenshot = `failed: ${e.message}`; });
      }
    } else {
      await page.waitForTimeout(1000);
    }
    context.off('page', onPage);
    if (download) {
      const file = path.join(OUT_DIR, `${prefix}b-download-${download.suggestedFilename()}`);
      await download.saveAs(file).catch(() => {});
      const buf = fs.existsSync(file) ? fs.readFileSync(file) : null;
      out.download = { suggestedFilename: download.suggestedFilename(), failure: await download.failure(), file, bytes: buf?.length, format: magic(buf) };
    }
    page.off('download', onDl);
    if (popup && !popup.isClosed()) await popup.close().catch(() => {});
    out.fetchCheck = await fetchCheck(href);
    const docOk = apiDuring(step).some((r) => r.status != null && r.status < 400 && (r.type === 'document' || r.type === 'media'));
    out.ok = (!!download && !out.download.failure && out.download.bytes > 0 && out.download.format.startsWith('mp3')) ||
      (!download && !!popup && docOk && !!out.popup.media && !out.popup.media.error && out.popup.media.readyState >= 1);
    return out;
  });

  // Click the call-details button of the first row: GET cdrs/{YYYYMM-call_id}, then a dialog
  // with the CDR as JSON (or an alert "no CDR" on 404).
  const detailsFirst = async (app, prefix) => runAction(app, 'details', `${prefix}c-details`, async () => {
    const row = await firstRow();
    if (!row) return { ok: false, skipped: 'no recording rows' };
    const callId = await row.getAttribute('data-call-id');
    const respP = page.waitForResponse((r) => isApi(r.url()) && relPath(r.url()).includes('/cdrs/'), { timeout: Math.min(TIMEOUT_MS, 15000) }).catch(() => null);
    await row.locator('.details-rec').click();
    const resp = await respP;
    const out = { callId };
    if (resp) {
      out.request = { path: relPath(resp.url()), status: resp.status() };
      try { const j = await resp.json(); out.cdr = { id: j.data?.id, call_id: j.data?.call_id, keys: Object.keys(j.data || {}).length }; } catch { /* not json */ }
    }
    await page.waitForSelector('.ui-dialog:visible', { timeout: 10000 }).catch(() => {});
    await page.waitForTimeout(500);
    const dlg = await page.evaluate(() => {
      const d = Array.from(document.querySelectorAll('.ui-dialog')).find((e) => (e.checkVisibility ? e.checkVisibility() : e.offsetParent !== null));
      if (!d) return null;
      return { title: (d.querySelector('.ui-dialog-title')?.innerText || '').trim(), alert: d.classList.contains('monster-alert'),
        cdrDialog: !!d.querySelector('#recordings_cdr_details_dialog'), jsonNodes: d.querySelectorAll('#jsoneditor *').length,
        text: (d.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 800) };
    }).catch(() => null);
    out.dialog = dlg;
    if (dlg) expectedDialogs.add(redactTokens(dlg.text.slice(0, 500)));
    out.screenshot = await shot(`${prefix}c-details`);
    const callIdPart = (callId || '').replace(/^\d{6}-/, '');
    out.dialogShowsCallId = !!dlg && dlg.text.includes(callIdPart);
    await page.locator('.ui-dialog:visible .ui-dialog-titlebar-close').first().click({ timeout: 5000 }).catch(() => page.keyboard.press('Escape'));
    out.ok = !!resp && resp.status() === 200 && !!dlg && dlg.cdrDialog && out.dialogShowsCallId;
    return out;
  });

  // "Filter by Dates": open the date range, apply it as set by the app (today only), then
  // with the start date 30 days back (the app allows 31).
  const dateFilter = async (app, prefix) => runAction(app, 'date-filter', `${prefix}d-date-filter`, async () => {
    const toggle = page.locator('#monster_content .filter-by-date .expand-dates .toggle-filter');
    if (!(await toggle.count())) return { ok: false, skipped: 'no "Filter by Dates" link' };
    await toggle.click();
    await page.waitForSelector('#monster_content .filter-by-date.active', { timeout: 5000 });
    const apply = async (label) => {
      const dates = await page.evaluate(() => ({ from: document.querySelector('#startDate')?.value, to: document.querySelector('#endDate')?.value }));
      const respP = page.waitForResponse((r) => isApi(r.url()) && /\/recordings$/.test(relPath(r.url())) && r.request().method() === 'GET',
        { timeout: Math.min(TIMEOUT_MS, 15000) }).catch(() => null);
      await page.locator('#monster_content .filter-by-date .apply-filter').click();
      const resp = await respP;
      await settle(10000);
      const res = { label, dates, rows: await rowCount(),
        total: (await page.locator('#monster_content .count-wrapper[data-type="total"] .count-text').innerText().catch(() => '')).trim() };
      if (resp) {
        const q = new URL(resp.url()).searchParams;
        res.request = { status: resp.status(), created_from: q.get('created_from'), created_to: q.get('created_to'), query: resp.url().split('?')[1] };
        try { res.returned = (await resp.json()).data?.length; } catch { /* ignore */ }
      }
      return res;
    };
    const runs = [await apply('default range')];
    await page.evaluate(() => {
      // eslint-disable-next-line no-undef
      const $ = require('jquery');
      const d = new Date(); d.setDate(d.getDate() - 30);
      $('#monster_content #startDate').datepicker('setDate', d);
      $('#monster_content #endDate').datepicker('setDate', new Date());
    });
    runs.push(await apply('last 30 days'));
    const out = { runs, screenshot: await shot(`${prefix}d-date-filter`) };
    out.ok = runs.every((r) => r.request && r.request.status === 200 && r.request.created_from && r.request.created_to);
    return out;
  });

  const APP_ACTION_FNS = {
    recordings: async (prefix) => {
      await playFirst('recordings', prefix, '.play-rec', 'data-media-id');
      await downloadFirst('recordings', prefix, 'a:has(.download-rec)');
      await detailsFirst('recordings', prefix);
      await dateFilter('recordings', prefix);
    },
    'recordings-community': async (prefix) => {
      await playFirst('recordings-community', prefix, '.play-recording', 'data-recording-id');
    },
  };

  try {
    // ---- login page
    step = 'load';
    await page.goto(uiOrigin + '/', { waitUntil: 'domcontentloaded', timeout: TIMEOUT_MS });
    await page.waitForSelector('#login', { state: 'visible', timeout: TIMEOUT_MS });
    await settle(10000);
    report.steps.push({ step, ok: true, screenshot: await shot('01-login-page') });
    log('login page loaded');

    // ---- login
    step = 'login';
    if (!USERNAME || !PASSWORD || !ACCOUNT_NAME) throw new Error('USERNAME, PASSWORD and ACCOUNT_NAME are required to log in');
    await page.fill('#login', USERNAME);
    await page.fill('#password', PASSWORD);
    await page.fill('#account_name', ACCOUNT_NAME);
    await page.click('button.login');
    const outcome = await Promise.race([
      page.waitForFunction(() => {
        try { return require('monster').util.isLoggedIn() && document.querySelector('#main_topbar_apploader') !== null; } catch { return false; }
      }, null, { timeout: TIMEOUT_MS, polling: 250 }).then(() => 'ok'),
      page.waitForSelector('#login.monster-invalid, .error-message-wrapper:visible', { timeout: TIMEOUT_MS }).then(() => 'invalid'),
    ]).catch((e) => `timeout: ${e.message.split('\n')[0]}`);
    // At a user's first login Monster UI opens "myaccount" (Control Center) with a modal
    // "Welcome to the platform" dialog (first-use walkthrough), and, as the user has no
    // default app yet, the app launcher at the same time, which often covers that dialog.
    // Close the dialog with its X (myaccount then saves ui_flags.showfirstUseWalkthrough=false
    // on the user); the click is triggered on the element because the launcher may cover it.
    // Left open, it stays behind once an app closes myaccount, and its modal overlay makes
    // jQuery UI throw "Cannot read properties of null (reading '_focusTabbable')" on later
    // focus changes.
    let walkthrough = null;
    if (outcome === 'ok') {
      const greet = page.locator('.ui-dialog:has(.greetings-walkthrough-container)');
      try {
        await greet.waitFor({ state: 'attached', timeout: 8000 });
        await page.waitForTimeout(500); // myaccount's zoom
        walkthrough = { shown: await greet.isVisible(), screenshot: await shot('02-welcome-dialog') };
        await page.evaluate(() => {
          // eslint-disable-next-line no-undef
          require('jquery')('.ui-dialog').has('.greetings-walkthrough-container').find('.ui-dialog-titlebar-close').trigger('click');
        });
        // it fades out (200 ms), then is removed
        walkthrough.closed = await greet.waitFor({ state: 'detached', timeout: 5000 }).then(() => true, () => false);
      } catch (e) { if (walkthrough) walkthrough.error = e.message.split('\n')[0]; }
    }
    await settle();
    await recordDialogs();
    const st = await monsterState();
    const loginOk = outcome === 'ok' && st.loggedIn;
    report.login = {
      ok: loginOk,
      outcome: outcome === 'ok' && !loginOk ? 'logged in, then logged out again (Monster UI reloaded, see API failures)' : outcome,
      ...(walkthrough ? { welcomeDialog: walkthrough } : {}),
      ...st, screenshot: await shot('02-after-login'),
    };
    log('login:', JSON.stringify(report.login));
    if (!report.login.ok) throw new Error(`login failed: ${report.login.outcome}`);
    // At a first login Monster UI opens "myaccount" (Control Center, a 0.3 s zoom) and hides
    // #monster_content on that transition's end. If the panel is closed again before that
    // transitionend (e.g. by showing the app launcher right away), the pending handler hides
    // the content of the app opened next: wait for the panel to settle first.
    await page.waitForFunction(() => {
      const a = document.querySelector('#myaccount'), m = document.querySelector('#monster_content');
      return !a || !a.classList.contains('myaccount-open') || (m && getComputedStyle(m).display === 'none');
    }, null, { timeout: 10000, polling: 100 }).catch(() => {});
    await settle(5000);

    // ---- app launcher
    step = 'apploader';
    await page.evaluate(() => { try { require('monster').pub('apploader.show'); } catch { /* ignore */ } });
    await settle(10000);
    report.steps.push({ step, ok: true, screenshot: await shot('03-apploader') });

    // ---- apps
    let n = 4;
    for (const app of APPS) {
      step = `app:${app}`;
      // monster.routing.goTo sets #/apps/<name> and parses it even when it is
      // already the current hash (so an app opened as default app is re-rendered).
      await page.evaluate((a) => {
        try { require('monster').routing.goTo('apps/' + a); } catch { window.location.hash = '#/apps/' + a; }
      }, app);
      let opened = true;
      try {
        await page.waitForFunction((a) => { try { return require('monster').apps.getActiveApp() === a; } catch { return false; } },
          app, { timeout: TIMEOUT_MS, polling: 250 });
      } catch { opened = false; }
      await settle();
      await recordDialogs();
      // The app renders into #monster_content; if that stays hidden (see the myaccount note
      // above) the page is blank. Report it, then show it as closing myaccount would, so the
      // app's actions can still run.
      const contentVisible = () => page.evaluate(() => { const m = document.querySelector('#monster_content'); return !!m && getComputedStyle(m).display !== 'none'; }).catch(() => false);
      let contentHidden = false;
      if (opened && !(await page.waitForFunction(() => { const m = document.querySelector('#monster_content'); return !!m && getComputedStyle(m).display !== 'none'; },
        null, { timeout: 5000, polling: 200 }).then(() => true, () => false))) {
        contentHidden = true;
        await page.evaluate(() => { try { require('jquery')('#monster_content').show(); } catch { /* ignore */ } });
        log(`app ${app}: #monster_content was hidden (blank page); shown again`);
        await page.waitForTimeout(300);
      }
      const s = await monsterState();
      const contentText = await page.evaluate(() => (document.querySelector('#monster_content')?.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 300)).catch(() => '');
      const rec = { app, opened: opened && s.activeApp === app, activeApp: s.activeApp, contentText,
        ...(contentHidden ? { contentHidden: true, contentShownAgain: await contentVisible() } : {}),
        screenshot: await shot(`${String(n++).padStart(2, '0')}-app-${app}`) };
      report.apps.push(rec);
      log(`app ${app}: opened=${rec.opened} activeApp=${s.activeApp}`);
      if (rec.opened && APP_ACTIONS.includes(app) && APP_ACTION_FNS[app]) {
        await APP_ACTION_FNS[app](path.basename(rec.screenshot, '.png'));
        step = `app:${app}`;
      }
    }
  } catch (e) {
    report.error = e.message;
    log('ERROR', e.message);
    await shot('99-error');
  } finally {
    step = 'done';
    await browser.close().catch(() => {});
    server.close();
  }
}

function actionSummary(a) {
  const m = (x) => (x ? `readyState=${x.readyState} duration=${x.duration} t=${x.currentTime}${x.error ? ` error=${x.error.code || ''} ${x.error.message}` : ''}` : 'none');
  switch (a.action) {
    case 'play': return a.request ? `GET ${a.request.status} ${a.request.contentType}${a.request.contentRange ? ` (${a.request.contentRange})` : ''}; audio ${m(a.audio)}` : `no media request; audio ${m(a.audio)}`;
    case 'download': return [a.download ? `download ${a.download.suggestedFilename} ${a.download.bytes} bytes ${a.download.format}` : null,
      a.popup && !a.download ? `popup ${a.popup.closedItself ? 'closed itself' : `media ${m(a.popup.media)}`}` : null,
      a.fetchCheck ? `fetch ${a.fetchCheck.status} ${a.fetchCheck.contentType} ${a.fetchCheck.bytes} bytes ${a.fetchCheck.format}` : null].filter(Boolean).join('; ');
    case 'details': return `${a.request ? `GET ${a.request.path} ${a.request.status}` : 'no cdrs request'}; dialog ${a.dialog ? `"${a.dialog.title}"${a.dialog.alert ? ' (alert)' : ''} shows call id: ${a.dialogShowsCallId}` : 'none'}`;
    case 'date-filter': return (a.runs || []).map((r) => `${r.label} ${r.dates?.from}..${r.dates?.to}: ${r.request ? `GET ${r.request.status} created_from=${r.request.created_from} created_to=${r.request.created_to} returned=${r.returned}` : 'no request'} rows=${r.rows} total=${r.total}`).join('; ');
    default: return '';
  }
}
function redactTokens(s) {
  return typeof s === 'string' ? s.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '<jwt>') : s;
}
function redact(pBody) {
  const body = redactTokens(pBody);
  if (!body) return body;
  try {
    const j = JSON.parse(body);
    const walk = (o) => { if (o && typeof o === 'object') for (const k of Object.keys(o)) { if (/password|credentials|secret|auth_token/i.test(k)) o[k] = '***'; else walk(o[k]); } };
    walk(j);
    return JSON.stringify(j);
  } catch { return body; }
}

await main().catch((e) => { report.error = e.stack || String(e); });

// ---------------------------------------------------------------- summary
for (const r of report.apiRequests) {
  if ((r.status >= 400 || r.status == null) && (r.responseBody == null || String(r.responseBody).startsWith('<unreadable'))) {
    const i = pageBodies.findIndex((b) => b.method === r.method && b.url === r.url && (r.status == null || b.status === r.status));
    if (i >= 0) { r.responseBody = pageBodies[i].body; pageBodies.splice(i, 1); }
  }
  // A media element or a media document stops reading once it has enough (and the player
  // is closed): net::ERR_ABORTED after a good response is not a failure of the API.
  if (r.failed === 'net::ERR_ABORTED' && r.status != null && r.status < 400 && (r.resourceType === 'media' || r.resourceType === 'document')) {
    r.abortedAfterResponse = r.failed; delete r.failed;
  }
  if (r.failed || (r.status != null && r.status >= 400)) report.apiFailures.push(r);
  else if (r.status == null) { r.failed = 'no response'; report.apiFailures.push(r); }
}
const groups = new Map();
for (const r of report.apiFailures) {
  const k = groupKey(r);
  const g = groups.get(k) || { key: k, count: 0, statuses: {}, allowed: ALLOW_FAILURES.some((re) => re.test(`${r.method} ${relPath(r.url)}`)), example: r };
  g.count++;
  const s = r.failed ? `failed(${r.failed})` : String(r.status);
  g.statuses[s] = (g.statuses[s] || 0) + 1;
  groups.set(k, g);
}
report.failureGroups = [...groups.values()].map((g) => ({
  key: g.key, count: g.count, statuses: g.statuses, allowed: g.allowed,
  exampleUrl: g.example.url, exampleStep: g.example.step, exampleBody: snippet(g.example.responseBody, 500),
}));
report.finishedAt = new Date().toISOString();
fs.mkdirSync(OUT_DIR, { recursive: true });
fs.writeFileSync(OUT, redactTokens(JSON.stringify(report, null, 2)));

const blocking = report.failureGroups.filter((g) => !g.allowed);
const appsNotOpened = report.apps.filter((a) => !a.opened);
console.log(`\nMonster UI check against ${API_URL}`);
console.log(`  login: ${report.login.ok ? 'ok' : 'FAILED'}${report.error ? `  (error: ${report.error.split('\n')[0]})` : ''}`);
for (const a of report.apps) console.log(`  app ${a.app}: ${a.opened ? 'opened' : `NOT opened (active: ${a.activeApp})`}${a.contentHidden ? ' (content was hidden: blank page, shown again by the check)' : ''}`);
for (const a of report.actions) console.log(`  action ${a.app}/${a.action}: ${a.ok ? 'ok' : (a.skipped ? `skipped (${a.skipped})` : 'FAILED')}${a.error ? `  (error: ${a.error})` : ''}  ${actionSummary(a)}`);
console.log(`  API requests: ${report.apiRequests.length}, failed: ${report.apiFailures.length}`);
for (const g of report.failureGroups) {
  console.log(`   ${g.allowed ? '(allowed) ' : ''}${g.key}  x${g.count}  ${JSON.stringify(g.statuses)}`);
  if (g.exampleBody) console.log(`       ${String(g.exampleBody).replace(/\s+/g, ' ').slice(0, 300)}`);
}
if (report.otherFailures.length) console.log(`  non-API failures: ${report.otherFailures.length} (e.g. ${report.otherFailures.slice(0, 3).map((f) => `${f.status || f.failed} ${f.url}`).join(', ')})`);
console.log(`  page errors: ${report.pageErrors.length}, console errors: ${report.consoleErrors.length}, error dialogs: ${report.dialogs.length}`);
for (const d of report.dialogs.slice(0, 10)) console.log(`   dialog [${d.step}]${d.alert ? ' (alert)' : ''} ${d.text.slice(0, 200)}`);
for (const p of report.pageErrors.slice(0, 10)) console.log(`   pageerror [${p.step}] ${p.message}`);
console.log(`  report: ${OUT}`);

const actionsFailed = report.actions.filter((a) => !a.ok);
const ok = report.login.ok && !report.error && blocking.length === 0 && appsNotOpened.length === 0 && actionsFailed.length === 0;
process.exit(ok ? 0 : 1);
