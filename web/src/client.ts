/**
 * The GraphQL client: urql over HTTP for queries and mutations, graphql-ws
 * for subscriptions, both on the page's own origin. The admin token lives in
 * sessionStorage (this browser tab's session only) and is sent as a bearer
 * header; it is read on every request so entering it takes effect at once.
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';
import { createClient as createWsClient } from 'graphql-ws';

const TOKEN_KEY = 'promptgen.adminToken';

export function adminToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setAdminToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function authHeaders(): Record<string, string> {
  const token = adminToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export function createStudioClient(): Client {
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const ws = createWsClient({
    url: wsUrl,
    lazy: true,
    retryAttempts: 20,
    // Reconnects resubscribe; every subscription's first event is the latest state, so nothing is lost.
    shouldRetry: () => true,
    connectionParams: () => authHeaders(),
  });
  return new Client({
    url: '/graphql',
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
    // POST always: Apollo's CSRF guard refuses GET queries without a preflight header.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: authHeaders() }),
    requestPolicy: 'cache-and-network',
  });
}
