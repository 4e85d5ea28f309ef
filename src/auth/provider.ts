// Outbound authentication: the headers that prove Herald's identity to an endpoint.
import type { AuthProvider } from '../delivery/attempt.js';
import type { Endpoint } from '../domain/types.js';

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export interface TokenSource {
  token(endpoint: Endpoint, options: { refresh: boolean }): Promise<string>;
}

export function createAuthProvider(oauth: TokenSource): AuthProvider {
  return {
    async headers(endpoint, options): Promise<Record<string, string>> {
      const auth = endpoint.auth;
      switch (auth.type) {
        case 'none':
          return {};
        case 'basic':
          return { authorization: basicAuthorization(auth.username, auth.password) };
        case 'oauth2_client_credentials':
          return { authorization: `Bearer ${await oauth.token(endpoint, { refresh: options?.refresh ?? false })}` };
      }
    },
  };
}
