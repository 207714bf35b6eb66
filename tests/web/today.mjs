// Drives Debian's chromium through Today as an operator reads it in the morning, for
// tests/web_today.rs: what needs attention and what runs now, then the timeline's filter
// chosen in its form (a status, then a node), a node nobody ran on, and Today in Japanese.
// Prints one JSON object with what the browser read; takes a screenshot of each page.
//
//   node today.mjs BASE_URL OUT_DIR
import { chromium } from "playwright-core";

const [base, out] = process.argv.slice(2);
if (!base || !out) {
  console.error("usage: node today.mjs BASE_URL OUT_DIR");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
});
const result = { dialogs: [], pageErrors: [] };

/// The rows of a section's table: each row's class and its text.
const rows = (page, section) =>
  page.locator(`#${section} tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => ({ kind: tr.className, text: tr.innerText })),
  );
const safety = async (page) => ({
  pwned: await page.evaluate(() => typeof window.pwned),
  scripts: await page.evaluate(() => document.scripts.length),
});

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
    counters: await page.locator("#counters").innerText(),
    attention: await rows(page, "attention"),
    running: await rows(page, "running"),
    ...(await safety(page)),
  };
  await page.screenshot({ path: `${out}/today-attention.png`, fullPage: true });
  await page.screenshot({ path: `${out}/today-top.png` });

  // The failed runs only, chosen in the timeline's form.
  await page.locator("#timeline select[name=status]").selectOption("failed");
  await Promise.all([
    page.waitForURL("**/?status=failed*"),
    page.locator("#timeline form.filter button").click(),
  ]);
  result.failed = {
    url: page.url(),
    selected: await page.locator("#timeline select[name=status]").inputValue(),
    statuses: [...new Set(await page.locator("#timeline tbody td.status").allTextContents())],
    timeline: await page.locator("#timeline").innerText(),
    ...(await safety(page)),
  };
  await page.locator("#timeline").screenshot({ path: `${out}/today-failed.png` });

  // Any status, the first node offered.
  await page.locator("#timeline select[name=status]").selectOption("");
  const node = await page
    .locator("#timeline select[name=node] option")
    .nth(1)
    .getAttribute("value");
  await page.locator("#timeline select[name=node]").selectOption(node);
  await Promise.all([
    page.waitForURL("**/?status=&node=*"),
    page.locator("#timeline form.filter button").click(),
  ]);
  result.node = {
    url: page.url(),
    node,
    rows: await page.locator("#timeline tbody tr").count(),
    ...(await safety(page)),
  };
  await page.goto(`${base}/?node=nowhere`);
  result.nowhere = { timeline: await page.locator("#timeline").innerText() };

  const ja = await browser.newContext({ locale: "ja-JP", viewport: { width: 1280, height: 900 } });
  const jpage = await ja.newPage();
  jpage.on("pageerror", (e) => result.pageErrors.push(String(e)));
  await jpage.goto(`${base}/`);
  result.todayJa = {
    text: await jpage.evaluate(() => document.body.innerText),
    ...(await safety(jpage)),
  };
  await jpage.screenshot({ path: `${out}/today-ja-attention.png`, fullPage: true });
  await jpage.screenshot({ path: `${out}/today-ja-top.png` });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
