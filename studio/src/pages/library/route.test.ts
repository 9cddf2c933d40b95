import { describe, expect, it } from "vitest";
import { href, parseRoute } from "../../router";

describe("the library route", () => {
  it("round-trips through the hash", () => {
    expect(href({ page: "library" })).toBe("#/library");
    expect(parseRoute("#/library")).toEqual({ page: "library" });
  });
});
