// The source pickers' list: a sources page read defensively, the sources with a picture,
// and a source's label.
import { describe, expect, it } from "vitest";
import { ApiClient, type TokenStore } from "./client";
import { listSources, parseSources, sourceLabel, videoSources } from "./sources";

const src = (id: string, audio_only: boolean) => ({ id, origin_uri: `s3://media/in/${id}.mp4`, duration_s: 12.4, audio_only });
const store: TokenStore = { load: () => ({ access_token: "a", refresh_token: "r", expires_in: 900 }), save: () => undefined };

describe("parseSources / videoSources", () => {
  it("keeps the page's rows with an id, in order, and the ones with a picture", () => {
    const page = { data: [src("a", false), src("pod", true), src("b", false), { origin_uri: "x" }], total: 4, page: 1, pages: 1 };
    expect(parseSources(page).map((s) => s.id)).toEqual(["a", "pod", "b"]);
    expect(videoSources(parseSources(page)).map((s) => s.id)).toEqual(["a", "b"]);
  });
  it("reads any other shape as no sources", () => {
    expect(parseSources({ detail: "nope" })).toEqual([]);
    expect(parseSources(null)).toEqual([]);
  });
});

describe("sourceLabel", () => {
  it("names a source by its file name and length", () => {
    expect(sourceLabel(src("talk", false))).toBe("talk.mp4 (12 s)");
    expect(sourceLabel({ id: "s9", origin_uri: "", duration_s: 3 })).toBe("s9 (3 s)");
  });
});

describe("listSources", () => {
  it("asks for the largest page", async () => {
    const seen: string[] = [];
    const fetcher = (async (input: RequestInfo | URL) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ data: [src("a", false)], total: 1, page: 1, pages: 1 }), { status: 200 });
    }) as typeof fetch;
    expect((await listSources(new ApiClient(store, fetcher))).map((s) => s.id)).toEqual(["a"]);
    expect(seen).toEqual(["/api/sources?limit=100"]);
  });
});
