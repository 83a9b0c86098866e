// The person at the browser, for the CLI's Google/GitHub sign-in against the Firebase Auth
// Emulator. The CLI starts it as $BROWSER with the sign-in URL as its last argument (see
// tests/tests/cli_browser_signin.rs); it opens the URL in Debian's Chromium (headless, through
// playwright-core, never a downloaded browser), adds a new account on the emulator's fake-provider
// page with SIGNIN_EMAIL and SIGNIN_NAME, signs in, and waits for the CLI's "You are signed in"
// page. What it did goes to BROWSER_DRIVER_LOG (the CLI does not show a browser's output). When a
// step fails it answers the CLI's redirect with `error=`, as a provider refusing does, so the CLI
// fails at once instead of waiting out its five minutes, and exits non-zero.
import { appendFileSync } from "node:fs";
import { chromium } from "playwright-core";

const url = process.argv[process.argv.length - 1];
const email = process.env.SIGNIN_EMAIL;
const name = process.env.SIGNIN_NAME || "Test Person";
const logFile = process.env.BROWSER_DRIVER_LOG;
const log = (line) => {
  const text = `${new Date().toISOString()} ${line}\n`;
  if (logFile) appendFileSync(logFile, text);
  else process.stderr.write(text);
};

let browser;
try {
  if (!url || !url.startsWith("http")) throw new Error(`no URL given: ${process.argv.join(" ")}`);
  if (!email) throw new Error("SIGNIN_EMAIL is not set");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
    ],
    timeout: 30_000,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(30_000);
  log(`opening ${url}`);
  await page.goto(url);
  log("adding a new account on the emulator's page");
  await page.click("#add-account-button");
  await page.fill("#email-input", email);
  await page.fill("#display-name-input", name);
  await page.click("#sign-in");
  await page.waitForSelector("text=You are signed in");
  log(`signed in; the page is ${page.url().split("?")[0]}`);
} catch (error) {
  log(`failed: ${error.stack || error}`);
  process.exitCode = 1;
  const redirect = url && new URL(url).searchParams.get("redirectUrl");
  if (redirect) {
    const refusal = `${redirect}&error=${encodeURIComponent("the browser driver failed")}`;
    await fetch(refusal).catch((e) => log(`could not tell the CLI: ${e}`));
  }
} finally {
  if (browser) await browser.close();
}
