import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.retrySchedule).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(c.allowedTargets).toBe('');
    expect(c.dispatchThread).toBe(true);
    expect(loadConfig({ HERALD_DISPATCH_THREAD: 'off' }).dispatchThread).toBe(false);
    expect(c.sqliteThread).toBe(false);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['HERALD_RETRY_SCHEDULE', '0,5,x'],
    ['HERALD_RETRY_SCHEDULE', '0,-5'],
    ['HERALD_ALLOWED_TARGETS', '127.0.0.0/8,banana'],
    ['HERALD_ALLOWED_TARGETS', '10.0.0.0/99'],
    ['HERALD_UI_TRUSTED_PROXIES', '10.0.0.1,proxy.internal'],
    ['HERALD_UI_SIGN_IN_FAILURES', '-1'],
    ['HERALD_API_KEY_FAILURES', '-1'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'postgres://postgres@127.0.0.1:99999/x'],
    ['DATABASE_URL', 'postgres://[bad'],
    ['DATABASE_URL', 'sqlite:'],
    ['HOST', 'not a host!'],
    ['HOST', 'two words'],
    ['HERALD_ADMIN_KEY', 'short'],
    ['LOG_LEVEL', 'loud'],
    ['HERALD_SQLITE_SYNC', 'sometimes'],
    ['HERALD_SQLITE_THREAD', 'yes'],
    ['HERALD_DISPATCH_THREAD', 'true'],
    ['HERALD_CONCURRENCY', '0'],
    ['HERALD_METRICS_PORT', 'metrics'],
    ['HERALD_METRICS_PORT', '65536'],
    ['HERALD_PG_POOL_SIZE', '0'],
    ['HERALD_PG_STATEMENT_TIMEOUT_MS', '5s'],
  ])('fails at start naming %s for %j', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}:`));
  });

  it('accepts addresses and host names for HOST, and never echoes a database password', () => {
    for (const host of ['0.0.0.0', '127.0.0.1', '127.1', '::', '::1', 'fe80::1%eth0', 'localhost', 'herald.internal', 'herald_api', 'host-1.example.com.']) {
      expect(loadConfig({ HOST: host }).host).toBe(host);
    }
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:s3cretpw@[bad/x' })).toThrow(/^DATABASE_URL: is not a valid URL/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:s3cretpw@[bad/x' })).not.toThrow(/s3cretpw/);
  });

  it('serves worker probes only when HERALD_METRICS_PORT is set', () => {
    expect(loadConfig({}).metricsPort).toBeUndefined();
    expect(loadConfig({ HERALD_METRICS_PORT: ' ' }).metricsPort).toBeUndefined();
    expect(loadConfig({ HERALD_METRICS_PORT: '9464' }).metricsPort).toBe(9464);
  });

  it('parses the retry schedule and allow-list', () => {
    const c = loadConfig({ HERALD_RETRY_SCHEDULE: '0, 1.5, 10', HERALD_ALLOWED_TARGETS: '127.0.0.0/8, ::1' });
    expect(c.retrySchedule).toEqual([0, 1.5, 10]);
    expect(c.allowedTargets).toBe('127.0.0.0/8, ::1');
  });

  it('refuses a retry schedule whose first entry is not 0: the first attempt is made at once, so that entry would be ignored', () => {
    for (const value of ['60,300,1800', '0.01,0.01', '5']) {
      expect(() => loadConfig({ HERALD_RETRY_SCHEDULE: value })).toThrow(ConfigError);
      expect(() => loadConfig({ HERALD_RETRY_SCHEDULE: value })).toThrow(/^HERALD_RETRY_SCHEDULE: the first entry must be 0, got [\d.]+: the first attempt is made as soon as an event is accepted/);
    }
    expect(() => loadConfig({ HERALD_RETRY_SCHEDULE: '60,300,1800,7200' })).toThrow('(e.g. 0,60,300,1800,…)');
    expect(loadConfig({ HERALD_RETRY_SCHEDULE: '0' }).retrySchedule).toEqual([0]);
    expect(loadConfig({ HERALD_RETRY_SCHEDULE: ' 0.0 ,60' }).retrySchedule).toEqual([0, 60]);
  });
});
