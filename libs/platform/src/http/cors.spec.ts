import express from 'express';
import request from 'supertest';
import { EnvReader } from '@sync/config';
import { corsHandler, readCorsSettings } from './cors';

describe('readCorsSettings', () => {
  it('allows no origin by default', () => {
    const reader = new EnvReader({});
    expect(readCorsSettings(reader)).toEqual({ origins: [] });
    expect(() => reader.done('test')).not.toThrow();
  });

  it('reads a comma list of origins, trimmed and without repeats', () => {
    const reader = new EnvReader({
      SYNC_CORS_ORIGINS: ' http://localhost:5173, https://app.example.com,http://localhost:5173 ',
    });
    expect(readCorsSettings(reader)).toEqual({
      origins: ['http://localhost:5173', 'https://app.example.com'],
    });
    reader.done('test');
  });

  it.each([
    '*',
    'https://app.example.com/',
    'https://app.example.com/path',
    'ftp://x.org',
    'app.example.com',
  ])('refuses %j, which is not an http(s) origin', (entry) => {
    const reader = new EnvReader({ SYNC_CORS_ORIGINS: `http://ok.test,${entry}` });
    expect(readCorsSettings(reader)).toEqual({ origins: [] });
    expect(() => reader.done('test')).toThrow(/SYNC_CORS_ORIGINS/);
  });
});

describe('corsHandler', () => {
  const app = (origins: string[]) => {
    const server = express();
    server.use(corsHandler({ origins }));
    server.get('/x', (_req, res) => {
      res.json({ ok: true });
    });
    return server;
  };

  it('adds nothing and answers no preflight when no origin is configured', async () => {
    const res = await request(app([]))
      .options('/x')
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'GET');
    expect(res.status).not.toBe(204); // not ours: the app's own routing answers
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const get = await request(app([])).get('/x').set('Origin', 'http://localhost:5173');
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    expect(get.headers['vary']).toBeUndefined();
  });

  it('answers an allowed preflight with the methods and headers a client sends', async () => {
    const res = await request(app(['http://localhost:5173']))
      .options('/x')
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(res.headers['access-control-allow-headers']).toMatch(/Content-Type/);
    expect(res.headers['access-control-allow-headers']).toMatch(/Last-Event-ID/);
    expect(res.headers['vary']).toMatch(/Origin/);
  });

  it('gives another origin no CORS header, preflight or not', async () => {
    const server = app(['http://localhost:5173']);
    const preflight = await request(server)
      .options('/x')
      .set('Origin', 'http://evil.test')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expect(
      Object.keys(preflight.headers).filter((name) => name.startsWith('access-control-')),
    ).toEqual([]);
    const get = await request(server).get('/x').set('Origin', 'http://evil.test');
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    expect(get.headers['vary']).toMatch(/Origin/);
  });
});
