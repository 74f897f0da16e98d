// Walks storefront pages in headless Chromium and saves the browser's
// recordings (HARs with bodies) for tests/import_har.rs: one browser, one
// fresh context (and HAR) per job.
//
//   node record-har.mjs DOC.pdf JOB...
//   JOB: twin-page|kiosk-page,BASE_URL,OUT.har[,queue=N]
//
// queue=N first joins the twin's waiting room N times, so the page's own
// ticket waits (and polls) before it is admitted.
// `twin-page` is the twin's own /storefront/app, used as a person would
// (typing the phone number and the code read from the page's inbox).
// `kiosk-page` is a different page (kiosk.html here, served at the twin's
// origin by the browser itself) that drives the same API its own way, so
// the import is shown not to depend on the twin's page. Chromium is the
// Debian package's (CHROMIUM, or `chromium` on PATH).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [pdf, ...specs] = process.argv.slice(2);
const jobs = specs.map((spec) => {
  const [mode, base, out, ...opts] = spec.split(",");
  const queue = Number((opts.find((o) => o.startsWith("queue=")) || "queue=0").slice(6));
  return { mode, base, out, queue };
});
if (!pdf || jobs.length === 0 || jobs.some((j) => !["twin-page", "kiosk-page"].includes(j.mode) || !j.out)) {
  console.error("usage: node record-har.mjs DOC.pdf twin-page|kiosk-page,BASE_URL,OUT.har[,queue=N]...");
  process.exit(2);
}
const executablePath =
  process.env.CHROMIUM || execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();

const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});
// Waits for `selector` to match, failing at once with the page's own
// error line when it shows one.
async function reachOn(page, selector) {
  const failed = page.waitForSelector("#status.error").then(async (e) => {
    throw new Error("the page says: " + (await e.textContent()));
  });
  failed.catch(() => {});
  await Promise.race([page.waitForSelector(selector), failed]);
}

async function record({ mode, base, out, queue }) {
  for (let i = 0; i < queue; i++) {
    const r = await fetch(base + "/storefront/queue", { method: "POST" });
    if (!r.ok) throw new Error("joining the queue: " + r.status);
  }
  const context = await browser.newContext({ recordHar: { path: out, content: "embed" } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  const reach = (selector) => reachOn(page, selector);
  if (mode === "twin-page") {
    await page.goto(base + "/storefront/app");
    await page.fill("#phone", "0812" + String(Date.now()).slice(-8));
    await page.click("#send-otp");
    await reach("#fill-otp:not([hidden])");
    const code = await page.getAttribute("#inbox-text", "data-code");
    // A person reads the code and types it: a pause the import keeps as think time.
    await page.waitForTimeout(1200);
    await page.type("#otp", code);
    await page.click("#verify");
    await reach("#order:not([disabled])");
    await page.fill("#quantity", "3");
    await page.click("#order");
    await reach("#pay:not([disabled])");
    await page.click("#pay");
    await reach("#upload:not([disabled])");
    await page.setInputFiles("#pdf", pdf);
    await page.click("#upload");
    await reach("#stamp-it:not([disabled])");
    await page.click("#stamp-it");
    await reach("#download:not([disabled])");
    await page.click("#download");
    await reach("#saved:not([hidden])");
  } else {
    const html = readFileSync(fileURLToPath(new URL("kiosk.html", import.meta.url)), "utf8");
    await page.route(base + "/kiosk/", (route) =>
      route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }),
    );
    await page.goto(base + "/kiosk/");
    await page.setInputFiles("#doc", pdf);
    await page.click("#go");
    await reach("#done:not([hidden])");
  }
  // Closing the context is what writes the HAR.
  await context.close();
}

let failed = false;
for (const job of jobs) {
  try {
    await record(job);
  } catch (e) {
    console.error(job.mode + " on " + job.base + ": " + String(e && e.message ? e.message : e));
    failed = true;
    break;
  }
}
await browser.close();
process.exit(failed ? 1 : 0);
