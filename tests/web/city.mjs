// Drives Debian's chromium through the city's view, for tests/web_city.rs: a `city` user
// logs in (a browser that asks for English), lands on the city's view, is sent back to it
// from the operators' pages, and is refused every write the dashboard has, each posted with
// the session's own CSRF token (read from the page's logout form). Prints one JSON object
// with what the browser read; takes screenshots. The password comes in UNYO_WEB_PASSWORD.
//
//   node city.mjs BASE_URL USER INCIDENT_ID GATED_RUN_ID RUNNING_RUN_ID OUT_DIR
import { chromium } from "playwright-core";

const [base, user, incident, gated, running, out] = process.argv.slice(2);
const password = process.env.UNYO_WEB_PASSWORD;
if (!base || !user || !incident || !gated || !running || !out || !password) {
  console.error("usage: UNYO_WEB_PASSWORD=... node city.mjs BASE_URL USER INCIDENT_ID GATED_RUN_ID RUNNING_RUN_ID OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const result = { pageErrors: [], elsewhere: {}, writes: {} };
try {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", user);
  await page.fill("input[name=password]", password);
  await page.screenshot({ path: `${out}/city-login.png`, fullPage: true });
  await Promise.all([page.waitForURL(`${base}/city`), page.click("#login")]);
  result.city = {
    url: page.url(),
    lang: await page.evaluate(() => document.documentElement.lang),
    text: await page.evaluate(() => document.body.innerText),
    incidents: await page.locator("#incidents").innerText(),
  };
  await page.screenshot({ path: `${out}/city.png`, fullPage: true });
  await page.emulateMedia({ media: "print" });
  await page.screenshot({ path: `${out}/city-print.png`, fullPage: true });
  await page.emulateMedia({ media: "screen" });

  for (const path of ["/", "/incidents", `/runs/${running}`, `/runs/${gated}`]) {
    await page.goto(`${base}${path}`);
    result.elsewhere[path] = page.url();
  }

  // The frozen report, as a download of its bytes.
  await page.goto(`${base}/city`);
  const href = await page.locator("#frozen a").first().getAttribute("href");
  const frozen = await ctx.request.get(`${base}${href}`);
  result.frozen = { status: frozen.status(), body: await frozen.text() };

  // Every write, with this session's token: refused.
  const csrf = await page.locator("form.who input[name=csrf]").getAttribute("value");
  const writes = [
    `/incidents/${incident}/ack`,
    `/runs/${running}/cancel`,
    `/runs/${gated}/approve`,
    `/runs/${gated}/reject`,
  ];
  for (const path of writes) {
    const r = await ctx.request.post(`${base}${path}`, {
      form: { csrf, step: "ask", text: "the city says go" },
      maxRedirects: 0,
    });
    result.writes[path] = r.status();
  }
  await page.goto(`${base}/city`);
  result.after = await page.evaluate(() => document.body.innerText);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
