// The library client: the list read defensively, tags as the server stores them, and the
// requests each call makes (method, path, body, credentials), errors kept as ApiError.
import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import { jsonResponse, recordingClient } from "./recording";
import { addItem, formatDuration, listLibrary, parseLibrary, parseTags, removeItem, retagItem, type LibraryItem } from "./library";

const item: LibraryItem = {
  id: "i1",
  source_id: "s1",
  kind: "broll",
  tags: ["ocean", "waves"],
  title: "beach",
  duration_s: 8.5,
  created_at: "2026-01-01T00:00:00Z",
};

const client = (handler: (url: string, init: RequestInit) => Response) => recordingClient(handler, "w1");
const json = jsonResponse;

describe("parseLibrary", () => {
  it("reads {data: [...]} in order, leaving out entries without an id, a known kind or tags", () => {
    const body = { data: [item, { ...item, id: "i2", kind: "music" }, { ...item, id: "i3", tags: "x" }, { ...item, id: "i4", kind: "sfx" }] };
    expect(parseLibrary(body).map((i) => i.id)).toEqual(["i1", "i4"]);
  });
  it("reads any other shape as an empty library", () => {
    expect(parseLibrary([item])).toEqual([]);
    expect(parseLibrary(null)).toEqual([]);
  });
});

describe("parseTags", () => {
  it("splits on commas and spaces, lower-cases and keeps each once in order", () => {
    expect(parseTags(" Ocean, waves  ocean,,Sea-Breeze ")).toEqual(["ocean", "waves", "sea-breeze"]);
    expect(parseTags(" , ")).toEqual([]);
  });
});

describe("formatDuration", () => {
  it("shows seconds under a minute, m:ss above", () => {
    expect(formatDuration(8.46)).toBe("8.5 s");
    expect(formatDuration(125.4)).toBe("2:05");
  });
});

describe("the library's calls", () => {
  it("lists the library, or one kind of it", async () => {
    const { api, seen } = client(() => json(200, { data: [item] }));
    expect(await listLibrary(api)).toEqual([item]);
    expect(await listLibrary(api, "sfx")).toEqual([item]);
    expect(seen.map((s) => s.url)).toEqual(["/api/library", "/api/library?kind=sfx"]);
    const headers = seen[0].init.headers as Record<string, string>;
    expect([headers.Authorization, headers["X-Workspace-Id"]]).toEqual(["Bearer a", "w1"]);
  });
  it("adds, retags and removes with the API's bodies", async () => {
    const { api, seen } = client((_url, init) => (init.method === "DELETE" ? new Response(null, { status: 204 }) : json(200, item)));
    await addItem(api, "s1", "broll", ["ocean"]);
    await retagItem(api, "i/1", ["sea"]);
    await removeItem(api, "i1");
    expect(seen.map((s) => [s.init.method, s.url, s.init.body])).toEqual([
      ["POST", "/api/library", JSON.stringify({ source_id: "s1", kind: "broll", tags: ["ocean"] })],
      ["PATCH", "/api/library/i%2F1", JSON.stringify({ tags: ["sea"] })],
      ["DELETE", "/api/library/i1", undefined],
    ]);
  });
  it("keeps the server's refusal whole", async () => {
    const { api } = client(() => json(409, { error: { code: "LIBRARY_ITEM_EXISTS", message: "already B-roll" } }));
    const err = await addItem(api, "s1", "broll", ["ocean"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([(err as ApiError).status, (err as ApiError).code]).toEqual([409, "LIBRARY_ITEM_EXISTS"]);
  });
});
