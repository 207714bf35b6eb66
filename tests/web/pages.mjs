// Drives Debian's chromium through the dashboard's Job, Calendar, Reports and Approvals
// pages, for tests/web_pages.rs: the job list's link followed to the job (its graph, chart,
// baseline, service level, next slots), the calendar in English and Japanese, a report
// verified through the form and the frozen one opened, then the approver who started the
// gated run refused from Approvals and a second approver approving there. Prints one JSON
// object with what the browser read; takes a screenshot of each page. The password comes
// in UNYO_WEB_PASSWORD, never an argument.
//
//   node pages.mjs BASE_URL GATED_RUN_ID STARTER SECOND_APPROVER REPORT_SHA256 OUT_DIR
import { chromium } from "playwright-core";

const [base, gatedRun, starter, second, sha, out] = process.argv.slice(2);
const password = process.env.UNYO_WEB_PASSWORD;
if (!base || !gatedRun || !starter || !second || !sha || !out || !password) {
  console.error("usage: UNYO_WEB_PASSWORD=... node pages.mjs BASE_URL GATED_RUN_ID STARTER SECOND_APPROVER REPORT_SHA256 OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const result = { dialogs: [], pageErrors: [], pwned: [] };
const text = (page) => page.evaluate(() => document.body.innerText);

/// A fresh browser context (its own cookies) in `locale`.
async function fresh(locale) {
  const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on("dialog", async (d) => {
    result.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  return page;
}

/// Notes a page where hostile text ran as script.
async function checkPwned(page, where) {
  const t = await page.evaluate(() => typeof window.pwned);
  if (t !== "undefined") result.pwned.push(where);
}

async function loggedIn(name) {
  const page = await fresh("en-US");
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(`${base}/`), page.click("#login")]);
  return page;
}

try {
  const en = await fresh("en-US");
  // Jobs, then the job by its link.
  await en.goto(`${base}/jobs`);
  await checkPwned(en, "jobs");
  await en.screenshot({ path: `${out}/jobs.png`, fullPage: true });
  await Promise.all([en.waitForURL(`**/jobs/flow`), en.locator("a.job", { hasText: "flow" }).click()]);
  result.job = {
    url: en.url(),
    steps: await en.locator("svg.dag g.step").evaluateAll((gs) => gs.map((g) => g.dataset.step)),
    edges: await en.locator("svg.dag path.edge").count(),
    dots: await en.locator("#chart circle").count(),
    description: await en.locator("#description").innerText(),
    baseline: await en.locator("#baseline").innerText(),
    sla: await en.locator("#sla").innerText(),
    next: await en.locator("#next").innerText(),
  };
  await checkPwned(en, "job");
  await en.screenshot({ path: `${out}/job.png`, fullPage: true });
  // On paper: the navigation and forms left off, the graph and chart kept.
  await en.emulateMedia({ media: "print" });
  await en.screenshot({ path: `${out}/job-print.png`, fullPage: true });
  await en.emulateMedia({ media: "screen" });

  const bad = await en.goto(`${base}/jobs/%3Cscript%3Ewindow.pwned=3%3C%2Fscript%3E`);
  result.badJob = { status: bad.status(), text: await text(en) };
  await checkPwned(en, "bad job");
  await en.screenshot({ path: `${out}/job-not-found.png`, fullPage: true });

  // Calendar.
  await en.goto(`${base}/calendar?year=2026`);
  result.calendar = { closed: await en.locator("#calendar-city table.closed-days").innerText() };
  await en.screenshot({ path: `${out}/calendar.png`, fullPage: true });
  await en.emulateMedia({ media: "print" });
  await en.screenshot({ path: `${out}/calendar-print.png`, fullPage: true });
  await en.emulateMedia({ media: "screen" });

  // Reports: verify the file's SHA-256 through the form, open the frozen report.
  await en.goto(`${base}/reports`);
  await en.fill("input[name=sha256]", sha);
  await Promise.all([en.waitForURL(`**/reports?sha256=*`), en.click("#verify button")]);
  result.reports = { verdict: await en.locator("#verdict").innerText() };
  await en.screenshot({ path: `${out}/reports.png`, fullPage: true });
  const [frozen] = await Promise.all([
    en.waitForResponse((r) => r.url().includes("/reports/frozen/")),
    en.locator("#frozen a").first().click(),
  ]);
  await en.waitForLoadState();
  result.frozen = { status: frozen.status(), text: await text(en) };
  await en.screenshot({ path: `${out}/frozen-report.png`, fullPage: true });

  // In Japanese.
  const ja = await fresh("ja-JP");
  await ja.goto(`${base}/jobs/flow`);
  result.jobJa = { text: await text(ja) };
  await ja.screenshot({ path: `${out}/job-ja.png`, fullPage: true });
  await ja.goto(`${base}/calendar?year=2026`);
  result.calendarJa = { closed: await ja.locator("#calendar-city table.closed-days").innerText() };
  await ja.screenshot({ path: `${out}/calendar-ja.png`, fullPage: true });
  await ja.goto(`${base}/reports?sha256=${sha}`);
  result.reportsJa = { text: await text(ja) };
  await ja.screenshot({ path: `${out}/reports-ja.png`, fullPage: true });
  await ja.goto(`${base}/approvals`);
  result.approvalsJa = { text: await text(ja) };
  await ja.screenshot({ path: `${out}/approvals-ja.png`, fullPage: true });

  // Approvals: the starter is refused, a second approver approves.
  const mine = await loggedIn(starter);
  await mine.goto(`${base}/approvals`);
  result.approvals = { text: await text(mine) };
  await checkPwned(mine, "approvals");
  await mine.screenshot({ path: `${out}/approvals.png`, fullPage: true });
  const refused = await Promise.all([
    mine.waitForResponse(`${base}/runs/${gatedRun}/approve`),
    mine.locator("button.approve").first().click(),
  ]);
  result.starter = { status: refused[0].status(), text: await text(mine) };
  await mine.screenshot({ path: `${out}/approval-refused.png`, fullPage: true });

  const other = await loggedIn(second);
  await other.goto(`${base}/approvals`);
  await other.fill(".gate input[name=text] >> nth=0", "checked the totals");
  await Promise.all([
    other.waitForURL(`${base}/approvals`),
    other.locator("button.approve").first().click(),
  ]);
  result.second = { url: other.url(), text: await text(other) };
  await checkPwned(other, "approved");
  await other.screenshot({ path: `${out}/approvals-approved.png`, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
