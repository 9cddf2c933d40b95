// Brand kits: the list's shape read defensively, a PATCH of only the changed fields, the
// Content-Type an asset is uploaded with, and a server without the kits' API.
import { describe, expect, it } from "vitest";
import { ApiError } from "./client";
import { jsonResponse, recordingClient } from "./recording";
import { assetType, kitChanges, listKits, parseKits, uploadAsset, type BrandKit } from "./brand";

const kit: BrandKit = {
  id: "k1",
  name: "Main",
  logo_position: "top_right",
  logo_size: 0.15,
  logo_opacity: 0.9,
  primary_color: "#FFFFFF",
  accent_color: "#FFD400",
  background_color: "#101014",
  font_family: null,
  intro_source_id: null,
  outro_source_id: null,
  logo_url: null,
  background_url: null,
  font_name: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

const client = (handler: (url: string, init: RequestInit) => Response) => recordingClient(handler);
const json = jsonResponse;

describe("parseKits", () => {
  it("reads {data: [...]} in order, leaving out entries without an id or name", () => {
    const other = { ...kit, id: "k2", name: "Second" };
    expect(parseKits({ data: [other, kit, { id: 3 }, null] }).map((k) => k.id)).toEqual(["k2", "k1"]);
  });
  it("is no kits for another shape", () => {
    expect(parseKits([kit])).toEqual([]);
    expect(parseKits(null)).toEqual([]);
    expect(parseKits({ data: "x" })).toEqual([]);
  });
});

describe("listKits", () => {
  it("is null where the server has no kits' route (404), and throws other refusals", async () => {
    expect(await listKits(client(() => json(404, { detail: "Not Found" })).api)).toBeNull();
    const refused = listKits(client(() => json(503, { error: { code: "DB_UNAVAILABLE", message: "down" } })).api);
    await expect(refused).rejects.toMatchObject({ code: "DB_UNAVAILABLE", status: 503 });
  });
  it("reads the kits of GET /api/brand", async () => {
    const { api, seen } = client(() => json(200, { data: [kit] }));
    expect((await listKits(api))?.map((k) => k.name)).toEqual(["Main"]);
    expect(seen[0].url).toBe("/api/brand");
  });
});

describe("kitChanges", () => {
  it("is empty when nothing changed (a blank font family is the kit's null)", () => {
    expect(kitChanges(kit, { ...kit, font_family: "  " })).toEqual({});
  });
  it("holds only the changed fields, trimmed", () => {
    expect(kitChanges(kit, { ...kit, name: " Second ", accent_color: "#00FF00", logo_size: 0.3 })).toEqual({
      name: "Second",
      accent_color: "#00FF00",
      logo_size: 0.3,
    });
  });
  it("clears a font family with null", () => {
    expect(kitChanges({ ...kit, font_family: "Inter" }, { ...kit, font_family: "" })).toEqual({ font_family: null });
  });
  it("sends a picked intro or outro, and clears one with null", () => {
    expect(kitChanges(kit, { ...kit, intro_source_id: "", outro_source_id: "" })).toEqual({});
    expect(kitChanges(kit, { ...kit, intro_source_id: "s1" })).toEqual({ intro_source_id: "s1" });
    expect(kitChanges({ ...kit, outro_source_id: "s2" }, { ...kit, outro_source_id: "" })).toEqual({ outro_source_id: null });
  });
});

describe("assetType", () => {
  it("keeps a type the server takes, else reads the extension", () => {
    expect(assetType("logo", { name: "a.png", type: "image/png" })).toBe("image/png");
    expect(assetType("font", { name: "Brand.TTF", type: "application/x-font-ttf" })).toBe("font/ttf");
    expect(assetType("font", { name: "b.otf", type: "" })).toBe("font/otf");
    expect(assetType("background", { name: "bg.JPG", type: "" })).toBe("image/jpeg");
    expect(assetType("logo", { name: "notes.txt", type: "text/plain" })).toBe("text/plain");
  });
});

describe("uploadAsset", () => {
  it("PUTs the raw bytes with their type, bearer and workspace", async () => {
    const { api, seen } = client(() => json(200, { ...kit, font_name: "Brand.ttf" }));
    api.workspaceId = "w1";
    const file = new File([new Uint8Array([0, 1, 0, 0, 0])], "Brand.ttf", { type: "" });
    const got = await uploadAsset(api, "k1", "font", file);
    expect(got.font_name).toBe("Brand.ttf");
    const { url, init } = seen[0];
    expect([url, init.method]).toEqual(["/api/brand/k1/assets/font", "PUT"]);
    const headers = init.headers as Record<string, string>;
    expect(headers["Content-Type"]).toBe("font/ttf");
    expect(headers.Authorization).toBe("Bearer a");
    expect(headers["X-Workspace-Id"]).toBe("w1");
    expect(init.body).toBe(file);
  });
  it("refuses a file over the limit before sending it", async () => {
    const { api, seen } = client(() => json(200, kit));
    const big = new File([new Uint8Array(10 * 1024 * 1024 + 1)], "logo.png", { type: "image/png" });
    const err = await uploadAsset(api, "k1", "logo", big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("BRAND_ASSET_TOO_LARGE");
    expect(seen).toHaveLength(0);
  });
});
