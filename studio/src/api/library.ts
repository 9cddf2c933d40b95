// The workspace library over the HTTP API (/api/library): sources marked as B-roll (cut
// away to while a clip talks about what they show) or sound effects (played on a spoken
// word that is one of their tags), for jobs and re-renders with `broll` or `sfx` on.
// The tag limits mirror the server's (clipray.domain.library) so the form can say them;
// the server checks every tag (422 LIBRARY_TAGS_INVALID).

import type { ApiClient } from "./client";

export const LIBRARY_KINDS = ["broll", "sfx"] as const;
export type LibraryKind = (typeof LIBRARY_KINDS)[number];
export const KIND_LABELS: Record<LibraryKind, string> = { broll: "B-roll", sfx: "sound effect" };
export const TAGS_MAX = 20;
export const TAG_MAX_LEN = 32;

/** An item as the API returns it. */
export interface LibraryItem {
  id: string;
  source_id: string;
  kind: LibraryKind;
  /** Lower-cased words matched against what a clip says. */
  tags: string[];
  /** The source's file name without its extension. */
  title: string;
  duration_s: number;
  created_at: string;
}

const isItem = (i: unknown): i is LibraryItem =>
  typeof i === "object" &&
  i !== null &&
  typeof (i as LibraryItem).id === "string" &&
  (LIBRARY_KINDS as readonly unknown[]).includes((i as LibraryItem).kind) &&
  Array.isArray((i as LibraryItem).tags);

/** The items of `GET /api/library` (`{"data": [item, ...]}`, newest first); another shape
 * is no items, and an entry without an id, a known kind or tags is left out. */
export function parseLibrary(body: unknown): LibraryItem[] {
  const data = (body as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? data.filter(isItem) : [];
}

/** The tags typed in a field: split on commas and spaces, lower-cased (as the server
 * stores them), each once, in the order typed. */
export function parseTags(text: string): string[] {
  const words = text
    .split(/[\s,]+/)
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  return [...new Set(words)];
}

/** A duration as the list shows it: seconds with one decimal under a minute, else m:ss. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** The workspace's library, newest first; `kind` keeps one kind. */
export async function listLibrary(client: ApiClient, kind?: LibraryKind, signal?: AbortSignal): Promise<LibraryItem[]> {
  const query = kind ? `?kind=${encodeURIComponent(kind)}` : "";
  return parseLibrary(await client.get<unknown>(`/api/library${query}`, signal));
}

/** Mark a source as `kind` with `tags` (409 LIBRARY_ITEM_EXISTS when it already is one,
 * 422 LIBRARY_KIND_MISMATCH when the source cannot be that kind). */
export function addItem(client: ApiClient, sourceId: string, kind: LibraryKind, tags: string[]): Promise<LibraryItem> {
  return client.post<LibraryItem>("/api/library", { source_id: sourceId, kind, tags });
}

/** Replace an item's tags. */
export function retagItem(client: ApiClient, itemId: string, tags: string[]): Promise<LibraryItem> {
  return client.patch<LibraryItem>(`/api/library/${encodeURIComponent(itemId)}`, { tags });
}

/** Take an item out of the library (its source stays). */
export function removeItem(client: ApiClient, itemId: string): Promise<void> {
  return client.delete<void>(`/api/library/${encodeURIComponent(itemId)}`);
}
