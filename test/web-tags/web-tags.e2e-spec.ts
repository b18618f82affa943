import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort } from '../support/free-ports';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { launchChromium } from '../inspector/browser';
import { type Pipeline, op, startPipeline } from '../snapshot-fixtures';
import { eventually } from '../support/test-env';

/**
 * The web-tags demo (examples/web-tags, served by `npm run example:web`'s server) in a real
 * headless Chromium against the real stack, two isolated browser contexts as two devices: A goes
 * offline, both edit the same objects and tags, A reloads offline and keeps its edits, A comes
 * back, both converge to the server's state and report its digest; a third device bootstraps
 * from the snapshot and matches, and a second tab of it waits for the first to close.
 *
 * WEB_TAGS_SCREENSHOTS=<dir> also saves screenshots of the devices there (examples/web-tags/docs).
 */

const SCREENSHOTS = process.env.WEB_TAGS_SCREENSHOTS;
const shoot = async (page: Page, name: string) => {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
};

interface Status {
  error?: string;
  pending: string;
  cursor: string;
  verified: string;
  digest: string;
}

describe('web-tags demo: two browsers, offline edits, convergence', () => {
  let p: Pipeline;
  let browser: Browser;
  let web: ChildProcess;
  let origin: string;
  const contexts: BrowserContext[] = [];
  const lib = randomUUID();
  const seeder = randomUUID();
  const [obj1, obj2] = [randomUUID(), randomUUID()];
  const [tag1, tag2] = [randomUUID(), randomUUID()];
  const album = randomUUID();

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    p = await startPipeline('webtags', 1, { SYNC_CORS_ORIGINS: origin });
    web = spawn(process.execPath, [join(__dirname, '../../examples/web-tags/serve.mjs')], {
      env: {
        ...process.env,
        WEB_TAGS_PORT: String(port),
        SYNC_INGEST_URL: p.ingestUrl,
        SYNC_QUERY_URL: p.queryUrl,
        WEB_TAGS_LIBRARY: lib,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      web.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('web-tags: http')) resolve();
      });
      web.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
    });
    await p.post(lib, [
      op.create(seeder, obj1, 'Object', { note: 'cat.jpg' }),
      op.create(seeder, obj2, 'Object', { note: 'dog.png' }),
      op.create(seeder, tag1, 'Tag', { name: 'pets' }),
      op.create(seeder, tag2, 'Tag', { name: 'holiday' }),
      op.create(seeder, album, 'Album', { name: '2024' }),
      op.link(seeder, 'TagOnObject', obj1, tag1),
      op.link(seeder, 'TagOnObject', obj1, tag2),
    ]);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    web?.kill();
    await p?.close();
  });

  async function device(): Promise<Page> {
    const context = await browser.createBrowserContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error: ${String(error)}`));
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    await page.waitForSelector('#status');
    return page;
  }

  const status = (page: Page) =>
    page.$eval('#status', (el) => ({ ...(el as HTMLElement).dataset }) as unknown as Status);

  const serverDigest = () =>
    p.getJson<{ digest: string; appliedOffset: string | null }>(`/libraries/${lib}/digest`);

  /**
   * Waits until the page has nothing pending, its last sync was verified, and it holds the
   * server's state as it is now (same digest). Not its cursor: the feed lists only accepted ops,
   * so a node that is complete can stand below the partition's applied offset (a re-sent batch
   * logged as duplicates, another library's ops).
   */
  async function settled(page: Page): Promise<Status> {
    let last: Status | undefined;
    let server: { digest: string; appliedOffset: string | null } | undefined;
    try {
      return await eventually(
        async () => {
          last = await status(page);
          server = await serverDigest();
          if (last.pending === '0' && last.verified === 'true' && last.digest === server.digest) {
            return last;
          }
          await page.click('#sync-now').catch(() => undefined);
          return undefined;
        },
        60_000,
        250,
      );
    } catch (error) {
      const header = await page.$eval('#status', (el) => el.textContent).catch(() => null);
      throw new Error(
        `page not settled on the server's ${JSON.stringify(server)}: ${JSON.stringify(last)} ${header} (${String(error)})`,
      );
    }
  }

  const objectNames = (page: Page) =>
    page.$$eval('[data-object] input.name', (inputs) => inputs.map((i) => i.value).sort());
  const tagsOf = (page: Page, object: string) =>
    page.$$eval(`[data-object="${object}"] .chip.on[data-tag]`, (chips) =>
      chips.map((c) => (c as HTMLElement).dataset.tag!).sort(),
    );

  async function rename(page: Page, object: string, name: string) {
    const input = `[data-object="${object}"] input.name`;
    await page.click(input, { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type(input, name);
    await page.keyboard.press('Enter');
  }
  const toggleTag = (page: Page, object: string, tag: string) =>
    page.click(`[data-object="${object}"] [data-tag="${tag}"]`);
  async function addObject(page: Page, name: string) {
    await page.type('#add-object input', name);
    await page.keyboard.press('Enter');
  }

  it('converges after offline edits on both devices, and a third bootstraps from the snapshot', async () => {
    const seeded = await eventually(async () => (await serverDigest()).appliedOffset ?? undefined);
    const a = await device();
    const b = await device();
    await settled(a);
    await settled(b);
    expect(await objectNames(a)).toEqual(['cat.jpg', 'dog.png']);
    // The app shell is cached by the service worker, so A can reload offline.
    await a.waitForFunction(
      async () => {
        await navigator.serviceWorker.ready;
        return (await (await caches.open('web-tags-shell-v1')).keys()).length >= 4;
      },
      { timeout: 30_000 },
    );

    await a.setOfflineMode(true);
    await rename(a, obj1, 'cat (A)');
    await toggleTag(a, obj2, tag1); // tag dog with pets
    await toggleTag(a, obj1, tag2); // untag holiday from cat
    await addObject(a, 'bird.gif');
    await eventually(async () => ((await status(a)).pending === '4' ? true : undefined));

    await rename(b, obj2, 'dog (B)');
    await toggleTag(b, obj1, tag1); // untag pets from cat
    await b.click(`[data-tag-row="${tag2}"] button.delete`); // delete the holiday tag
    await toggleTag(b, obj2, tag1); // tag dog with pets as well
    await addObject(b, 'fish.bmp');
    const afterB = await eventually(async () => {
      const s = await status(b);
      return s.pending === '0' && s.verified === 'true' && s.cursor !== seeded ? s : undefined;
    }, 60_000);

    // A reloads while offline: the page comes from the service worker, the edits from IndexedDB.
    await a.reload({ waitUntil: 'load' });
    await a.waitForSelector('[data-object]');
    await shoot(a, 'device-a-offline');
    expect((await status(a)).pending).toBe('4');
    expect(await objectNames(a)).toEqual(['bird.gif', 'cat (A)', 'dog.png']);
    expect(await tagsOf(a, obj2)).toEqual([tag1]);

    await a.setOfflineMode(false);
    await eventually(
      async () => {
        const server = await serverDigest();
        const s = await status(a);
        return server.appliedOffset !== afterB.cursor && s.pending === '0' ? server : undefined;
      },
      60_000,
      250,
    );
    const sa = await settled(a);
    const sb = await settled(b);
    const converged = await serverDigest();
    expect(sa.digest).toBe(converged.digest);
    expect(sb.digest).toBe(converged.digest);
    await shoot(a, 'device-a-synced');
    await shoot(b, 'device-b-synced');

    const records = await p.getJson<{ items: { id: string; data: { note: string } }[] }>(
      `/libraries/${lib}/records?model=Object`,
    );
    const names = records.items.map((r) => r.data.note).sort();
    expect(names).toEqual(['bird.gif', 'cat (A)', 'dog (B)', 'fish.bmp']);
    expect(await objectNames(a)).toEqual(names);
    expect(await objectNames(b)).toEqual(names);
    expect(await tagsOf(a, obj2)).toEqual([tag1]);
    expect(await tagsOf(b, obj1)).toEqual([]);

    const c = await device();
    const sc = await settled(c);
    expect(sc.digest).toBe(converged.digest);
    expect(await objectNames(c)).toEqual(names);

    // A second tab of device C waits on the store's Web Lock, and takes over when C's tab closes.
    const secondTab = await contexts[2].newPage();
    await secondTab.goto(`${origin}/`, { waitUntil: 'load' });
    await secondTab.waitForFunction(
      () => document.getElementById('app')?.textContent?.includes('open in another tab'),
      { timeout: 30_000 },
    );
    expect(await secondTab.$('#status')).toBeNull();
    await c.close();
    await secondTab.waitForSelector('#status', { timeout: 30_000 });
    expect((await settled(secondTab)).digest).toBe(converged.digest);
  }, 240_000);
});
