import { describe, expect, it } from "vitest";
import { base64Of, fitWithin, searchBody } from "./picture";

describe("fitWithin", () => {
  it("scales the longer side down to the bound, keeping the aspect", () => {
    expect(fitWithin(4032, 3024, 1024)).toEqual([1024, 768]);
    expect(fitWithin(1080, 1920, 1024)).toEqual([576, 1024]);
  });
  it("never enlarges, and keeps a degenerate size", () => {
    expect(fitWithin(640, 360, 1024)).toEqual([640, 360]);
    expect(fitWithin(0, 0, 1024)).toEqual([0, 0]);
    expect(fitWithin(5000, 1, 1024)).toEqual([1024, 1]);
  });
});

describe("base64Of", () => {
  it("writes RFC 4648 base64 with padding", () => {
    expect(base64Of(new TextEncoder().encode("Man"))).toBe("TWFu");
    expect(base64Of(new TextEncoder().encode("Ma"))).toBe("TWE=");
    expect(base64Of(new Uint8Array())).toBe("");
  });
  it("encodes every byte value, over more than one chunk, so that atob gives them back", () => {
    const bytes = new Uint8Array(200_000).map((_, i) => (i * 7919) % 256);
    const text = base64Of(bytes);
    expect(text).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Uint8Array.from(atob(text), (c) => c.charCodeAt(0))).toEqual(bytes);
  });
});

describe("searchBody", () => {
  it("sends words with their mode, or a picture without words or mode", () => {
    expect(searchBody("the moon", "transcript", null, 20)).toEqual({ query: "the moon", mode: "transcript", limit: 20 });
    expect(searchBody("ignored", "hybrid", "TWFu", 20)).toEqual({ image: "TWFu", limit: 20 });
  });
});
