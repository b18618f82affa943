/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return --
   the API answers are untyped JSON, compared with the page field by field */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import type { Browser, Page } from 'puppeteer-core';
import { createQueryApp } from '../../apps/query/src/query.app';
import { readQueryConfig } from '../../apps/query/src/query.config';
import { runKeysCli } from '../../scripts/keys-cli';
import { type PageWatch, launchChromium, shown, tableCells, watchedPage } from './browser';
import { op } from '../snapshot-fixtures';
import { eventually, kafkaBrokers } from '../support/test-env';
import { type TestStack, startTestStack, urlOf } from '../support/test-stack';

/**
 * The inspector in a real headless Chromium against the real stack (ingest, projector and query
 * in-process, real Kafka and Postgres): every view shows what the API answers for a seeded
 * library, cell by cell; live changes arrive without a reload; the page loads nothing from
 * another origin, logs no error, and its first load stays under 300 KB gzipped. A second query
 * instance on the same database runs with API keys on.
 *
 * INSPECTOR_SCREENSHOTS=<dir> also saves a screenshot of each view there (docs/inspector).
 */

const SCREENSHOTS = process.env.INSPECTOR_SCREENSHOTS;
const FIRST_LOAD_BUDGET = 300 * 1024;

type Json = Record<string, any>;

describe('inspector in a real browser', () => {
  let stack: TestStack;
  let ingestUrl: string;
  let queryUrl: string;
  let browser: Browser;
  const watches: PageWatch[] = [];

  const lib = randomUUID();
  const nodeA = randomUUID();
  const nodeB = randomUUID();
  const tags = Array.from({ length: 5 }, () => randomUUID()).sort();
  const objects = [randomUUID(), randomUUID()].sort();
  const location = randomUUID();
  const filePath = randomUUID();
  const ghost = randomUUID();
  const labels = Array.from({ length: 55 }, () => randomUUID()).sort();
  /** Offset of the last op of the first batch: the time-travel position. */
  let firstBatchEnd: string;
  let lastOffset: string;

  const { create, update } = op;
  const relate = (item: string, group: string, data?: Json) =>
    op.link(nodeA, 'TagOnObject', item, group, data);

  async function post(ops: unknown[]): Promise<string> {
    const response = await fetch(`${ingestUrl}/libraries/${lib}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ops),
    });
    const body = (await response.json()) as Json;
    expect(response.status).toBe(202);
    return body.lastOffset as string;
  }

  /** A query API answer, once the write at `lastOffset` is applied. */
  async function api(path: string, base = queryUrl, key?: string): Promise<Json> {
    const separator = path.includes('?') ? '&' : '?';
    const response = await fetch(`${base}${path}${separator}minOffset=${lastOffset}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Json;
  }

  beforeAll(async () => {
    const inspectorDir = join(__dirname, '../../dist/apps/inspector');
    stack = await startTestStack('inspector', {
      partitions: 2,
      env: { SYNC_AUTH_DISABLED: 'true' },
      queryEnv: (urls) => ({
        QUERY_INGEST_URL: urls.ingestUrl,
        QUERY_PROJECTOR_URL: urls.projectorUrl,
        QUERY_INSPECTOR_DIR: inspectorDir,
      }),
    });
    ({ ingestUrl, queryUrl } = stack);

    firstBatchEnd = await post([
      ...tags.map((id, i) => create(nodeA, id, 'Tag', { name: `tag ${i}`, color: `#00${i}` })),
      create(nodeA, objects[0], 'Object', { kind: 1, favorite: true, note: 'first' }),
      create(nodeB, objects[1], 'Object', { kind: 2, hidden: false }),
      create(nodeA, location, 'Location', { name: 'disk', path: '/mnt', total_capacity: 100 }),
      create(nodeA, filePath, 'FilePath', {
        name: 'a',
        extension: 'txt',
        location,
        object: objects[0],
        size_in_bytes: 12,
      }),
    ]);
    lastOffset = await post([
      update(nodeB, tags[0], 'color', 'red'),
      update(nodeA, tags[1], 'name', 'renamed'),
      op.remove(nodeA, tags[4]),
      relate(objects[0], tags[0], { date_created: '2024-05-01T10:00:00Z' }),
      relate(objects[0], tags[1]),
      relate(objects[1], tags[0]),
      update(nodeB, location, 'name', 'stolen'), // owned by A: NOT_OWNER
      update(nodeA, ghost, 'name', 'waiting'), // no CREATE yet: pending
    ]);
    // More labels than one page of the table holds.
    lastOffset = await post(
      labels.map((id, i) => create(nodeA, id, 'Label', { name: `label ${i}` })),
    );
    // Applied through the last op before the browser looks.
    await api(`/libraries/${lib}/status`);
    // One message that is not an op: the projector dead-letters it, the overview counts it.
    const producer = new Kafka({
      brokers: kafkaBrokers(),
      clientId: 'inspector-test',
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    await producer.send({
      topic: stack.topics.operationsTopic,
      messages: [{ key: lib, value: 'not an op' }],
    });
    await producer.disconnect();
    await eventually(async () => {
      const pipeline = await api('/pipeline');
      return pipeline.deadLetters.messages === 1 ? true : undefined;
    });
    browser = await launchChromium();
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** A watched page at `hash` of the inspector; its requests and errors are checked in afterEach. */
  async function open(hash = '', viewport?: { width: number; height: number }, base = queryUrl) {
    const watch = await watchedPage(browser, new URL(base).origin, viewport);
    watches.push(watch);
    await watch.page.goto(`${base}/inspector/${hash}`, { waitUntil: 'load' });
    return watch;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  }

  /**
   * Chromium logs every non-2xx fetch as a console error, even when the page handles the answer.
   * Takes the logged errors, minus those answers the test provokes on purpose (status, and a
   * part of the URL when given); whatever is left is a real error.
   */
  const unexpectedErrors = (watch: PageWatch, expected: { status: number; url?: string }[]) =>
    watch.errors
      .splice(0)
      .filter(
        (error) =>
          !expected.some(
            ({ status, url }) =>
              error.startsWith(
                `Failed to load resource: the server responded with a status of ${status}`,
              ) &&
              (url === undefined || error.includes(url)),
          ),
      );

  afterEach(async () => {
    for (const watch of watches.splice(0)) {
      expect(watch.foreign).toEqual([]);
      expect(watch.errors).toEqual([]);
      await watch.page.close();
    }
  });

  it('serves the page without a key, same origin only, under a strict CSP', async () => {
    const response = await fetch(`${queryUrl}/inspector/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    const redirect = await fetch(`${queryUrl}/inspector`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/inspector/');
    const withQuery = await fetch(`${queryUrl}/inspector?x=1`, { redirect: 'manual' });
    expect(withQuery.headers.get('location')).toBe('/inspector/?x=1');
    const missing = await fetch(`${queryUrl}/inspector/nothing.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('overview: libraries with counts and lag, services, partitions; first load under 300 KB gzipped', async () => {
    const { page, assetBytes, requests } = await open();
    await page.waitForSelector(`#libraries tr[data-id="${lib}"]`);
    await page.waitForSelector('#partitions tbody tr');
    await page.waitForSelector('#services li[data-service="projector"]');

    const libraries = await api('/libraries');
    const pipeline = await api('/pipeline');
    const summary = libraries.items.find((item: Json) => item.id === lib);
    const partition = pipeline.partitions.find((p: Json) => p.partition === summary.partition);
    const cells = await tableCells(page, '#libraries');
    expect(cells[lib]).toEqual({
      id: lib,
      partition: String(summary.partition),
      operations: String(summary.operations),
      records: String(summary.records),
      relations: String(summary.relations),
      pending: String(summary.pending),
      rejected: String(summary.rejected),
      appliedOffset: partition.appliedOffset,
      lag: String(partition.lag),
    });
    expect(summary).toMatchObject({ records: 63, relations: 3, pending: 1, rejected: 1 });
    expect(await tableCells(page, '#partitions')).toEqual(
      Object.fromEntries(
        pipeline.partitions.map((p: Json) => [
          String(p.partition),
          {
            partition: String(p.partition),
            appliedOffset: p.appliedOffset ?? '—',
            endOffset: p.endOffset,
            lag: String(p.lag),
          },
        ]),
      ),
    );
    const services = await page.$$eval('#services li', (items) =>
      items.map((li) => [
        (li as HTMLElement).dataset.service,
        li.querySelector('.badge')!.textContent,
      ]),
    );
    expect(services).toEqual([
      ['query', 'ready'],
      ['ingest', 'ready'],
      ['projector', 'ready'],
    ]);
    expect(pipeline.deadLetters.messages).toBe(1);
    expect(await page.$eval('#dead-letters', (el) => el.textContent)).toBe('1');
    await screenshot(page, 'overview');

    // First load: every asset the page fetched (the API's JSON is data, not part of the page).
    const assets = requests.filter(
      (url) => !url.startsWith('data:') && new URL(url).pathname.startsWith('/inspector/'),
    );
    expect(new Set(assets)).toEqual(new Set([...assetBytes.keys()]));
    const gzipped = [...assetBytes.values()].reduce((sum, asset) => sum + asset.gzipped, 0);
    const raw = [...assetBytes.values()].reduce((sum, asset) => sum + asset.raw, 0);
    console.log(
      `inspector first load: ${assetBytes.size} assets, ${raw} bytes, ${gzipped} bytes gzipped (level 9)`,
    );
    expect(gzipped).toBeLessThan(FIRST_LOAD_BUDGET);
  });

  it('overview refreshes itself', async () => {
    const { page } = await open();
    await page.waitForSelector(`#libraries tr[data-id="${lib}"]`);
    const other = randomUUID();
    const response = await fetch(`${ingestUrl}/libraries/${other}/operations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([create(nodeA, randomUUID(), 'Tag', { name: 'elsewhere' })]),
    });
    expect(response.status).toBe(202);
    // Refreshes every 5 s; allow one refresh plus the projector.
    await page.waitForSelector(`#libraries tr[data-id="${other}"]`, { timeout: 12_000 });
  });

  it('library: records by model, cell by cell, and the status counts', async () => {
    const { page } = await open(`#/library/${lib}?model=Tag`);
    await page.waitForSelector(`#records tr[data-id="${tags[0]}"]`);
    const expected = await api(`/libraries/${lib}/records?model=Tag`);
    const cells = await tableCells(page, '#records');
    expect(Object.keys(cells)).toEqual(expected.items.map((r: Json) => r.id));
    for (const record of expected.items) {
      expect(cells[record.id]).toEqual({
        id: record.id,
        ...Object.fromEntries(Object.entries(record.data).map(([k, v]) => [k, shown(v)])),
      });
    }
    expect(cells[tags[4]]).toBeUndefined(); // deleted
    const status = await api(`/libraries/${lib}/status`);
    const facts = await page.$$eval('#status dd[data-field]', (dds) =>
      Object.fromEntries(dds.map((dd) => [dd.dataset.field, dd.textContent])),
    );
    expect(facts).toEqual({
      partition: String(status.partition),
      appliedOffset: status.appliedOffset,
      records: String(status.records),
      relations: String(status.relations),
      pending: String(status.pending),
      rejected: String(status.rejected),
    });
    await screenshot(page, 'library');

    // Another model through the selector; ref fields link to their record.
    await page.select('select[name="model"]', 'FilePath');
    await page.waitForSelector(`#records tr[data-id="${filePath}"]`);
    const filePaths = await api(`/libraries/${lib}/records?model=FilePath`);
    const row = (await tableCells(page, '#records'))[filePath];
    expect(row).toEqual({
      id: filePath,
      ...Object.fromEntries(Object.entries(filePaths.items[0].data).map(([k, v]) => [k, shown(v)])),
    });
    const locationLink = await page.$eval(
      `#records tr[data-id="${filePath}"] td[data-field="location"] a`,
      (a) => a.getAttribute('href'),
    );
    expect(locationLink).toBe(`#/library/${lib}/record/${location}`);
  });

  it('library: keyset pages of 50, forward and back', async () => {
    const { page } = await open(`#/library/${lib}?model=Label`);
    const pageIds = async () => Object.keys(await tableCells(page, '#records'));
    await page.waitForSelector(`#records tr[data-id="${labels[0]}"]`);
    const first = await api(`/libraries/${lib}/records?model=Label&limit=50`);
    expect(await pageIds()).toEqual(first.items.map((r: Json) => r.id));
    expect(first.items.map((r: Json) => r.id)).toEqual(labels.slice(0, 50));

    const [previous, next] = await page.$$('.pager button');
    await next.click();
    await page.waitForSelector(`#records tr[data-id="${labels[50]}"]`);
    const second = await api(
      `/libraries/${lib}/records?model=Label&limit=50&cursor=${encodeURIComponent(first.nextCursor)}`,
    );
    expect(second.nextCursor).toBeNull();
    expect(await pageIds()).toEqual(second.items.map((r: Json) => r.id));
    expect(await page.$eval('.pager button:last-child', (b) => b.disabled)).toBe(true);

    await previous.click();
    await page.waitForSelector(`#records tr[data-id="${labels[0]}"]`);
    expect(await pageIds()).toEqual(labels.slice(0, 50));
  });

  it('library: relations, rejected ops with reasons, pending ops', async () => {
    const { page } = await open(`#/library/${lib}?tab=relations&relation=TagOnObject`);
    await page.waitForSelector('#relations tbody tr');
    const relations = await api(`/libraries/${lib}/relations?relation=TagOnObject`);
    expect(await tableCells(page, '#relations')).toEqual(
      Object.fromEntries(
        relations.items.map((r: Json) => [
          `${r.relation} ${r.item} ${r.group}`,
          { item: r.item, group: r.group, date_created: shown(r.data.date_created) },
        ]),
      ),
    );
    expect(relations.items).toHaveLength(3);

    await page.goto(`${queryUrl}/inspector/#/library/${lib}?tab=rejected`);
    await page.waitForSelector('#rejected tbody tr');
    const rejected = await api(`/libraries/${lib}/rejected`);
    const rejectedCells = await tableCells(page, '#rejected');
    expect(Object.keys(rejectedCells)).toEqual(rejected.items.map((r: Json) => r.offset));
    for (const entry of rejected.items) {
      const cells = rejectedCells[entry.offset];
      expect(cells.reason).toBe(entry.reason);
      expect(cells.operation).toContain(entry.operation.type);
      expect(cells.operation).toContain(entry.operation.recordId);
      expect(cells.origin).toContain(entry.operation.node);
      expect(cells.origin).toContain(entry.operation.timestamp.hybrid);
    }
    expect(rejected.items.map((r: Json) => r.reason)).toEqual(['NOT_OWNER']);
    await screenshot(page, 'library-rejected');

    await page.goto(`${queryUrl}/inspector/#/library/${lib}?tab=pending`);
    await page.waitForSelector('#pending tbody tr');
    const snapshot = await fetch(`${queryUrl}/libraries/${lib}/snapshot?view=full`);
    const pending = (await snapshot.text())
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Json)
      .filter((line) => line.type === 'pending');
    const pendingCells = await tableCells(page, '#pending');
    expect(Object.keys(pendingCells)).toEqual(pending.map((p) => p.offset));
    expect(pendingCells[pending[0].offset].operation).toContain(ghost);
    expect(pendingCells[pending[0].offset].operation).toContain('name = waiting');
  });

  it('library: a POST shows in the open table within 2 s, without a reload', async () => {
    const { page } = await open(`#/library/${lib}?model=Tag`);
    await page.waitForSelector(`#records tr[data-id="${tags[0]}"]`);
    await page.waitForFunction(
      () => document.querySelector('#stream-state')?.textContent === 'live',
    );
    await page.evaluate(() => ((window as unknown as Json).notReloaded = true));

    // A new tag that sorts inside the page (the table holds every tag), and a rename.
    const fresh = randomUUID();
    const started = Date.now();
    lastOffset = await post([
      create(nodeA, fresh, 'Tag', { name: 'live one', color: '#abc' }),
      update(nodeA, tags[2], 'name', 'renamed live'),
    ]);
    await page.waitForSelector(`#records tr[data-id="${fresh}"] td[data-field="name"]`, {
      timeout: 2000,
    });
    await page.waitForFunction(
      (id) =>
        document.querySelector(`#records tr[data-id="${id}"] td[data-field="name"]`)
          ?.textContent === 'renamed live',
      { timeout: Math.max(1, 2000 - (Date.now() - started)) },
      tags[2],
    );
    const elapsed = Date.now() - started;
    console.log(`inspector live update: POST 202 to both rows on screen in ${elapsed} ms`);
    expect(elapsed).toBeLessThan(2000);
    expect(await page.evaluate(() => (window as unknown as Json).notReloaded)).toBe(true);

    // The table now equals a fresh read, cell by cell.
    const expected = await api(`/libraries/${lib}/records?model=Tag`);
    const cells = await tableCells(page, '#records');
    expect(Object.keys(cells)).toEqual(expected.items.map((r: Json) => r.id));
    expect(cells[fresh]).toEqual({
      id: fresh,
      ...Object.fromEntries(
        Object.entries(expected.items.find((r: Json) => r.id === fresh).data).map(([k, v]) => [
          k,
          shown(v),
        ]),
      ),
    });

    // And a delete takes the row away.
    lastOffset = await post([op.remove(nodeA, fresh)]);
    await page.waitForFunction(
      (id) => document.querySelector(`#records tr[data-id="${id}"]`) === null,
      { timeout: 2000 },
      fresh,
    );
    // The status line follows the changes too.
    await page.waitForFunction(
      (offset) =>
        document.querySelector('#status dd[data-field="appliedOffset"]')?.textContent === offset,
      { timeout: 3000 },
      lastOffset,
    );
    await page.goto(`${queryUrl}/inspector/#/library/${lib}?tab=live`);
    await page.waitForSelector('#live tbody tr');
    expect(await page.$$eval('#live tbody tr', (rows) => rows.length)).toBe(3);
    await screenshot(page, 'library-live');
  });

  it('record: fields, relations and links', async () => {
    const { page } = await open(`#/library/${lib}/record/${objects[0]}`);
    await page.waitForSelector('#fields tbody tr');
    await page.waitForSelector('#record-relations tbody tr');
    const record = await api(`/libraries/${lib}/records/${objects[0]}`);
    const fields = await tableCells(page, '#fields');
    expect(Object.keys(fields)).toEqual(Object.keys(record.data));
    for (const [name, value] of Object.entries(record.data)) {
      expect(fields[name].value).toBe(shown(value));
    }
    const relations = [
      ...(await api(`/libraries/${lib}/relations?item=${objects[0]}`)).items,
      ...(await api(`/libraries/${lib}/relations?group=${objects[0]}`)).items,
    ];
    const relationCells = await tableCells(page, '#record-relations');
    expect(Object.keys(relationCells).sort()).toEqual(
      relations.map((r: Json) => `${r.relation} ${r.item} ${r.group}`).sort(),
    );
    for (const r of relations) {
      expect(relationCells[`${r.relation} ${r.item} ${r.group}`]).toMatchObject({
        relation: r.relation,
        item: r.item,
        group: r.group,
      });
    }
    // The group links to its record page.
    const groupHref = await page.$eval(
      `#record-relations tr[data-id="TagOnObject ${objects[0]} ${tags[0]}"] td[data-field="group"] a`,
      (a) => a.getAttribute('href'),
    );
    expect(groupHref).toBe(`#/library/${lib}/record/${tags[0]}`);
  });

  /** The timeline on screen: offset, status and reason of each entry, in order. */
  const timeline = (page: Page) =>
    page.$$eval('#history li[data-offset]', (items) =>
      items.map((li) => ({
        offset: (li as HTMLElement).dataset.offset,
        status: (li as HTMLElement).dataset.status,
        badge: li.querySelector('.badge')!.textContent,
        text: li.textContent,
      })),
    );

  const expectTimeline = async (page: Page, history: Json[]) => {
    const shownEntries = await timeline(page);
    expect(shownEntries.map(({ offset, status, badge }) => ({ offset, status, badge }))).toEqual(
      history.map((entry) => ({
        offset: entry.offset,
        status: entry.status,
        badge: entry.reason === undefined ? entry.status : `${entry.status} ${entry.reason}`,
      })),
    );
    history.forEach((entry, i) => {
      expect(shownEntries[i].text).toContain(entry.operation.type);
      expect(shownEntries[i].text).toContain(entry.operation.node);
      expect(shownEntries[i].text).toContain(entry.operation.timestamp.hybrid);
    });
  };

  it('record: which op wrote each field (explain) and the history timeline', async () => {
    const watch = await open(`#/library/${lib}/record/${tags[0]}`);
    const { page } = watch;
    await page.waitForSelector('#fields td[data-field="write"]');
    await page.waitForSelector('#history li[data-offset]');
    const explained = await api(`/libraries/${lib}/records/${tags[0]}?explain=true`);
    const fields = await tableCells(page, '#fields');
    expect(Object.keys(fields)).toEqual(Object.keys(explained.data));
    for (const [name, value] of Object.entries(explained.data)) {
      const write = explained.writes[name];
      expect(fields[name]).toEqual({
        value: shown(value),
        write:
          write === undefined
            ? 'never written'
            : `offset ${write.offset}, node ${write.node} at ${write.hybrid}`,
      });
    }
    // color was overwritten by node B's UPDATE in the second batch.
    expect(explained.writes.color.node).toBe(nodeB);
    const history = await api(`/libraries/${lib}/records/${tags[0]}/history`);
    expect(history.items.map((e: Json) => e.operation.type)).toEqual(['CREATE', 'UPDATE']);
    await expectTimeline(page, history.items);
    await screenshot(page, 'record');

    // A rejected op shows in its record's timeline with its reason.
    await page.goto(`${queryUrl}/inspector/#/library/${lib}/record/${location}`);
    await page.waitForSelector('#history li[data-status="rejected"]');
    const locationHistory = await api(`/libraries/${lib}/records/${location}/history`);
    expect(locationHistory.items.map((e: Json) => e.reason)).toEqual([undefined, 'NOT_OWNER']);
    await expectTimeline(page, locationHistory.items);

    // A deleted record is no longer visible, and its history still says why.
    await page.goto(`${queryUrl}/inspector/#/library/${lib}/record/${tags[4]}`);
    await page.waitForSelector('#history li[data-offset]');
    // The record and its history are two requests: the notice may render after the timeline.
    await page.waitForSelector('.notice');
    expect(await page.$eval('.notice', (p) => p.textContent)).toContain('No visible record');
    const deletedHistory = await api(`/libraries/${lib}/records/${tags[4]}/history`);
    expect(deletedHistory.items.map((e: Json) => e.operation.type)).toEqual(['CREATE', 'DELETE']);
    await expectTimeline(page, deletedHistory.items);
    // The deleted record's 404 is the answer the page explains above, not an error.
    expect(
      unexpectedErrors(watch, [{ status: 404, url: `/records/${tags[4]}?explain=true` }]),
    ).toEqual([]);
  });

  it('relation: its state now and its history', async () => {
    const { page } = await open(`#/library/${lib}/relation/TagOnObject/${objects[0]}/${tags[0]}`);
    await page.waitForSelector('#relation tbody tr');
    await page.waitForSelector('#history li[data-offset]');
    const now = await api(
      `/libraries/${lib}/relations?relation=TagOnObject&item=${objects[0]}&group=${tags[0]}`,
    );
    expect(Object.values(await tableCells(page, '#relation'))).toEqual([
      {
        item: objects[0],
        group: tags[0],
        date_created: shown(now.items[0].data.date_created),
      },
    ]);
    const history = await api(
      `/libraries/${lib}/relations/history?relation=TagOnObject&item=${objects[0]}&group=${tags[0]}`,
    );
    expect(history.items).toHaveLength(1);
    await expectTimeline(page, history.items);
  });

  it('time travel: the state and digest the API returns for that asOf', async () => {
    const { page } = await open(`#/library/${lib}/time?at=${firstBatchEnd}&model=Tag`);
    await page.waitForFunction(
      (at) => document.querySelector('#digest dd[data-field="appliedOffset"]')?.textContent === at,
      {},
      firstBatchEnd,
    );
    await page.waitForSelector('#records-as-of tbody tr');

    const checkAsOf = async (at: string) => {
      const digest = await api(`/libraries/${lib}/digest?asOf=${at}`);
      const facts = await page.$$eval('#digest dd[data-field]', (dds) =>
        Object.fromEntries(dds.map((dd) => [dd.dataset.field, dd.textContent])),
      );
      expect(facts).toEqual({
        appliedOffset: digest.appliedOffset,
        records: String(digest.records),
        relations: String(digest.relations),
        digest: digest.digest,
      });
      const records = await api(`/libraries/${lib}/records?model=Tag&asOf=${at}&limit=50`);
      const cells = await tableCells(page, '#records-as-of');
      expect(Object.keys(cells)).toEqual(records.items.map((r: Json) => r.id));
      for (const record of records.items) {
        expect(cells[record.id]).toEqual({
          id: record.id,
          ...Object.fromEntries(Object.entries(record.data).map(([k, v]) => [k, shown(v)])),
        });
      }
      const relations = await api(
        `/libraries/${lib}/relations?relation=TagOnObject&asOf=${at}&limit=50`,
      );
      expect(Object.keys(await tableCells(page, '#relations-as-of'))).toEqual(
        relations.items.map((r: Json) => `${r.relation} ${r.item} ${r.group}`),
      );
      return { digest, records, relations };
    };

    // After the first batch: all five tags with their first colors, no relation yet.
    const before = await checkAsOf(firstBatchEnd);
    expect(before.records.items.map((r: Json) => r.id)).toEqual(tags);
    expect(before.records.items[0].data.color).toBe('#000');
    expect(before.relations.items).toEqual([]);
    await screenshot(page, 'time-travel');

    // Typing another offset moves the page there (and into the URL): a few ops of the second
    // batch are applied by then.
    const later = String(Number(firstBatchEnd) + 4);
    await page.click('input[name="at"]', { count: 3 });
    await page.type('input[name="at"]', later);
    await page.waitForFunction(
      (at) => document.querySelector('#digest dd[data-field="appliedOffset"]')?.textContent === at,
      {},
      later,
    );
    // The tables reload after the digest; wait until they settle, then check them strictly.
    await eventually(
      () =>
        checkAsOf(later).then(
          () => true,
          () => undefined,
        ),
      5000,
    );
    const after = await checkAsOf(later);
    expect(after.digest.digest).not.toBe(before.digest.digest);
    expect(page.url()).toContain(`at=${later}`);

    // The slider drives the same position: Home takes it to offset 0, the first op.
    await page.focus('input[name="at-slider"]');
    await page.keyboard.press('Home');
    await page.waitForFunction(
      () => document.querySelector('#digest dd[data-field="appliedOffset"]')?.textContent === '0',
    );
    expect(await page.$eval('input[name="at"]', (input) => input.value)).toBe('0');
    await eventually(
      () =>
        checkAsOf('0').then(
          () => true,
          () => undefined,
        ),
      5000,
    );
    // The first batch starts the fresh topic's partition with tags[0]'s CREATE.
    expect((await checkAsOf('0')).records.items.map((r: Json) => r.id)).toEqual([tags[0]]);
  });

  it('keeps the page inside a phone-width window', async () => {
    const { page } = await open(`#/library/${lib}?model=FilePath`, { width: 390, height: 844 });
    await page.waitForSelector(`#records tr[data-id="${filePath}"]`);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'library-phone');
  });

  describe('with API keys on', () => {
    let securedQuery: INestApplication;
    let securedUrl: string;
    let readKey: string;
    let scopedKey: string;

    beforeAll(async () => {
      const out: string[] = [];
      const code = await runKeysCli(
        ['create', '--all', '--role', 'read', '--label', 'inspector'],
        { DATABASE_URL: stack.database.url },
        { out: (line) => out.push(line), err: () => undefined },
      );
      expect(code).toBe(0);
      readKey = out[0];
      const scoped: string[] = [];
      expect(
        await runKeysCli(
          ['create', '--library', lib, '--role', 'read', '--label', 'one library'],
          { DATABASE_URL: stack.database.url },
          { out: (line) => scoped.push(line), err: () => undefined },
        ),
      ).toBe(0);
      scopedKey = scoped[0];
      securedQuery = await createQueryApp(
        readQueryConfig({
          ...stack.env,
          SYNC_AUTH_DISABLED: 'false',
          QUERY_INGEST_URL: stack.ingestUrl,
          QUERY_PROJECTOR_URL: stack.projectorUrl,
          QUERY_INSPECTOR_DIR: join(__dirname, '../../dist/apps/inspector'),
        }),
      );
      await securedQuery.listen(0, '127.0.0.1');
      securedUrl = urlOf(securedQuery);
    });

    afterAll(async () => {
      await securedQuery?.close();
    });

    async function enterKey(page: Page, key: string): Promise<void> {
      await page.type('input[name="api-key"]', key);
      await page.click('.key-prompt button[type="submit"]');
    }

    it('asks for a key, says clearly when it is refused, and works with a read key', async () => {
      const watch = await open('', undefined, securedUrl);
      const { page } = watch;
      await page.waitForSelector('#key-needed');
      await screenshot(page, 'key-prompt');

      await enterKey(page, `sk_${'0'.repeat(16)}_${'A'.repeat(43)}`);
      await page.waitForSelector('#key-refused');
      const refusal = await page.$eval('#key-refused', (el) => el.textContent);
      expect(refusal).toContain('The server refused this key');
      expect(refusal).toContain('401 UNAUTHORIZED');

      const sent: (string | undefined)[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/libraries') {
          sent.push(request.headers().authorization);
        }
      });
      await enterKey(page, readKey);
      await page.waitForSelector(`#libraries tr[data-id="${lib}"]`);
      const libraries = await api('/libraries', securedUrl, readKey);
      const summary = libraries.items.find((item: Json) => item.id === lib);
      expect((await tableCells(page, '#libraries'))[lib]).toMatchObject({
        records: String(summary.records),
        rejected: String(summary.rejected),
      });
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((header) => header === `Bearer ${readKey}`)).toBe(true);
      // The key lives in session storage, never in a URL.
      expect(await page.evaluate(() => sessionStorage.getItem('sync-inspector.api-key'))).toBe(
        readKey,
      );
      expect(watch.requests.some((url) => url.includes(readKey) || url.includes('sk_'))).toBe(
        false,
      );

      // The live stream works with the key too (fetch + Authorization, not EventSource).
      await page.goto(`${securedUrl}/inspector/#/library/${lib}?model=Tag`);
      await page.waitForFunction(
        () => document.querySelector('#stream-state')?.textContent === 'live',
      );
      expect(unexpectedErrors(watch, [{ status: 401 }])).toEqual([]);
    });

    it('with a key for one library: asks for the library id and shows that library', async () => {
      const watch = await open('', undefined, securedUrl);
      const { page } = watch;
      await page.waitForSelector('#key-needed');
      await enterKey(page, scopedKey);
      await page.waitForFunction(() =>
        document.body.textContent.includes('This key covers one library'),
      );
      await page.type('input[name="library-id"]', lib);
      await page.click('.inline-form button[type="submit"]');
      await page.waitForSelector(`#records tr[data-id="${tags[0]}"]`);
      const expected = await api(`/libraries/${lib}/records?model=Tag`, securedUrl, scopedKey);
      expect(Object.keys(await tableCells(page, '#records'))).toEqual(
        expected.items.map((r: Json) => r.id),
      );
      // 401 before the key, 403 for the library list and the pipeline with it.
      expect(unexpectedErrors(watch, [{ status: 401 }, { status: 403 }])).toEqual([]);
    });
  });
});
