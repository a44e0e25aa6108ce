// The workbench in a real browser: Debian's Chromium, headless, driven by playwright-core.
// scripts/browser-test.sh starts `arrears demo` and passes its address and password:
//   ARREARS_URL=http://127.0.0.1:PORT ARREARS_PASSWORD=… node run.mjs
// Screenshots go to ARREARS_ARTIFACTS (default ../../target/browser-artifacts).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

const base = process.env.ARREARS_URL ?? 'http://127.0.0.1:8080';
const password = process.env.ARREARS_PASSWORD;
const artifacts = process.env.ARREARS_ARTIFACTS ?? new URL('../../target/browser-artifacts/', import.meta.url).pathname;
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
assert.ok(password, 'ARREARS_PASSWORD is not set');
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // This machine's network is closed: without these, Chromium keeps trying Google's hosts.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});

const results = [];
async function scenario(name, fn) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Error statuses are what some scenarios expect (they assert them); anything else the
  // console reports as an error (a CSP violation, a script error) fails the scenario.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  try {
    await fn(page);
    assert.deepEqual(errors, [], `errors in the page: ${errors.join('; ')}`);
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}\n     ${e.stack ?? e}`);
    await page.screenshot({ path: `${artifacts}/FAILED-${name}.png`, fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

async function login(page, name) {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login$/);
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#login');
  await page.waitForSelector('#whoami');
}

/// An instant, as RFC 3339 UTC, at which the wall clock in `zone` shows `hour`:00 on the
/// day before today (the contact policy judges the borrower's local time).
function atLocalHour(zone, hour) {
  const now = new Date();
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1);
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' });
  for (let h = 0; h < 48; h++) {
    const t = new Date(day + h * 3600_000);
    if (Number(fmt.format(t)) === hour) return t.toISOString().replace('.000Z', 'Z');
  }
  throw new Error(`no ${hour}:00 in ${zone}`);
}

function daysFromToday(n) {
  const t = new Date(Date.now() + n * 86400_000);
  return t.toISOString().slice(0, 10);
}

let workedCase = null;

await scenario('login-and-logout', async (page) => {
  await login(page, 'c01');
  assert.match(page.url(), /\/queue$/);
  assert.equal(await page.textContent('#whoami'), 'c01 · collector');
  await page.screenshot({ path: `${artifacts}/queue.png`, fullPage: true });
  await page.click('#logout');
  await page.waitForURL(/\/login$/);
  // The session is gone: the queue sends us back to the login form.
  await page.goto(`${base}/queue`);
  await page.waitForURL(/\/login$/);
});

await scenario('wrong-password-is-refused', async (page) => {
  await page.goto(`${base}/login`);
  await page.fill('#name', 'c01');
  await page.fill('#password', 'not the password');
  await page.click('#login');
  await page.waitForSelector('#flash-error');
  assert.match(await page.textContent('#flash-error'), /wrong user name or password/);
});

await scenario('collector-works-first-case-with-a-promise', async (page) => {
  await login(page, 'c01');
  const first = page.locator('#queue a.case-link').first();
  workedCase = (await first.textContent()).trim();
  await first.click();
  await page.waitForSelector('#case-title');
  assert.match(await page.textContent('#case-title'), new RegExp(workedCase));
  // The profile shows the ID number masked, and the DPD history as a chart.
  assert.match(await page.textContent('#national-id'), /\*{4}/);
  assert.ok(await page.locator('#dpd-chart polyline').count() > 0, 'the DPD chart has a line');
  const zone = (await page.textContent('#profile')).match(/(Asia|America|Europe)\/[A-Za-z_]+/)[0];
  await page.selectOption('#channel', 'call');
  await page.selectOption('#party', 'borrower');
  await page.selectOption('#outcome', 'promise_to_pay');
  await page.fill('#ptp-amount', '500.00');
  await page.fill('#ptp-date', daysFromToday(3));
  await page.fill('#note', '借款人确认三天内还款 500 元');
  await page.fill('#at', atLocalHour(zone, 10));
  await page.click('#save-action');
  await page.waitForSelector('#flash-ok');
  const latest = page.locator('#history tr.action').first();
  assert.equal((await latest.locator('td.outcome').textContent()).trim(), 'promise_to_pay');
  assert.match(await page.textContent('#promises'), /500\.00/);
  await page.screenshot({ path: `${artifacts}/case-after-promise.png`, fullPage: true });
});

await scenario('refused-contact-shows-the-rule', async (page) => {
  assert.ok(workedCase, 'needs the case of the previous scenario');
  await login(page, 'c01');
  await page.goto(`${base}/cases/${workedCase}`);
  const zone = (await page.textContent('#profile')).match(/(Asia|America|Europe)\/[A-Za-z_]+/)[0];
  await page.selectOption('#channel', 'call');
  await page.selectOption('#outcome', 'no_answer');
  // 23:00 at the borrower's: inside the quiet hours of both packs.
  await page.fill('#at', atLocalHour(zone, 23));
  await page.click('#save-action');
  await page.waitForSelector('#flash-error');
  const text = await page.textContent('#flash-error');
  assert.match(text, /(CN|US)-[A-Z]+-\d+/, `the refusal names its rule: ${text}`);
  assert.ok(await page.locator('#history .refused').count() >= 1, 'the refusal is in the history');
  await page.screenshot({ path: `${artifacts}/refused.png`, fullPage: true });
});

await scenario('agency-gets-404-for-a-case-not-placed-with-it', async (page) => {
  assert.ok(workedCase);
  await login(page, 'acme');
  const res = await page.goto(`${base}/cases/${workedCase}`);
  assert.equal(res.status(), 404);
  assert.match(await page.textContent('#error-status'), /404/);
  const api = await page.request.get(`${base}/api/v1/cases/${workedCase}`);
  assert.equal(api.status(), 404);
  await page.screenshot({ path: `${artifacts}/agency-404.png` });
});

await scenario('language-switch', async (page) => {
  await login(page, 'c01');
  assert.equal(await page.textContent('#nav-queue'), '我的队列');
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.querySelector('#nav-queue')?.textContent === 'My queue');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.screenshot({ path: `${artifacts}/queue-en.png` });
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.querySelector('#nav-queue')?.textContent === '我的队列');
});

await scenario('manager-dashboard-renders-its-charts', async (page) => {
  await login(page, 'supervisor');
  assert.match(page.url(), /\/dashboard$/);
  assert.ok(await page.locator('#bucket-chart rect.bar').count() >= 2, 'bucket bars');
  assert.ok(await page.locator('#five-class-chart rect.bar').count() >= 2, 'five-class bars');
  assert.ok(await page.locator('#trend-chart polyline.series').count() >= 1, 'trend lines');
  assert.ok(await page.locator('#roll-matrix tr').count() >= 2, 'roll-rate matrix');
  assert.ok(await page.locator('#collectors tr').count() >= 11, 'ten collectors');
  const box = await page.locator('#bucket-chart').boundingBox();
  assert.ok(box && box.width > 200 && box.height > 20, 'the chart is drawn at a visible size');
  await page.screenshot({ path: `${artifacts}/dashboard.png`, fullPage: true });
});

await scenario('auditor-verifies-the-log', async (page) => {
  await login(page, 'auditor');
  await page.click('#verify');
  await page.waitForSelector('#verify-result');
  assert.match(await page.textContent('#verify-result'), /完整|intact/);
  await page.screenshot({ path: `${artifacts}/audit.png` });
});

await scenario('admin-strategy-upload-shows-checker-errors-inline', async (page) => {
  await login(page, 'admin');
  assert.match(page.url(), /\/admin$/);
  assert.ok(await page.locator('#users tr').count() >= 8, 'one user per role');
  await page.fill('#strategy-text', 'name = "broken"\nversion = 1\neffective_from = "2026-01-01"\n[[segments]]\nname = "x"\nwhen = "dpd >>> 3"\n');
  await page.click('button[name=install][value="0"]');
  await page.waitForSelector('#strategy-errors');
  assert.match(await page.textContent('#strategy-errors'), /strategy\.toml:\d+:\d+:/);
  await page.screenshot({ path: `${artifacts}/admin-strategy-errors.png`, fullPage: true });
});

let arrangedCase = null;

await scenario('supervisor-decides-beside-the-quote-and-moves-the-legal-board', async (page) => {
  // The collector asks for a six-month extension on a case of one loan whose balance is within a
  // supervisor's authority (config/authority.toml: 30,000.00 USD, 200,000.00 CNY).
  await login(page, 'c01');
  const links = await page.locator('#queue a.case-link').evaluateAll((as) => as.map((a) => a.textContent.trim()));
  for (const c of links.slice(0, 40)) {
    await page.goto(`${base}/cases/${c}`);
    const rows = page.locator('#loans > table tr:has(td)');
    if (await rows.count() !== 1) continue;
    const outstanding = Number((await rows.first().locator('td.num').nth(1).textContent()).trim());
    if (outstanding > 0 && outstanding < 30000) {
      arrangedCase = c;
      break;
    }
  }
  assert.ok(arrangedCase, 'a case of one loan within a supervisor\'s authority in the queue');
  const workedCase = arrangedCase;
  await page.goto(`${base}/cases/${workedCase}`);
  await page.selectOption('#arrangement-form select[name=kind]', 'extension');
  await page.fill('#arrangement-form input[name=amount]', '0');
  await page.fill('#arrangement-form input[name=months]', '6');
  await page.click('#arrangement-form button[type=submit]');
  await page.waitForSelector('#flash-ok');
  await page.click('#logout');
  // The supervisor sees it with its quote and new schedule, and approves it.
  await login(page, 'supervisor');
  await page.click('#nav-approvals');
  await page.waitForURL(/\/approvals$/);
  const card = page.locator('section.pending', { hasText: workedCase }).first();
  assert.ok(await card.locator('table.schedule tr').count() >= 2, 'the new schedule beside the request');
  assert.equal(await card.locator('table.quote tr.total_to_pay').count(), 1, 'the total to pay beside it');
  await page.screenshot({ path: `${artifacts}/approvals.png`, fullPage: true });
  await card.locator('button.approve').click();
  await page.waitForSelector('#flash-ok');
  // Then refers the case to legal and moves it on the legal board.
  await page.goto(`${base}/cases/${workedCase}`);
  await page.fill('#firm', '金杜律师事务所');
  await page.fill('#lawyer', '王明');
  await page.click('#open-legal');
  await page.waitForURL(/\/legal\?done=/);
  const row = () => page.locator('#legal-board tr.legal-case', { hasText: workedCase }).first();
  assert.equal(await row().locator('td.stage').getAttribute('data-stage'), 'lawyer_letter');
  await row().locator('select[name=to]').selectOption('filing');
  await row().locator('button[type=submit]').click();
  await page.waitForSelector('#flash-ok');
  assert.equal(await row().locator('td.stage').getAttribute('data-stage'), 'filing');
  await page.screenshot({ path: `${artifacts}/legal-board.png`, fullPage: true });
});

await scenario('write-offs-refused-in-an-arrangement-and-a-transfer-from-request-to-package', async (page) => {
  assert.ok(arrangedCase, 'needs the case of an earlier scenario');
  // That case is in an arrangement now: its write-off is refused, with the reason.
  await login(page, 'c01');
  await page.goto(`${base}/cases/${arrangedCase}`);
  await page.fill('#write-off-form input[name=note]', '无可执行财产');
  await page.click('#request-write-off');
  await page.waitForSelector('#flash-error');
  assert.match(await page.textContent('#flash-error'), /must be kept or break first/);
  await page.click('#logout');
  // Legal asks to sell loans 31+ days past due, at most five.
  await login(page, 'legal');
  await page.click('#nav-transfers');
  await page.waitForURL(/\/transfers$/);
  const today = new Date().toISOString().slice(0, 10);
  await page.fill('#transfer-form input[name=buyer]', '东方资产管理');
  await page.fill('#transfer-form input[name=price]', '1000.00');
  await page.fill('#transfer-form input[name=cut_off]', today);
  await page.fill('#transfer-form input[name=transfer_on]', today);
  await page.fill('#transfer-form input[name=min_dpd]', '31');
  await page.fill('#transfer-form input[name=limit]', '5');
  await page.click('#create-transfer');
  await page.waitForURL(/\/transfers\?done=/);
  const id = decodeURIComponent(page.url().split('done=')[1]);
  const row = page.locator('#transfers tr', { hasText: id });
  assert.equal((await row.locator('td.status').textContent()).trim(), 'requested');
  await page.click('#logout');
  // The supervisor approves it beside its quote; its package is then a zip to download.
  await login(page, 'supervisor');
  await page.click('#nav-approvals');
  const card = page.locator(`section.pending[data-id="${id}"]`);
  assert.equal(await card.locator('table.quote tr.price').count(), 1, 'the price beside the request');
  await card.locator('button.approve').click();
  await page.waitForSelector('#flash-ok');
  await page.click('#nav-transfers');
  const link = page.locator('#transfers tr', { hasText: id }).locator('a.package');
  const zip = await page.request.get(`${base}${await link.getAttribute('href')}`);
  assert.equal(zip.status(), 200);
  assert.equal((await zip.body()).subarray(0, 2).toString(), 'PK');
  await page.screenshot({ path: `${artifacts}/transfers.png`, fullPage: true });
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${artifacts}`);
process.exit(failed.length ? 1 : 0);
