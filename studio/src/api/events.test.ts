import { describe, expect, it } from "vitest";
import { SseParser } from "./events";

describe("SseParser", () => {
  it("splits events across chunk boundaries and skips keep-alive comments", () => {
    const p = new SseParser();
    const stream = 'id: 1\nevent: status\ndata: {"status": "analyzing", "progress": 0.4}\n\n: keep-alive\n\nid: 2\nevent: end\ndata: {"status": "review"}\n\n';
    const got = [];
    for (let i = 0; i < stream.length; i += 7) got.push(...p.feed(stream.slice(i, i + 7)));
    expect(got).toEqual([
      { event: "status", data: { status: "analyzing", progress: 0.4 } },
      { event: "end", data: { status: "review" } },
    ]);
  });

  it("reads CRLF line ends", () => {
    expect(new SseParser().feed('event: step\r\ndata: {"name": "render"}\r\n\r\n')).toEqual([{ event: "step", data: { name: "render" } }]);
  });
});
