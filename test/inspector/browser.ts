import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * A real headless Chromium for the inspector's browser tests: Debian's `chromium` package
 * (`.ci/run` installs it), driven by puppeteer-core through its executable path; nothing is
 * downloaded.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (see .ci/run)`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Chromium refuses its sandbox as root (CI containers); shared memory is small there too.
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
}

/** What one page did: every request it made, and every error it reported. */
export interface PageWatch {
  page: Page;
  /** Every URL the page asked for, in order (data: URLs included). */
  requests: string[];
  /** Requests to anything but `origin`; they are refused, and the test must fail on them. */
  foreign: string[];
  /** Console messages of type error, and uncaught exceptions. */
  errors: string[];
  /** Gzipped bytes of each asset response (document, script, stylesheet, image, font). */
  assetBytes: Map<string, { raw: number; gzipped: number }>;
}

const ASSET_TYPES = new Set(['document', 'script', 'stylesheet', 'image', 'font', 'other']);

/** A new page that records its requests and errors and refuses any request off `origin`. */
export async function watchedPage(
  browser: Browser,
  origin: string,
  viewport = { width: 1280, height: 800 },
): Promise<PageWatch> {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  const watch: PageWatch = { page, requests: [], foreign: [], errors: [], assetBytes: new Map() };
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = request.url();
    watch.requests.push(url);
    if (url.startsWith('data:') || new URL(url).origin === origin) {
      void request.continue();
    } else {
      watch.foreign.push(url);
      void request.abort('blockedbyclient');
    }
  });
  page.on('response', (response) => {
    const request = response.request();
    if (!ASSET_TYPES.has(request.resourceType()) || response.url().startsWith('data:')) return;
    if (response.status() < 200 || response.status() >= 300) return;
    void response.buffer().then(
      (body) =>
        watch.assetBytes.set(response.url(), {
          raw: body.length,
          gzipped: gzipSync(body, { level: 9 }).length,
        }),
      () => undefined,
    );
  });
  page.on('console', (message) => {
    if (message.type() === 'error') {
      const where = message.location().url;
      watch.errors.push(`${message.text()}${where ? ` (${where})` : ''}`);
    }
  });
  page.on('pageerror', (error) => watch.errors.push(`uncaught: ${String(error)}`));
  return watch;
}

/** Text of every cell of `selector`'s rows, keyed by the row's data-id and the cell's data-field. */
export async function tableCells(
  page: Page,
  selector: string,
): Promise<Record<string, Record<string, string>>> {
  return page.$$eval(`${selector} tbody tr[data-id]`, (rows) =>
    Object.fromEntries(
      rows.map((row) => [
        (row as HTMLElement).dataset.id!,
        Object.fromEntries(
          [...row.querySelectorAll<HTMLElement>('[data-field]')].map((cell) => [
            cell.dataset.field!,
            cell.textContent.trim(),
          ]),
        ),
      ]),
    ),
  );
}

/** How the page writes a JSON value in a cell (ui.tsx `Value`). */
export function shown(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
