import { describe, expect, it } from "vitest";
import { href, parseRoute } from "../../router";

describe("the streams and publishing routes", () => {
  it("round-trip through the hash", () => {
    for (const route of [
      { page: "streams" as const },
      { page: "streams" as const, streamId: "a b/c" },
      { page: "publish" as const },
    ]) {
      expect(parseRoute(href(route))).toEqual(route);
    }
  });

  it("read an opened stream from its path", () => {
    expect(parseRoute("#/streams/0123abcd")).toEqual({ page: "streams", streamId: "0123abcd" });
    expect(parseRoute("#/publish")).toEqual({ page: "publish" });
  });
});
