import { OAuth2Server } from 'oauth2-mock-server';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, EndpointAuth } from '../domain/types.js';
import { OAuth2TokenCache } from './oauth2.js';

interface TokenRequest {
  readonly authorization: string | undefined;
  readonly form: Record<string, string>;
}

const CLIENT_ID = 'herald:client';
// ':' would split a Basic pair, '+' is a space once form-decoded, and the rest is not ASCII.
const CLIENT_SECRET = 'pa:ss+wörd ✓';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** Form-decoding (application/x-www-form-urlencoded), as a token server reads a Basic pair. */
const formDecoded = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));

/**
 * A token server that authenticates the client the way `accepts` says, as a strict provider
 * does (Okta, by default, only with Basic): otherwise 401 invalid_client. It records every
 * token request.
 */
async function tokenServer(accepts: 'basic' | 'post' | 'either'): Promise<{ tokenUrl: string; requests: TokenRequest[] }> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  open.push({ close: () => server.stop() });
  const requests: TokenRequest[] = [];
  server.service.on('beforeResponse', (response, req) => {
    const form = { ...(req.body as Record<string, string>) };
    requests.push({ authorization: req.headers.authorization, form });
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const pair = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(':') : undefined;
    const byBasic = pair?.length === 2 && formDecoded(pair[0]) === CLIENT_ID && formDecoded(pair[1]) === CLIENT_SECRET && !('client_secret' in form);
    const byPost = req.headers.authorization === undefined && form.client_id === CLIENT_ID && form.client_secret === CLIENT_SECRET;
    if (accepts === 'basic' ? byBasic : accepts === 'post' ? byPost : byBasic || byPost) return;
    response.statusCode = 401;
    response.body = { error: 'invalid_client' };
  });
  return { tokenUrl: `${server.issuer.url}/token`, requests };
}

function cache(): OAuth2TokenCache {
  const agent = new Agent();
  open.push({ close: () => agent.close() });
  return new OAuth2TokenCache(agent);
}

function endpoint(tokenUrl: string, more: Partial<Extract<EndpointAuth, { type: 'oauth2_client_credentials' }>> = {}, url = 'https://hooks.example.com/in'): Endpoint {
  const auth: EndpointAuth = { type: 'oauth2_client_credentials', tokenUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: 'hooks', ...more };
  return { id: 'ep_oauth', url, auth } as unknown as Endpoint;
}

describe('OAuth2 client authentication at the token endpoint', () => {
  it('client_secret_basic: sends the id and secret each form-urlencoded in an Authorization: Basic header, and neither in the body', async () => {
    const { tokenUrl, requests } = await tokenServer('basic');
    const token = await cache().token(endpoint(tokenUrl, { tokenEndpointAuthMethod: 'client_secret_basic' }), { refresh: false });
    expect(token).toMatch(/^ey/);
    // RFC 6749 §2.3.1: urlencode each (':' → %3A, '+' → %2B, ' ' → '+', UTF-8 percent-encoded), then base64.
    const pair = 'herald%3Aclient:pa%3Ass%2Bw%C3%B6rd+%E2%9C%93';
    expect(requests).toEqual([{ authorization: `Basic ${Buffer.from(pair, 'ascii').toString('base64')}`, form: { grant_type: 'client_credentials', scope: 'hooks' } }]);
  });

  it.each([
    ['set to client_secret_post', { tokenEndpointAuthMethod: 'client_secret_post' as const }],
    ['absent, as on endpoints stored before the choice', {}],
  ])('client_secret_post (%s): sends the id and secret in the form body and no Authorization header', async (_label, more) => {
    const { tokenUrl, requests } = await tokenServer('post');
    expect(await cache().token(endpoint(tokenUrl, more), { refresh: false })).toMatch(/^ey/);
    expect(requests).toEqual([{ authorization: undefined, form: { grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: 'hooks' } }]);
  });

  it('a server that accepts only Basic refuses the default form post with invalid_client', async () => {
    const { tokenUrl } = await tokenServer('basic');
    await expect(cache().token(endpoint(tokenUrl), { refresh: false })).rejects.toMatchObject({ kind: 'oauth', message: expect.stringMatching(/answered 401 \(invalid_client\)/) });
  });

  it('fetches a new token when the method changes, instead of the one cached for the other method', async () => {
    const { tokenUrl, requests } = await tokenServer('either');
    const tokens = cache();
    await tokens.token(endpoint(tokenUrl), { refresh: false });
    await tokens.token(endpoint(tokenUrl), { refresh: false });
    expect(requests).toHaveLength(1);
    await tokens.token(endpoint(tokenUrl, { tokenEndpointAuthMethod: 'client_secret_basic' }), { refresh: false });
    expect(requests).toHaveLength(2);
    expect(requests[1].authorization).toMatch(/^Basic /);
  });

  it('fetches a new token when the endpoint moves to another origin (scheme, host or port), and keeps it for another path', async () => {
    const { tokenUrl, requests } = await tokenServer('either');
    const tokens = cache();
    const at = (url: string) => tokens.token(endpoint(tokenUrl, {}, url), { refresh: false });
    const first = await at('https://hooks.example.com/in');
    expect(await at('https://hooks.example.com/other/path?x=1')).toBe(first);
    expect(requests).toHaveLength(1);
    for (const moved of ['http://hooks.example.com/in', 'https://elsewhere.example.com/in', 'https://hooks.example.com:8443/in']) {
      await at(moved);
      await at(moved);
    }
    expect(requests).toHaveLength(4);
  });

  it('does not hand a token request started for the old origin to a delivery for the new one', async () => {
    const { tokenUrl, requests } = await tokenServer('either');
    const tokens = cache();
    await Promise.all([
      tokens.token(endpoint(tokenUrl, {}, 'https://old.example.com/in'), { refresh: false }),
      tokens.token(endpoint(tokenUrl, {}, 'https://new.example.com/in'), { refresh: false }),
    ]);
    expect(requests).toHaveLength(2);
  });
});
