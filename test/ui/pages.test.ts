// What the admin UI's pages say and do, over plain HTTP against a real Herald and a real
// receiver on 127.0.0.1: lists a page at a time, filters kept, replays confirmed as counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, uiSession, type Receiver, type TestHerald } from '../helpers.js';

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

/** A signed-in page's HTML. */
async function page(path: string): Promise<string> {
  const res = await fetch(`${herald.url}${path}`, { headers: { cookie } });
  expect(res.status, path).toBe(200);
  return res.text();
}

/** The pager's links of a page, by what they lead to (newest, newer, older), as addresses. */
function pagerOf(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<a href="([^"]+)"[^>]* data-page="(\w+)">/g)) out[m[2]!] = m[1]!.replace(/&amp;/g, '&');
  return out;
}

/** The inputs a page marks invalid, by id; a fieldset by its legend. */
function markedInputs(html: string): string[] {
  const marked = [...html.matchAll(/<(?:input|select|fieldset)\b([^>]*)aria-invalid="true"[^>]*>(?:\s*<legend>([^<]+)<\/legend>)?/g)];
  return marked.map((m) => /id="([^"]+)"/.exec(m[1]!)?.[1] ?? m[2]!);
}

const ids = (html: string, pattern: RegExp) => [...html.matchAll(pattern)].map((m) => m[1]!);

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

  it('a confirmation sent twice (a second click, or again after a timeout) re-queues once: the second finds the first recover', async () => {
    const endpoint = (await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/down/twice`, event_types: ['asset.created'] })).body as { id: string };
    await publishAndFail(endpoint.id, 'asset.created', 'twice-1', 1);
    const confirm = hiddenInputs((await post(`/endpoints/${endpoint.id}/recover`, { since: '2020-01-01T00:00:00' })).html);
    expect(confirm.recover_key).toMatch(/^[0-9a-f-]{36}$/);
    const sent = () => receiver.received.filter((r) => r.url === '/down/twice').length;
    expect((await post(`/endpoints/${endpoint.id}/recover`, confirm)).html).toContain('data-recovered="1"');
    // Sent again and failed again before the second confirmation arrives.
    await eventually(async () => (sent() === 2 && (await failedDeliveries(endpoint.id)) === 1 ? true : undefined));
    expect((await post(`/endpoints/${endpoint.id}/recover`, confirm)).html).toContain('data-recovered="1"');
    await new Promise((r) => setTimeout(r, 300));
    expect(sent()).toBe(2);
    expect(await failedDeliveries(endpoint.id)).toBe(1);
  });
});

describe('lists a page at a time', () => {
  it('logs: older, newer and newest pages keep the filters', async () => {
    const shown = (await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/paged`, event_types: ['asset.approved'] })).body as { id: string };
    const other = (await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/other`, event_types: ['asset.deleted'] })).body as { id: string };
    const events = [
      ...Array.from({ length: 110 }, (_, i) => ({ type: 'asset.approved', resource: { type: 'asset', id: `paged-${i}` } })),
      ...Array.from({ length: 5 }, (_, i) => ({ type: 'asset.deleted', resource: { type: 'asset', id: `other-${i}` } })),
    ];
    expect((await herald.api('POST', '/api/v2/events/batch', { events })).status).toBe(202);
    await eventually(async () => {
      const done = await Promise.all([shown, other].map(async (e) => (await herald.api('GET', `/api/v2/deliveries?endpoint_id=${e.id}&status=succeeded&limit=250`)).body.data.length));
      return done[0] === 110 && done[1] === 5 ? true : undefined;
    });

    const filter = `endpoint_id=${shown.id}&status=succeeded`;
    const deliveries = (html: string) => ids(html, /<article class="card delivery" data-id="([^"]+)"/g);
    const first = await page(`/logs?${filter}`);
    expect(pagerOf(first)).toEqual({ older: expect.stringContaining(`/logs?${filter}&cursor=`) });
    const secondUrl = pagerOf(first).older!;
    const second = await page(secondUrl);
    expect(pagerOf(second)).toEqual({ newer: `/logs?${filter}`, older: expect.stringMatching(new RegExp(`^/logs\\?${filter}&cursor=\\w+&back=\\w+$`)) });
    const third = await page(pagerOf(second).older!);
    // The last page: back one page, or to the newest at once.
    expect(pagerOf(third)).toEqual({ newest: `/logs?${filter}`, newer: secondUrl });
    const all = [first, second, third].map(deliveries);
    expect(all.map((d) => d.length)).toEqual([50, 50, 10]);
    expect(new Set(all.flat()).size).toBe(110);
    expect(deliveries(await page(pagerOf(third).newer!))).toEqual(all[1]);
  });

  it('endpoints and inboxes: the next page leads back, and the inbox page shows older captures, not live', async () => {
    for (let i = 0; i < 51; i++) expect((await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/many/${i}`, event_types: ['storyboard.purged'] })).status).toBe(201);
    const first = await page('/endpoints');
    const second = await page(pagerOf(first).older!);
    expect(pagerOf(second)).toMatchObject({ newer: '/endpoints' });
    expect(second).not.toContain('No endpoints yet');
    expect(ids(second, /<tr class="endpoint-row" data-id="([^"]+)"/g).length).toBeGreaterThan(0);

    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'many captures' })).body as { id: string; url: string };
    for (let i = 0; i < 51; i++) await fetch(`${inbox.url}/capture-${i}`, { method: 'POST', body: String(i) });
    const newest = await page(`/inboxes/${inbox.id}`);
    expect(newest).toContain('data-stream=');
    const older = await page(pagerOf(newest).older!);
    expect(ids(older, /<code class="path">([^<]+)<\/code>/g)).toEqual(['/capture-0']);
    expect(older).not.toContain('data-stream=');
    expect(pagerOf(older)).toEqual({ newer: `/inboxes/${inbox.id}` });
  });
});

describe('logs filter', () => {
  it("keeps an endpoint beyond the pick list's 250 newest chosen, so changing another filter does not drop it", async () => {
    const old = (await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/oldest-of-many`, description: 'older than the pick list', event_types: ['storyboard.created'] })).body as { id: string };
    for (let i = 0; i < 250; i++) expect((await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/newer/${i}`, event_types: ['storyboard.purged'] })).status).toBe(201);
    const html = await page(`/logs?endpoint_id=${old.id}&status=failed`);
    const picker = html.slice(html.indexOf('<select id="f-endpoint"'), html.indexOf('</select>'));
    expect(picker).toContain(`<option value="${old.id}" selected>older than the pick list</option>`);
    expect(picker.match(/<option /g)).toHaveLength(252);

    // An endpoint deleted since (an old link) stays chosen too, and the API's word is shown in place of the list.
    const unknown = await page('/logs?endpoint_id=ep_unknown&status=failed');
    expect(unknown).toContain('<option value="ep_unknown" selected>ep_unknown (no such endpoint)</option>');
    expect(unknown).toMatch(/<p class="notice error" role="alert">[^<]*ep_unknown[^<]*<\/p>/);
  });
});

describe('empty states', () => {
  it('tell a read-only key how inboxes come about, rather than to use a form it is not shown', async () => {
    const headers = { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' };
    const account = await (await fetch(`${herald.url}/api/v2/accounts`, { method: 'POST', headers, body: JSON.stringify({ name: 'No inboxes yet' }) })).json();
    const keyOf = async (role: string) =>
      (await (await fetch(`${herald.url}/api/v2/api-keys`, { method: 'POST', headers: { ...headers, 'x-herald-account': account.id }, body: JSON.stringify({ name: role, role }) })).json()).key as string;
    const inboxes = async (role: string) => (await fetch(`${herald.url}/inboxes`, { headers: { cookie: await uiSession(herald.url, await keyOf(role)) } })).text();

    const viewer = await inboxes('viewer');
    expect(viewer).toContain('No inboxes yet.');
    expect(viewer).not.toContain('Create one below');
    expect(viewer).toContain('An admin key creates them.');
    expect(await inboxes('admin')).toContain('Create one below.');
  });
});

describe('endpoint form refusals', () => {
  it('mark the input the API named by its body path, beside the message naming the field', async () => {
    const send = async (extra: Record<string, string>) => {
      const res = await fetch(`${herald.url}/endpoints`, {
        method: 'POST',
        headers: { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ url: `${receiver.url}/refused`, event_types: '*', ...extra }),
      });
      expect(res.status).toBe(422);
      const html = await res.text();
      const message = html.match(/<p class="notice error" id="form-error" role="alert">([\s\S]*?)<\/p>/)?.[1] ?? '';
      return { message, invalid: markedInputs(html) };
    };
    const header = await send({ header_name: 'Bad Header', header_value: 'v', header_type: 'plain' });
    expect(header.message).toContain('not a valid header name');
    expect(header.invalid).toEqual(['Custom headers']);

    const clientId = await send({ auth_type: 'oauth2_client_credentials', oauth_token_url: 'https://auth.example/token', oauth_client_id: 'c'.repeat(501), oauth_client_secret: 's' });
    expect(clientId.message).toContain('auth.client_id');
    expect(clientId.invalid).toEqual(['oauth_client_id']);

    const colon = await send({ auth_type: 'basic', basic_username: 'dam:ops', basic_password: 'pw' });
    expect(colon.message).toContain('cannot contain a colon');
    expect(colon.invalid).toEqual(['basic_username']);
  });
});

describe('inbox form refusals', () => {
  it('mark the input the refusal is about, not the name whatever it was', async () => {
    const send = async (path: string, form: Record<string, string>) => {
      const res = await fetch(`${herald.url}${path}`, { method: 'POST', headers: { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
      expect(res.status).toBe(422);
      const html = await res.text();
      return { message: html.match(/<p class="notice error" id="inbox-error" role="alert">([^<]*)<\/p>/)?.[1] ?? '', invalid: markedInputs(html) };
    };
    expect(await send('/inboxes', { name: 'refused', forward_url: 'ftp://files.example' })).toEqual({ message: expect.stringContaining('forward_url'), invalid: ['inbox-forward'] });
    expect(await send('/inboxes', { name: 'refused', signing_secret: 'not a secret' })).toEqual({ message: expect.stringContaining('signing_secret'), invalid: ['inbox-secret'] });
    expect(await send('/inboxes', { name: '' })).toEqual({ message: 'Enter a name for the inbox.', invalid: ['inbox-name'] });

    const inbox = (await herald.api('POST', '/api/v2/inboxes', { name: 'edited' })).body as { id: string };
    expect(await send(`/inboxes/${inbox.id}/edit`, { name: 'edited', forward_url: 'ftp://files.example' })).toEqual({ message: expect.stringContaining('forward_url'), invalid: ['inbox-forward'] });
  });
});

describe('rotating the signing secret without JavaScript', () => {
  /** The rotate form sent as a browser without JavaScript sends it (no hx-request). */
  const rotate = (id: string, formId: string) =>
    fetch(`${herald.url}/endpoints/${id}/rotate`, {
      method: 'POST',
      headers: { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ form_id: formId }),
      redirect: 'manual',
    });
  const formIdOf = (html: string) => /<input type="hidden" name="form_id" id="rotate-form-id" value="([^"]+)">/.exec(html)?.[1];
  const currentSecret = async (id: string) => ((await herald.api('GET', `/api/v2/endpoints/${id}/secret`)).body as { secret: string }).secret;

  it('shows the new secret once, and a reload of that page (the form sent again) rotates nothing', async () => {
    const created = await herald.api('POST', '/api/v2/endpoints', { url: `${receiver.url}/rotate-once`, event_types: ['asset.created'] });
    const id = (created.body as { id: string }).id;
    const formId = formIdOf(await page(`/endpoints/${id}`));
    expect(formId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const first = await rotate(id, formId!);
    const shown = await first.text();
    expect(first.status).toBe(200);
    const secret = /<code class="secret" id="new-secret">([^<]+)<\/code>/.exec(shown)?.[1];
    expect(secret).toBe(await currentSecret(id));
    expect(secret).not.toBe((created.body as { secret: string }).secret);

    // Reload, or back and resubmit: the same form again.
    const again = await rotate(id, formId!);
    expect([again.status, again.headers.get('location')]).toEqual([303, `/endpoints/${id}?rotated=again`]);
    expect(await currentSecret(id)).toBe(secret);
    const after = await page(again.headers.get('location')!);
    expect(after).toContain('sending it again rotated nothing');
    expect(after).not.toContain(secret!);

    // The page the rotation led to has a form of its own: rotating from it is a new rotation.
    const next = formIdOf(shown);
    expect(next).not.toBe(formId);
    expect((await rotate(id, next!)).status).toBe(200);
    expect(await currentSecret(id)).not.toBe(secret);
  });
});

describe("the account's custom event types", () => {
  const NAME = 'acme.widget.built';
  const SCHEMA = { type: 'object', properties: { size: { type: 'integer', description: 'widths <in> mm' } }, required: ['size'] };

  it('are listed in the catalog with their description and schema, and open on a page of their own', async () => {
    const registered = await herald.api('POST', '/api/v2/event-types', { name: NAME, description: 'A widget left the line', schema: SCHEMA });
    expect(registered.status).toBe(201);
    expect((await herald.api('POST', '/api/v2/event-types', { name: 'acme.widget.scrapped' })).status).toBe(201);

    const catalog = await page('/catalog');
    const row = catalog.slice(catalog.indexOf(`<tr data-custom-type="${NAME}">`), catalog.indexOf('</tr>', catalog.indexOf(`<tr data-custom-type="${NAME}">`)));
    expect(row).toContain(`<a href="/catalog/types/${NAME}" class="type-link"><code>${NAME}</code></a>`);
    expect(row).toContain('A widget left the line');
    expect(row).toContain('&quot;required&quot;: [');
    expect(row).toContain('widths &lt;in&gt; mm');
    expect(catalog).toContain('<tr data-custom-type="acme.widget.scrapped">');
    expect(catalog).toContain('any data (no schema)');

    const type = await page(`/catalog/types/${NAME}`);
    expect(type).toContain('<h1><code>acme.widget.built</code></h1>');
    expect(type).toContain('A widget left the line');
    expect(type).toContain('&quot;size&quot;: {');
  });

  it('are in the endpoint form\'s picker, so an endpoint subscribes to one by ticking it, and in the test send list', async () => {
    expect([201, 409]).toContain((await herald.api('POST', '/api/v2/event-types', { name: NAME, schema: SCHEMA })).status);
    const form = await page('/endpoints/new');
    const picker = form.slice(form.indexOf('<details class="topic" data-topic="custom"'));
    expect(picker).toContain(`<input type="checkbox" name="event_types" value="${NAME}">`);

    const sent = await fetch(`${herald.url}/endpoints`, {
      method: 'POST',
      headers: { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ url: `${receiver.url}/custom-type`, event_types: NAME, form_id: hiddenInputs(form).form_id ?? '' }),
    });
    expect(sent.status).toBe(201);
    const id = /\/endpoints\/(ep_[A-Za-z0-9]+)/.exec(await sent.text())?.[1];
    expect((await herald.api('GET', `/api/v2/endpoints/${id}`)).body.event_types).toEqual([NAME]);

    // Edited, it shows ticked in its group, not among the filters the picker has no box for.
    const edit = await page(`/endpoints/${id}/edit`);
    expect(edit).toContain(`<details class="topic" data-topic="custom" open>`);
    expect(edit).toContain(`<input type="checkbox" name="event_types" value="${NAME}" checked>`);
    expect(edit).not.toContain('class="other-filters"');
    expect(await page(`/endpoints/${id}`)).toContain(`<optgroup label="Your event types">\n        <option selected>${NAME}</option>`);
  });

  it('are offered by name in the logs filter, beside the catalog\'s types', async () => {
    expect([201, 409]).toContain((await herald.api('POST', '/api/v2/event-types', { name: NAME, schema: SCHEMA })).status);
    const logs = await page('/logs');
    const choices = logs.slice(logs.indexOf('<datalist id="f-types">'), logs.indexOf('</datalist>'));
    expect(choices).toContain(`<option value="${NAME}"></option>`);
    expect(choices).toContain('<option value="asset.created"></option>');
  });

  it('are listed in the catalog 50 at a time, by name, each page leading on and back, the catalog below each', async () => {
    for (let i = 0; i < 60; i++) expect((await herald.api('POST', '/api/v2/event-types', { name: `paged.type.t${String(i).padStart(2, '0')}` })).status).toBe(201);
    const all = ((await herald.api('GET', '/api/v2/event-types')).body.custom as { name: string }[]).map((t) => t.name).sort();
    expect(all.length).toBeGreaterThan(60);
    const shown = (html: string) => ids(html, /<tr data-custom-type="([^"]+)">/g);

    const first = await page('/catalog');
    expect(shown(first)).toEqual(all.slice(0, 50));
    expect(pagerOf(first)).toEqual({ older: `/catalog?cursor=${all[49]}` });
    const second = await page(pagerOf(first).older!);
    expect(shown(second)).toEqual(all.slice(50, 100));
    expect(pagerOf(second)).toEqual({ newer: '/catalog' });
    expect(second).toContain('data-page="newer">← Previous</a>');
    for (const html of [first, second]) expect(html).toContain('<tr>\n        <td><a href="/catalog/types/asset.created" class="type-link">');

    // Past the last type: none of them, and the way back; a cursor no type could have is the first page.
    const past = await page(`/catalog?cursor=${all.at(-1)}&back=${all[49]}`);
    expect([shown(past), pagerOf(past)]).toEqual([[], { newest: '/catalog', newer: `/catalog?cursor=${all[49]}` }]);
    expect(past).toContain('No more event types of yours.');
    expect(shown(await page('/catalog?cursor=Not%20a%20type'))).toEqual(all.slice(0, 50));
  });

  it('are all in the picker, past the 250 of one page of names', async () => {
    for (let i = 0; i < 260; i++) expect([201, 409]).toContain((await herald.api('POST', '/api/v2/event-types', { name: `picked.type.t${String(i).padStart(3, '0')}` })).status);
    const form = await page('/endpoints/new');
    const picker = form.slice(form.indexOf('<details class="topic" data-topic="custom"'));
    const listed = ids(picker, /<input type="checkbox" name="event_types" value="(picked\.type\.[^"]+)">/g);
    expect(listed).toHaveLength(260);
    expect(new Set(listed).size).toBe(260);
  });
});
