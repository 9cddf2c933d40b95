// The one door to the HTTP API: every call carries the Bearer access token and the chosen
// workspace; a 401 trades the refresh token for a new pair once (POST /api/auth/refresh) and
// retries; any error answers with the API's JSON shape, kept whole in ApiError.

import type { Tokens } from "./types";

/** An API refusal: `code` is the machine-readable code of {"error": {code, message}}. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly traceId: string | undefined;
  readonly detail: unknown;

  constructor(status: number, code: string, message: string, traceId?: string, detail?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.traceId = traceId;
    this.detail = detail;
  }
}

/** Turn any non-2xx response into an ApiError, whether or not its body is the API's shape. */
export async function errorOf(resp: Response): Promise<ApiError> {
  const text = await resp.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; trace_id?: string; detail?: unknown } };
    if (body.error?.code) {
      return new ApiError(resp.status, body.error.code, body.error.message ?? "", body.error.trace_id, body.error.detail);
    }
  } catch {
    // not JSON: a proxy's page, an empty body
  }
  return new ApiError(resp.status, `HTTP_${resp.status}`, text.slice(0, 200) || resp.statusText || "request failed");
}

/** Where the tokens live between page loads (localStorage in the browser). */
export interface TokenStore {
  load(): Tokens | null;
  save(tokens: Tokens | null): void;
}

export const browserTokens: TokenStore = {
  load() {
    if (typeof localStorage === "undefined") return null; // not a browser (unit tests)
    const raw = localStorage.getItem("clipray.tokens");
    return raw ? (JSON.parse(raw) as Tokens) : null;
  },
  save(tokens) {
    if (tokens) localStorage.setItem("clipray.tokens", JSON.stringify(tokens));
    else localStorage.removeItem("clipray.tokens");
  },
};

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** Send no credentials (sign in, sign up). */
  anonymous?: boolean;
  /** A raw body (a file's bytes) sent with its own Content-Type instead of JSON. */
  raw?: { body: Blob; type: string };
}

export class ApiClient {
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  /** The workspace requests act in (X-Workspace-Id); null is the user's personal one. */
  workspaceId: string | null = null;
  /** Called when the session ended (refresh refused): the app shows sign-in again. */
  onSignedOut: () => void = () => {};

  constructor(
    private readonly store: TokenStore = browserTokens,
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
    private readonly base = "",
  ) {
    this.tokens = store.load();
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  /** The access token, for what cannot send a header (a WebSocket's subprotocols). */
  get accessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens;
    this.store.save(tokens);
  }

  private headers(json: boolean, anonymous: boolean, type?: string): Record<string, string> {
    const h: Record<string, string> = { Accept: "application/json" };
    if (json) h["Content-Type"] = "application/json";
    if (type) h["Content-Type"] = type;
    if (!anonymous && this.tokens) h.Authorization = `Bearer ${this.tokens.access_token}`;
    if (!anonymous && this.workspaceId) h["X-Workspace-Id"] = this.workspaceId;
    return h;
  }

  /** One refresh at a time: concurrent 401s wait on the same exchange. */
  private refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const refresh_token = this.tokens?.refresh_token;
        if (!refresh_token) return false;
        const resp = await this.fetcher(`${this.base}/api/auth/refresh`, {
          method: "POST",
          headers: this.headers(true, true),
          body: JSON.stringify({ refresh_token }),
        });
        if (!resp.ok) {
          this.setTokens(null);
          this.onSignedOut();
          return false;
        }
        this.setTokens((await resp.json()) as Tokens);
        return true;
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** A raw response (streams use it); a 401 is refreshed and retried once. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const anonymous = opts.anonymous ?? false;
    const attempt = () =>
      this.fetcher(`${this.base}${path}`, {
        method,
        headers: this.headers(opts.body !== undefined, anonymous, opts.raw?.type),
        body: opts.raw ? opts.raw.body : opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    let resp = await attempt();
    if (resp.status === 401 && !anonymous && this.tokens && (await this.refresh())) {
      resp = await attempt();
    }
    if (!resp.ok) throw await errorOf(resp);
    return resp;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const resp = await this.send(method, path, opts);
    if (resp.status === 204) return undefined as T;
    return (await resp.json()) as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { signal });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body: body ?? {} });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  async signIn(email: string, password: string): Promise<void> {
    const tokens = await this.request<Tokens>("POST", "/api/auth/login", { body: { email, password }, anonymous: true });
    this.setTokens(tokens);
  }

  async signUp(email: string, password: string, name: string): Promise<void> {
    await this.request("POST", "/api/auth/register", { body: { email, password, name }, anonymous: true });
    await this.signIn(email, password);
  }

  async signOut(): Promise<void> {
    const refresh_token = this.tokens?.refresh_token;
    this.setTokens(null);
    this.workspaceId = null;
    if (refresh_token) {
      await this.request("POST", "/api/auth/logout", { body: { refresh_token }, anonymous: true }).catch(() => undefined);
    }
  }
}

export const api = new ApiClient();
