// Drives Debian's chromium through the dashboard's operations pages, for tests/web_ops.rs:
// an operator resolves an incident and finds it in the audit; holds and releases a job;
// submits an ad-hoc job with a hostile parameter and follows the run to its output; watches
// a running job's output grow (the page reloads itself, no script); reads Nodes and Checks. A
// viewer sees no write and is refused each one. Prints one JSON object with what the browser
// read; takes a screenshot of each page. The password comes in UNYO_WEB_PASSWORD.
//
//   node ops.mjs BASE_URL INCIDENT_ID PRINTER_RUN_ID HOSTILE OUT_DIR
import { chromium } from "playwright-core";

const [base, incidentId, printerRun, hostile, out] = process.argv.slice(2);
const password = process.env.UNYO_WEB_PASSWORD;
if (!base || !incidentId || !printerRun || !hostile || !out || !password) {
  console.error("usage: UNYO_WEB_PASSWORD=... node ops.mjs BASE_URL INCIDENT_ID PRINTER_RUN_ID HOSTILE OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const result = { dialogs: [], pageErrors: [] };
const text = (page) => page.evaluate(() => document.body.innerText);
const shot = (page, name) => page.screenshot({ path: `${out}/${name}`, fullPage: true });

async function loggedIn(name, locale) {
  const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on("dialog", async (d) => {
    result.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(`${base}/`), page.click("#login")]);
  return page;
}

try {
  const op = await loggedIn("op", "en-US");

  // Resolve the incident with its cause and countermeasure, from its own page.
  await op.goto(`${base}/incidents`);
  await Promise.all([
    op.waitForURL(`**/incidents/${incidentId}`),
    op.locator(`#incident-${incidentId} a`, { hasText: incidentId }).first().click(),
  ]);
  await shot(op, "incident.png");
  await op.fill("textarea[name=cause]", "disk full <b>on</b> batch1");
  await op.fill("textarea[name=countermeasure]", "old logs rotated; a disk alert added");
  await Promise.all([op.waitForURL(`**/incidents/${incidentId}`), op.click("button.resolve")]);
  result.resolved = {
    status: await op.locator("#status").innerText(),
    cause: await op.locator("#cause").innerText(),
    by: await op.locator("#resolved-by").innerText(),
    forms: await op.locator("form.act").count(),
  };
  await shot(op, "incident-resolved.png");

  // ... and see it in the audit, filtered by action.
  await op.goto(`${base}/audit`);
  await op.fill("input[name=action]", "incident.resolve");
  await Promise.all([op.waitForURL(`**/audit?**`), op.click("#filter button")]);
  result.audit = {
    url: op.url(),
    rows: await op.locator("#audit tbody tr").allInnerTexts(),
  };
  await shot(op, "audit.png");

  // Hold and release a scheduled job.
  await op.goto(`${base}/holds`);
  await op.fill("#job-nightly input[name=reason]", "server maintenance <tonight>");
  await Promise.all([op.waitForURL(`${base}/holds`), op.click("#job-nightly button.hold")]);
  result.held = await op.locator("#job-nightly").innerText();
  await shot(op, "holds.png");
  await Promise.all([op.waitForURL(`${base}/holds`), op.click("#job-nightly button.release")]);
  result.released = await op.locator("#job-nightly").innerText();

  // Submit the ad-hoc job with a hostile parameter; follow it to its output.
  await op.goto(`${base}/submit`);
  await Promise.all([op.waitForURL(`**/submit?job=extract`), op.click("#adhoc a")]);
  await op.fill("#p-department", hostile);
  await op.fill("#reason", "request from the tax division");
  await shot(op, "submit.png");
  await Promise.all([op.waitForURL(/\/runs\/\d+$/), op.click("button.submit")]);
  const submitted = op.url();
  let status = "";
  for (let i = 0; i < 60; i++) {
    status = await op.locator("#status").innerText();
    if (["succeeded", "failed"].includes(status.trim())) break;
    await op.waitForTimeout(500);
    await op.goto(submitted);
  }
  result.submitted = {
    url: submitted,
    status,
    stdout: await op.locator("pre.stdout").allTextContents(),
    params: await op.locator("#params").innerText(),
    requestedBy: await op.locator("#requested-by").innerText(),
    pwned: await op.evaluate(() => typeof window.pwned),
  };
  await shot(op, "submitted.png");

  // The running job's output, twice: the page reloads itself and the tail grows.
  await op.goto(`${base}/runs/${printerRun}`);
  await op.locator("pre.tail").waitFor({ timeout: 20000 });
  const first = await op.locator("pre.tail").innerText();
  const refresh = await op.locator("meta[http-equiv=refresh]").getAttribute("content");
  await shot(op, "run-live.png");
  await op.waitForEvent("load", { timeout: 15000 });
  await op.locator("pre.tail").waitFor({ timeout: 20000 });
  const second = await op.locator("pre.tail").innerText();
  result.tail = { first, second, refresh, scripts: await op.evaluate(() => document.scripts.length) };

  for (const [path, name] of [["/nodes", "nodes.png"], ["/checks", "checks.png"]]) {
    const r = await op.goto(`${base}${path}`);
    result[path.slice(1)] = { status: r.status(), text: await text(op) };
    await shot(op, name);
  }

  // A viewer: no write offered, each one refused.
  const vi = await loggedIn("vi", "ja-JP");
  await vi.goto(`${base}/holds`);
  result.viewer = { holdsForms: await vi.locator("#holds form").count() };
  await shot(vi, "holds-viewer-ja.png");
  await vi.goto(`${base}/submit?job=extract`);
  result.viewer.submitForm = await vi.locator("#submit-form").count();
  await shot(vi, "submit-viewer-ja.png");
  const csrf = await vi.locator("form.who input[name=csrf]").getAttribute("value");
  const writes = [
    [`/incidents/${incidentId}/resolve`, { cause: "x", countermeasure: "y" }],
    ["/hold", { job: "nightly", reason: "no" }],
    ["/release", { job: "nightly" }],
    ["/submit", { job: "extract", "p.department": "tax" }],
  ];
  result.viewer.refused = [];
  for (const [path, form] of writes) {
    const r = await vi.request.post(`${base}${path}`, {
      form: { csrf, ...form },
      headers: { Origin: base },
      maxRedirects: 0,
    });
    result.viewer.refused.push([path, r.status()]);
  }
  await vi.goto(`${base}/audit?user=web%3Avi`);
  result.viewer.audit = await vi.locator("#audit tbody tr").allInnerTexts();
  await shot(vi, "audit-viewer-ja.png");
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
