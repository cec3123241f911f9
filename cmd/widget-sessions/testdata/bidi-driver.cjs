// bidi-driver drives Firefox over WebDriver BiDi with puppeteer-core, for
// the Go browser tests (engines_test.go): one JSON request per line on
// stdin, {id, op, url?, frame?, expr?}, one JSON answer per line on stdout,
// {id, value?, error?}. ops: navigate, eval (an expression whose value is a
// string, awaited if a promise, in the top page or in the frame whose URL
// starts with frame), screenshot (base64 PNG), close. NODE_TOOLS is where
// make test-browser installed puppeteer-core; FIREFOX the browser.
"use strict";
const puppeteer = require(process.env.NODE_TOOLS + "/node_modules/puppeteer-core");
const readline = require("readline");

(async () => {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
    headless: true,
    defaultViewport: { width: 900, height: 640 },
  });
  const page = await browser.newPage();
  const ops = {
    navigate: async (r) => { await page.goto(r.url, { waitUntil: "load" }); return ""; },
    eval: async (r) => {
      let target = page;
      if (r.frame) {
        target = page.frames().find((f) => f.url().startsWith(r.frame));
        if (!target) {
          throw new Error("no frame at " + r.frame);
        }
      }
      return String(await target.evaluate(r.expr));
    },
    screenshot: async () => Buffer.from(await page.screenshot({ type: "png" })).toString("base64"),
    close: async () => { await browser.close(); return ""; },
  };
  console.log(JSON.stringify({ id: 0, value: "ready" }));
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const r = JSON.parse(line);
    let out;
    try {
      out = { id: r.id, value: await ops[r.op](r) };
    } catch (e) {
      out = { id: r.id, error: String(e && e.message || e) };
    }
    console.log(JSON.stringify(out));
    if (r.op === "close") {
      break;
    }
  }
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ id: 0, error: String(e && e.stack || e) })); process.exit(1); });
