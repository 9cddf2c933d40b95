// Brand kits over the HTTP API (/api/brand): a workspace's logo, colours, font and
// background, applied to what a job or a re-render makes. The limits mirror the server's
// vocabulary (clipray.domain.brand) so a form can say them; the server still checks all.

import { ApiError, type ApiClient } from "./client";

export const LOGO_POSITIONS = ["top_left", "top_right", "bottom_left", "bottom_right"] as const;
export type LogoPosition = (typeof LOGO_POSITIONS)[number];
export const LOGO_SIZE_RANGE = [0.05, 0.5] as const;
export const LOGO_OPACITY_RANGE = [0.05, 1.0] as const;
export const ASSET_KINDS = ["logo", "font", "background"] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];
export const ASSET_TYPES: Record<AssetKind, readonly string[]> = {
  logo: ["image/png", "image/jpeg", "image/webp"],
  font: ["font/ttf", "font/otf"],
  background: ["image/png", "image/jpeg", "image/webp"],
};
export const ASSET_MAX_BYTES = 10 * 1024 * 1024;
export const NAME_MAX = 80;

/** A kit as the API returns it. */
export interface BrandKit {
  id: string;
  name: string;
  logo_position: LogoPosition;
  logo_size: number;
  logo_opacity: number;
  primary_color: string;
  accent_color: string;
  background_color: string;
  font_family: string | null;
  intro_source_id: string | null;
  outro_source_id: string | null;
  /** Presigned GET URLs of the uploaded pictures, or null. */
  logo_url: string | null;
  background_url: string | null;
  /** The uploaded font file's name, or null. */
  font_name: string | null;
  created_at: string;
  updated_at: string;
}

/** The fields a kit is written with (POST takes `name` and any others; PATCH any). */
export type KitFields = Pick<
  BrandKit,
  | "name"
  | "logo_position"
  | "logo_size"
  | "logo_opacity"
  | "primary_color"
  | "accent_color"
  | "background_color"
  | "font_family"
  | "intro_source_id"
  | "outro_source_id"
>;
export const KIT_FIELDS: readonly (keyof KitFields)[] = [
  "name",
  "logo_position",
  "logo_size",
  "logo_opacity",
  "primary_color",
  "accent_color",
  "background_color",
  "font_family",
  "intro_source_id",
  "outro_source_id",
];

const isKit = (k: unknown): k is BrandKit =>
  typeof k === "object" && k !== null && typeof (k as BrandKit).id === "string" && typeof (k as BrandKit).name === "string";

/** The kits of `GET /api/brand` (`{"data": [kit, ...]}`, newest first); anything else
 * (a server that answers another shape) is no kits, and an entry without an id or a name
 * is left out. */
export function parseKits(body: unknown): BrandKit[] {
  const data = (body as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? data.filter(isKit) : [];
}

/** The workspace's kits; null when the server has no kits' API (404 on the route). */
export async function listKits(client: ApiClient, signal?: AbortSignal): Promise<BrandKit[] | null> {
  try {
    return parseKits(await client.get<unknown>("/api/brand", signal));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** The kit's fields that differ from `kit` (a PATCH sends only those; a blank font family,
 * intro or outro clears it with null). */
export function kitChanges(kit: BrandKit, draft: KitFields): Partial<KitFields> {
  const out: Record<string, unknown> = {};
  for (const key of KIT_FIELDS) {
    let value: unknown = draft[key];
    if (key === "font_family" || key === "intro_source_id" || key === "outro_source_id") {
      value = typeof value === "string" && value.trim() ? value.trim() : null;
    }
    if (key === "name" && typeof value === "string") value = value.trim();
    if (value !== kit[key]) out[key] = value;
  }
  return out as Partial<KitFields>;
}

const EXTENSION_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  ttf: "font/ttf",
  otf: "font/otf",
};

/** The Content-Type to upload `file` as a kit's `kind`: the browser's own type when the
 * server takes it, else the one its extension names (browsers call a .ttf
 * `application/x-font-ttf` or nothing); the server checks the bytes' signature anyway. */
export function assetType(kind: AssetKind, file: { name: string; type: string }): string {
  if (ASSET_TYPES[kind].includes(file.type)) return file.type;
  const ext = file.name.split(".").pop()?.toLowerCase() ?? "";
  return EXTENSION_TYPES[ext] ?? (file.type || "application/octet-stream");
}

/** Upload `file` as the kit's `kind` (`PUT /api/brand/{id}/assets/{kind}`, the raw bytes);
 * a file over the limit is refused here, with the server's code, before it is sent. */
export async function uploadAsset(client: ApiClient, kitId: string, kind: AssetKind, file: File): Promise<BrandKit> {
  if (file.size > ASSET_MAX_BYTES) {
    throw new ApiError(413, "BRAND_ASSET_TOO_LARGE", `a kit's ${kind} is at most ${ASSET_MAX_BYTES / 1024 / 1024} MB`);
  }
  const path = `/api/brand/${encodeURIComponent(kitId)}/assets/${kind}`;
  const resp = await client.send("PUT", path, { raw: { body: file, type: assetType(kind, file) } });
  return (await resp.json()) as BrandKit;
}
