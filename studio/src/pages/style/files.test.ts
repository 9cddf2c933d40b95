import { describe, expect, it } from "vitest";
import { THUMBNAIL_CANDIDATES, downloadUrlPath } from "./files";

describe("downloadUrlPath", () => {
  it("asks for one thumbnail candidate by n", () => {
    const paths = Array.from({ length: THUMBNAIL_CANDIDATES }, (_, n) => downloadUrlPath("c1", "thumbnail", n));
    expect(paths).toEqual([
      "/api/clips/c1/download-url?file=thumbnail&n=0",
      "/api/clips/c1/download-url?file=thumbnail&n=1",
      "/api/clips/c1/download-url?file=thumbnail&n=2",
    ]);
  });
  it("sends n with thumbnails only, and escapes the id", () => {
    expect(downloadUrlPath("c1", "video", 1)).toBe("/api/clips/c1/download-url?file=video");
    expect(downloadUrlPath("c1", "thumbnail")).toBe("/api/clips/c1/download-url?file=thumbnail");
    expect(downloadUrlPath("a/b", "edl")).toBe("/api/clips/a%2Fb/download-url?file=edl");
  });
});
