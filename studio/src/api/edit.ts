// The cut editor's and the transcript's calls on the public API: a source's proxy (all-intra,
// for frame-exact stepping), its cut points with the version an edit sends back, the edit
// history and undo, and word-timed transcripts.

import { api } from "./client";
import type { Page } from "./types";

export interface Source {
  id: string;
  origin: string;
  origin_uri: string;
  duration_s: number;
  width: number | null;
  height: number | null;
  frame_count: number | null;
  frame_rate: string | null;
  cut_version: number;
  proxy_status: string;
  created_at: string;
  audio_only: boolean;
}

export interface Proxy {
  status: "ready" | "pending" | "building";
  url: string | null;
  frame_count: number;
  frame_rate: string;
  error: string | null;
}

export interface Cuts {
  source_id: string;
  version: number;
  frame_count: number;
  frame_rate: string;
  cuts: number[];
}

export interface Edit {
  id: string;
  op: "add" | "remove" | "move" | "undo";
  user_id: string | null;
  frame: number | null;
  to: number | null;
  cuts_before: number[];
  cuts_after: number[];
  version: number;
  undo_of: string | null;
  undone: boolean;
  created_at: string;
}

export interface EditDone {
  edit: Edit;
}

export interface Word {
  start: number;
  end: number;
  word: string;
}

export interface Transcript {
  language: string;
  segments: { start: number; end: number; text: string; words: Word[] }[];
}

const src = (id: string) => `/api/sources/${encodeURIComponent(id)}`;

export const sources = (signal?: AbortSignal) => api.get<Page<Source>>("/api/sources?limit=100", signal);
export const source = (id: string, signal?: AbortSignal) => api.get<Source>(src(id), signal);
export const proxy = (id: string, signal?: AbortSignal) => api.get<Proxy>(`${src(id)}/proxy`, signal);
export const cuts = (id: string, signal?: AbortSignal) => api.get<Cuts>(`${src(id)}/cuts`, signal);
export const history = (id: string, signal?: AbortSignal) => api.get<Page<Edit>>(`${src(id)}/cuts/history?limit=50`, signal);
export const addCut = (id: string, frame: number, version: number) => api.post<EditDone>(`${src(id)}/cuts`, { frame, version });
export const moveCut = (id: string, frame: number, to: number, version: number) =>
  api.patch<EditDone>(`${src(id)}/cuts/${frame}`, { to, version });
export const removeCut = (id: string, frame: number, version: number) =>
  api.delete<EditDone>(`${src(id)}/cuts/${frame}?version=${version}`);
export const undoCut = (id: string, version: number) => api.post<EditDone>(`${src(id)}/cuts/undo`, { version });
export const sourceTranscript = (id: string, signal?: AbortSignal) => api.get<Transcript>(`${src(id)}/transcript`, signal);
export const jobTranscript = (id: string, signal?: AbortSignal) =>
  api.get<Transcript>(`/api/jobs/${encodeURIComponent(id)}/transcript`, signal);

/** A grid rate such as "30000/1001" as frames per second. */
export function rateOf(text: string): number {
  const [n, d] = text.split("/").map(Number);
  return d ? n / d : n;
}
