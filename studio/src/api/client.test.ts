// The API client against a scripted fetch: tokens sent, one refresh on a 401 shared by
// concurrent calls, the API's error shape kept whole, a refused refresh signing out.
import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, type TokenStore } from "./client";
import type { Tokens } from "./types";

type Call = { url: string; method: string; headers: Record<string, string>; body: unknown };

function memory(initial: Tokens | null): TokenStore & { value: Tokens | null } {
  return {
    value: initial,
    load() {
      return this.value;
    },
    save(t) {
      this.value = t;
    },
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function scripted(handler: (c: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    return handler(call);
  }) as typeof fetch;
  return { calls, fetcher };
}

const OLD: Tokens = { access_token: "old-access", refresh_token: "old-refresh", expires_in: 900 };
const NEW: Tokens = { access_token: "new-access", refresh_token: "new-refresh", expires_in: 900 };

describe("ApiClient", () => {
  it("sends the bearer token and the workspace", async () => {
    const { calls, fetcher } = scripted(() => json(200, { data: [] }));
    const client = new ApiClient(memory(OLD), fetcher);
    client.workspaceId = "ws1";
    await client.get("/api/jobs");
    expect(calls[0].headers.Authorization).toBe("Bearer old-access");
    expect(calls[0].headers["X-Workspace-Id"]).toBe("ws1");
  });

  it("refreshes once on 401 for concurrent calls and retries them", async () => {
    const store = memory(OLD);
    const { calls, fetcher } = scripted((c) => {
      if (c.url.endsWith("/api/auth/refresh")) return json(200, NEW);
      return c.headers.Authorization === "Bearer new-access" ? json(200, { ok: c.url }) : json(401, { error: { code: "TOKEN_EXPIRED", message: "expired" } });
    });
    const client = new ApiClient(store, fetcher);
    const got = await Promise.all([client.get<{ ok: string }>("/api/a"), client.get<{ ok: string }>("/api/b")]);
    expect(got.map((g) => g.ok)).toEqual(["/api/a", "/api/b"]);
    const refreshes = calls.filter((c) => c.url.endsWith("/api/auth/refresh"));
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].body).toEqual({ refresh_token: "old-refresh" });
    expect(refreshes[0].headers.Authorization).toBeUndefined();
    expect(store.value).toEqual(NEW);
  });

  it("signs out when the refresh is refused", async () => {
    const store = memory(OLD);
    const { fetcher } = scripted((c) =>
      c.url.endsWith("/refresh") ? json(401, { error: { code: "REFRESH_REVOKED", message: "revoked" } }) : json(401, { error: { code: "UNAUTHORIZED", message: "no" } }),
    );
    const client = new ApiClient(store, fetcher);
    let signedOut = false;
    client.onSignedOut = () => (signedOut = true);
    const err = await client.get("/api/jobs").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("UNAUTHORIZED");
    expect(signedOut).toBe(true);
    expect(store.value).toBeNull();
    expect(client.signedIn).toBe(false);
  });

  it("keeps the API's error shape, and names a body that is not it", async () => {
    const { fetcher } = scripted((c) =>
      c.url.endsWith("/quota")
        ? json(429, { error: { code: "QUOTA_CONCURRENT_JOBS", message: "too many", trace_id: "t1", detail: { limit: 2 } } })
        : new Response("<html>bad gateway</html>", { status: 502 }),
    );
    const client = new ApiClient(memory(OLD), fetcher);
    const quota = (await client.post("/api/quota").catch((e: unknown) => e)) as ApiError;
    expect([quota.status, quota.code, quota.message, quota.traceId]).toEqual([429, "QUOTA_CONCURRENT_JOBS", "too many", "t1"]);
    expect(quota.detail).toEqual({ limit: 2 });
    const proxy = (await client.get("/api/down").catch((e: unknown) => e)) as ApiError;
    expect([proxy.status, proxy.code]).toEqual([502, "HTTP_502"]);
  });
});
