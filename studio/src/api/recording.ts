// For the client tests: an ApiClient whose requests are recorded and answered by a handler
// (what each call sends: method, path, body, credentials), and a JSON answer.
import { ApiClient, type TokenStore } from "./client";

const store: TokenStore = { load: () => ({ access_token: "a", refresh_token: "r", expires_in: 900 }), save: () => undefined };

export function recordingClient(handler: (url: string, init: RequestInit) => Response, workspaceId?: string) {
  const seen: { url: string; init: RequestInit }[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return handler(String(input), init ?? {});
  }) as typeof fetch;
  const api = new ApiClient(store, fetcher);
  if (workspaceId !== undefined) api.workspaceId = workspaceId;
  return { api, seen };
}

export const jsonResponse = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
