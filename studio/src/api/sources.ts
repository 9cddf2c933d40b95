// The workspace's sources as pickers list them (a brand kit's intro and outro, a library
// item): `GET /api/sources` read defensively, one page of the newest 100 (the API's largest).

import type { ApiClient } from "./client";

/** A source as a picker needs it (the fields of `GET /api/sources`' rows that are used). */
export interface PickSource {
  id: string;
  origin_uri: string;
  duration_s: number;
  /** A sound file without a picture. */
  audio_only?: boolean;
}

/** The rows of a sources page that have an id, in the page's order; any other shape is none. */
export function parseSources(body: unknown): PickSource[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  return data.filter(
    (s): s is PickSource =>
      typeof s === "object" && s !== null && typeof (s as PickSource).id === "string" && typeof (s as PickSource).origin_uri === "string",
  );
}

/** The sources with a picture: an intro, an outro or B-roll is shown, so a sound-only
 * source cannot be one. */
export function videoSources(sources: PickSource[]): PickSource[] {
  return sources.filter((s) => s.audio_only !== true);
}

/** A source's name as a picker shows it: its file name and length. */
export function sourceLabel(s: PickSource): string {
  const name = s.origin_uri.split(/[/\\]/).pop() || s.id;
  return `${name} (${Math.round(s.duration_s)} s)`;
}

/** The workspace's newest 100 sources. */
export async function listSources(client: ApiClient, signal?: AbortSignal): Promise<PickSource[]> {
  return parseSources(await client.get<unknown>("/api/sources?limit=100", signal));
}
