// What the admin UI's pages say and do, over plain HTTP against a real Herald and a real
// receiver on 127.0.0.1: lists a page at a time, filters kept, replays confirmed as counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';

let herald: TestHerald;
let receiver: Receiver;
let cookie: string;

beforeAll(async () => {
  [herald, receiver] = await Promise.all([startTestHerald({ HERALD_RETRY_SCHEDULE: '0' }), startReceiver((r, _i, res) => void res.writeHead(r.url.includes('down') ? 500 : 200).end('ok'))]);
  cookie = await uiSession(herald.url);
});

afterAll(async () => {
  await receiver?.close();
  await herald?.close();
});

/** A form post from the UI's own origin, as htmx sends it; the answer's HTML. */
async function post(path: string, form: Record<string, string>): Promise<{ status: number; html: string }> {
  const res = await fetch(`${herald.url}${path}`, {
    method: 'POST',
    headers: { cookie, origin: herald.url, 'hx-request': 'true', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, html: await res.text() };
}

/** The hidden inputs of the first form in `html`, by name. */
function hiddenInputs(html: string): Record<string, string> {
  const form = html.slice(html.indexOf('<form'), html.indexOf('</form>'));
  const out: Record<string, string> = {};
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]!] = m[2]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  return out;
}

async function failedDeliveries(endpointId: string): Promise<number> {
  return (await herald.api('GET', `/api/v2/endpoints/${endpointId}/deliveries?status=failed`)).body.data.length;
}

async function publishAndFail(endpointId: string, type: string, resourceId: string, failed: number): Promise<void> {
  expect((await herald.api('POST', '/api/v2/events', { type, resource: { type: 'asset', id: resourceId } })).status).toBe(202);
  await eventually(async () => ((await failedDeliveries(endpointId)) === failed ? true : undefined));
}

describe('recover and replay', () => {
  it('re-queues what was counted: deliveries that fail between the count and the confirmation wait for another count', async () => {
    const endpoint = (await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/down/recover`, event_types: ['asset.created'] })).body as { id: string };
    await publishAndFail(endpoint.id, 'asset.created', 'counted-1', 1);

    const counted = await post(`/endpoints/${endpoint.id}/recover`, { since: '2020-01-01T00:00:00' });
    expect(counted.status).toBe(200);
    expect(counted.html).toContain('data-recover-count="1"');
    const confirm = hiddenInputs(counted.html);
    expect(confirm).toMatchObject({ since: '2020-01-01T00:00:00.000Z', confirm: 'yes' });
    // The count shows up to when it was made.
    expect(counted.html).toMatch(/from 2020-01-01 00:00:00 UTC until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC will be sent again/);

    // The outage goes on: another delivery fails before the button is pressed.
    await publishAndFail(endpoint.id, 'asset.created', 'not-counted-2', 2);
    const recovered = await post(`/endpoints/${endpoint.id}/recover`, confirm);
    expect(recovered.status).toBe(200);
    expect(recovered.html).toContain('data-recovered="1"');
  });
});
