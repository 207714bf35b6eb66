// Drives Debian's chromium through the dashboard as an operator would, for tests/web.rs:
// Today, the failed run's link followed, its Run page, an unknown run, Today in Japanese.
// Prints one JSON object with what the browser read; takes a screenshot of each page.
//
//   node browse.mjs BASE_URL RUN_ID OUT_DIR
import { chromium } from "playwright-core";

const [base, runId, out] = process.argv.slice(2);
if (!base || !runId || !out) {
  console.error("usage: node browse.mjs BASE_URL RUN_ID OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
});
const result = { dialogs: [], pageErrors: [] };
try {
  const en = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const page = await en.newPage();
  page.on("dialog", async (d) => {
    result.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));

  const today = await page.goto(`${base}/`);
  result.today = {
    status: today.status(),
    lang: await page.evaluate(() => document.documentElement.lang),
    text: await page.evaluate(() => document.body.innerText),
    counters: await page.locator("#counters").innerText(),
    pwned: await page.evaluate(() => typeof window.pwned),
    scripts: await page.evaluate(() => document.scripts.length),
    images: await page.evaluate(() => document.images.length),
  };
  await page.screenshot({ path: `${out}/today.png`, fullPage: true });

  // The failed run, as the operator finds it: its link under "Needs attention".
  await Promise.all([
    page.waitForURL(`**/runs/${runId}`),
    page.locator("#attention a", { hasText: `Run #${runId}` }).first().click(),
  ]);
  result.run = {
    url: page.url(),
    title: await page.title(),
    text: await page.evaluate(() => document.body.innerText),
    stdout: await page.locator("pre.stdout").allTextContents(),
    stderr: await page.locator("pre.stderr").allTextContents(),
    params: await page.locator("#params").innerText(),
    pwned: await page.evaluate(() => typeof window.pwned),
    scripts: await page.evaluate(() => document.scripts.length),
    images: await page.evaluate(() => document.images.length),
  };
  await page.screenshot({ path: `${out}/run.png`, fullPage: true });

  const missing = await page.goto(`${base}/runs/999999999`);
  result.missing = {
    status: missing.status(),
    text: await page.evaluate(() => document.body.innerText),
  };
  await page.screenshot({ path: `${out}/not-found.png`, fullPage: true });

  const ja = await browser.newContext({ locale: "ja-JP", viewport: { width: 1280, height: 900 } });
  const jpage = await ja.newPage();
  jpage.on("pageerror", (e) => result.pageErrors.push(String(e)));
  const todayJa = await jpage.goto(`${base}/`);
  result.todayJa = {
    status: todayJa.status(),
    lang: await jpage.evaluate(() => document.documentElement.lang),
    text: await jpage.evaluate(() => document.body.innerText),
    pwned: await jpage.evaluate(() => typeof window.pwned),
  };
  await jpage.screenshot({ path: `${out}/today-ja.png`, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
