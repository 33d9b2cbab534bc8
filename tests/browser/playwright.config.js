// Playwright drives Debian's chromium (`apt-get install chromium`), not a browser of its own:
// set PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 for `npm ci`. BOXOFFICE_CHROMIUM overrides the path.
// Each test starts its own `boxoffice serve` (BOXOFFICE_BIN) on a free port with a fresh
// database: see support.js. Every wait is bounded.
const { defineConfig } = require('@playwright/test');

module.exports = defineConfig({
  testDir: '.',
  testMatch: '*.spec.js',
  timeout: 120_000,
  expect: { timeout: 20_000 },
  fullyParallel: true,
  workers: Number(process.env.BROWSER_TEST_WORKERS || 2),
  retries: 0,
  reporter: [['list']],
  use: {
    headless: true,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.BOXOFFICE_CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
    trace: 'off',
  },
});
