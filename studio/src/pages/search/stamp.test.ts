import { describe, expect, it } from "vitest";
import { atLeast } from "../../role";
import { moveItem, stamp } from "./stamp";

describe("moveItem", () => {
  it("moves one item up or down and keeps the others in order", () => {
    expect(moveItem(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(moveItem(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(moveItem(["a", "b", "c"], 1, 1)).toEqual(["a", "b", "c"]);
  });
  it("leaves the list alone for an index out of range", () => {
    expect(moveItem(["a", "b"], 0, 2)).toEqual(["a", "b"]);
    expect(moveItem(["a", "b"], -1, 0)).toEqual(["a", "b"]);
  });
});

describe("stamp", () => {
  it("writes seconds as m:ss.s", () => {
    expect(stamp(1.84)).toBe("0:01.8");
    expect(stamp(71.25)).toBe("1:11.3");
  });
});

describe("atLeast", () => {
  it("follows the server's order of roles; an unknown or missing role can do nothing", () => {
    expect(atLeast("viewer", "editor")).toBe(false);
    expect(atLeast("editor", "editor")).toBe(true);
    expect(atLeast("owner", "admin")).toBe(true);
    expect(atLeast("editor", "admin")).toBe(false);
    expect(atLeast(undefined, "editor")).toBe(false);
    expect(atLeast("guest", "editor")).toBe(false);
  });
});
