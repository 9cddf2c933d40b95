// The shapes of the public HTTP API the studio reads (see /docs for the whole schema).

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  workspace_id: string;
  role: string;
}

export interface Workspace {
  id: string;
  slug: string;
  name: string;
  role: string;
}

export interface Page<T> {
  data: T[];
  total: number;
  page: number;
  pages: number;
}

export const ASPECTS = ["9:16", "1:1", "16:9"] as const;
export const CAPTION_STYLES = ["highlight_word", "karaoke", "pop_in", "typewriter", "bounce", "none"] as const;
export type Aspect = (typeof ASPECTS)[number];
export type CaptionStyle = (typeof CAPTION_STYLES)[number];

export interface JobSettings {
  max_clips: number;
  min_duration: number;
  max_duration: number;
  aspect: Aspect;
  captions: CaptionStyle;
}

export interface Step {
  name: string;
  status: string;
  attempt: number;
  error: string | null;
  duration_s: number | null;
}

export interface Job {
  id: string;
  status: string;
  paused: boolean;
  progress: number;
  error: string | null;
  source_id: string | null;
  source: Record<string, string>;
  settings: Partial<JobSettings>;
  created_at: string;
  finished_at: string | null;
  steps: Step[];
}

/** What a job's `status` server-sent event carries. */
export interface JobStatusEvent {
  id: string;
  status: string;
  progress: number;
  paused: boolean;
  error: string | null;
}

export const REVIEW_STATES = ["pending_review", "approved", "skipped", "archived"] as const;
export type Review = (typeof REVIEW_STATES)[number];

export interface Clip {
  id: string;
  job_id: string | null;
  source_id: string;
  start: number;
  end: number;
  score: number;
  title: string;
  description: string;
  hashtags: string[];
  reasons: string[];
  status: string;
  version: number;
  aspect?: string | null;
  captions?: string | null;
  error: string | null;
  review: Review;
}

export interface Presigned {
  key: string;
  url: string;
  method: string;
  fields: Record<string, string>;
  expires_in: number;
}

export interface Confirmed {
  source_id: string;
  duration: number;
  width: number;
  height: number;
}

/** Jobs in these states still change on their own; the list follows them live. */
export const ACTIVE_JOB_STATES = ["created", "ingesting", "analyzing", "clips_generated", "rendering"];

export interface SearchHit {
  source_id: string;
  job_id: string | null;
  start: number;
  end: number;
  score: number;
  mode: "visual" | "transcript" | "hybrid";
  text: string;
  thumbnail_url: string;
}

export interface SearchResults {
  results: SearchHit[];
  total: number;
  page: number;
  pages: number;
  visual: "available" | "unavailable";
}

export interface Moment {
  source_id: string;
  start: number;
  end: number;
}

export interface HighlightJob {
  id: string;
  status: "pending" | "running" | "succeeded" | "failed";
  moments: Moment[];
  title: string;
  error: string | null;
  generated_clip_id: string | null;
  duration_s: number | null;
  url: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface GeneratedClip {
  id: string;
  source_id: string | null;
  candidate_id: string;
  origin: { type: "clip" | "reel" | "stream"; id: string };
  kind: "heuristic" | "llm-ranked" | "highlight-reel" | "stream";
  status: "available" | "kept" | "published" | "purged";
  title: string;
  size_bytes: number;
  duration_s: number;
  expires_at: string | null;
  expires_in_days: number | null;
  kept_at: string | null;
  published_at: string | null;
  created_at: string;
}

export const ROLES = ["viewer", "editor", "admin", "owner"] as const;

export interface Member {
  user_id: string;
  email: string;
  role: string;
}
