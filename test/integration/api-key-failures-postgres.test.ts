// The limits on failed API keys and admin UI sign-ins are shared by Herald processes on one
// PostgreSQL database: failures counted through one process count in the other, so a guesser
// does not get the limit once per process.
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, signInStatus } from '../helpers.js';
import { postgresProcesses, spawnHerald, type HeraldProcess } from '../process.js';

const FAILURES = 4;
const database = postgresProcesses('herald_keyfail', { HERALD_API_KEY_FAILURES: String(FAILURES), HERALD_UI_SIGN_IN_FAILURES: String(FAILURES) });
const ENV = database.env;
const procs: HeraldProcess[] = [];
const agents: Agent[] = [];
let one: HeraldProcess;
let other: HeraldProcess;

function from(localAddress: string): Agent {
  const agent = new Agent({ localAddress });
  agents.push(agent);
  return agent;
}

beforeAll(async () => {
  const migrate = await spawnHerald('migrate', ENV);
  procs.push(migrate);
  expect((await migrate.exited).code).toBe(0);
  [one, other] = await Promise.all([spawnHerald('api', ENV), spawnHerald('api', ENV)]);
  procs.push(one, other);
});

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(agents.map((a) => a.close()));
  await database.drop();
});

async function apiStatus(proc: HeraldProcess, agent: Agent, key: string): Promise<number> {
  const res = await fetch(`${proc.url}/api/v2/endpoints`, { headers: { 'x-api-key': key }, dispatcher: agent });
  await res.body?.cancel();
  return res.status;
}

const signIn = (proc: HeraldProcess, agent: Agent, key: string) => signInStatus(proc.url, key, agent);

describe('failure limits across API processes on PostgreSQL', () => {
  it('refuses bad API keys in the second process once the first has counted the limit, after at most one more', async () => {
    const guesser = from('127.0.0.21');
    for (let i = 0; i < FAILURES; i++) expect(await apiStatus(one, guesser, `hk_guess-${i}`)).toBe(401);
    expect(await apiStatus(one, guesser, ADMIN_KEY)).toBe(429);
    // The other process learns of the count with the address's first failure there.
    expect(await apiStatus(other, guesser, 'hk_guess-elsewhere')).toBe(401);
    expect(await apiStatus(other, guesser, 'hk_guess-elsewhere-again')).toBe(429);
    expect(await apiStatus(other, guesser, ADMIN_KEY)).toBe(429);
    expect(await apiStatus(other, from('127.0.0.22'), ADMIN_KEY)).toBe(200);
  });

  it('adds failures through both processes up to one limit', async () => {
    const guesser = from('127.0.0.23');
    for (let i = 0; i < FAILURES; i++) expect(await apiStatus(i % 2 === 0 ? one : other, guesser, `hk_spread-${i}`)).toBe(401);
    // Each process takes the store's count with every failure it counts: the one that counted
    // the last knows all four, the other learns of them with one more.
    expect(await apiStatus(other, guesser, 'hk_spread-a')).toBe(429);
    const statuses = [await apiStatus(one, guesser, 'hk_spread-b'), await apiStatus(one, guesser, 'hk_spread-c'), await apiStatus(other, guesser, 'hk_spread-d')];
    expect(statuses).toEqual([401, 429, 429]);
  });

  it('checks no more different keys at once from an address than its limit allows', async () => {
    // On PostgreSQL a key's lookup is real I/O: the guesses are all being checked at once.
    const guesser = from('127.0.0.26');
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => apiStatus(one, guesser, `hk_parallel-guess-${i}`)));
    expect(statuses.sort()).toEqual([...Array<number>(FAILURES).fill(401), ...Array<number>(12 - FAILURES).fill(429)]);
  });

  it('shares the admin UI sign-in limit too', async () => {
    const guesser = from('127.0.0.24');
    for (let i = 0; i < FAILURES; i++) expect(await signIn(one, guesser, `hk_ui-guess-${i}`)).toBe(401);
    expect(await signIn(one, guesser, ADMIN_KEY)).toBe(429);
    expect(await signIn(other, guesser, 'hk_ui-guess-elsewhere')).toBe(401);
    expect(await signIn(other, guesser, ADMIN_KEY)).toBe(429);
    expect(await signIn(other, from('127.0.0.25'), ADMIN_KEY)).toBe(303);
  });
});
