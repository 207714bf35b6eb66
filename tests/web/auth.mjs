// Drives Debian's chromium through the dashboard's logins and first writes, for
// tests/web_auth.rs: an operator logs in and acknowledges the failed run's incident; the
// approver who started the gated run is refused its approval (separate_approver); a second
// approver approves it. Prints one JSON object with what the browser read; takes a
// screenshot of each page. The password comes in UNYO_WEB_PASSWORD, never an argument.
//
//   node auth.mjs BASE_URL INCIDENT_ID GATED_RUN_ID STARTER SECOND_APPROVER OUT_DIR
import { chromium } from "playwright-core";

const [base, incidentId, gatedRun, starter, second, out] = process.argv.slice(2);
const password = process.env.UNYO_WEB_PASSWORD;
if (!base || !incidentId || !gatedRun || !starter || !second || !out || !password) {
  console.error("usage: UNYO_WEB_PASSWORD=... node auth.mjs BASE_URL INCIDENT_ID GATED_RUN_ID STARTER SECOND_APPROVER OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const result = { dialogs: [], pageErrors: [] };
const text = (page) => page.evaluate(() => document.body.innerText);

/// A fresh browser (its own cookies) logged in as `name`.
async function loggedIn(name, shot) {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on("dialog", async (d) => {
    result.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  if (shot) await page.screenshot({ path: `${out}/${shot}`, fullPage: true });
  await Promise.all([page.waitForURL(`${base}/`), page.click("#login")]);
  return page;
}

try {
  // A wrong password: the same answer as an unknown user.
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const anon = await ctx.newPage();
  await anon.goto(`${base}/login`);
  await anon.fill("input[name=name]", "op");
  await anon.fill("input[name=password]", "not the password");
  const failed = await Promise.all([anon.waitForResponse(`${base}/login`), anon.click("#login")]);
  result.wrongPassword = { status: failed[0].status(), text: await text(anon) };
  await anon.screenshot({ path: `${out}/login-failed.png`, fullPage: true });

  // The operator acknowledges the incident.
  const op = await loggedIn("op", "login.png");
  result.operatorToday = { who: await op.locator("#who").innerText() };
  await op.goto(`${base}/incidents`);
  await op.screenshot({ path: `${out}/incidents.png`, fullPage: true });
  const row = op.locator(`#incident-${incidentId}`);
  result.before = { status: await row.locator("td.status").innerText() };
  await Promise.all([op.waitForURL(`${base}/incidents`), row.locator("button.ack").click()]);
  result.after = {
    status: await row.locator("td.status").innerText(),
    ack: await row.locator("td.ack").innerText(),
    buttons: await row.locator("button.ack").count(),
  };
  await op.screenshot({ path: `${out}/incident-acknowledged.png`, fullPage: true });

  // The approver who started the run: refused.
  const mine = await loggedIn(starter);
  await mine.goto(`${base}/runs/${gatedRun}`);
  await mine.screenshot({ path: `${out}/gate.png`, fullPage: true });
  const refused = await Promise.all([
    mine.waitForResponse(`${base}/runs/${gatedRun}/approve`),
    mine.locator("button.approve").first().click(),
  ]);
  result.starter = { status: refused[0].status(), text: await text(mine) };
  await mine.screenshot({ path: `${out}/approval-refused.png`, fullPage: true });

  // A second approver: approved, back on the run's page.
  const other = await loggedIn(second);
  await other.goto(`${base}/runs/${gatedRun}`);
  await other.fill(".gate input[name=text] >> nth=0", "checked the totals");
  await Promise.all([
    other.waitForURL(`${base}/runs/${gatedRun}`),
    other.locator("button.approve").first().click(),
  ]);
  result.second = { url: other.url(), text: await text(other) };
  await other.screenshot({ path: `${out}/approved.png`, fullPage: true });
  result.scripts = await other.evaluate(() => document.scripts.length);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
