// The stream API's shapes as the studio reads them (serve/schemas/streams.py).

export interface StreamMonitor {
  id: string;
  status: string;
  url: string | null;
  push: boolean;
  settings: Record<string, unknown>;
  last_seen_at: string | null;
  last_error: string | null;
  clips_generated: number;
  created_at: string;
  stopped_at: string | null;
}

export interface StreamCreated {
  id: string;
  status: string;
  ingest_url: string | null;
}

export interface StreamEvent {
  kind: string;
  t_start?: number;
  t_end?: number;
  strength?: number;
  score?: number;
  detail?: unknown;
}

export interface StreamClip {
  id: string;
  title: string | null;
  duration_s: number;
  status: string;
  stream_start: number;
  stream_end: number;
  events: StreamEvent[];
  available_at: string;
  latency_s: number | null;
  download_url: string;
}

export interface StreamHealth {
  status: string;
  measured_at: string | null;
  stream_time_s: number | null;
  buffer_seconds: number | null;
  ingest_lag_s: number | null;
  transcript_lag_s: number | null;
  latency_p50_s: number | null;
  latency_p95_s: number | null;
  latency_clips: number;
}

/** One message of `WS /ws/stream/{id}`: every one has `type`, `seq` and `at`. */
export interface FeedMessage {
  type: string;
  seq?: number;
  at?: string;
  kind?: string;
  t_start?: number;
  t_end?: number;
  strength?: number;
  id?: string;
  stream_start?: number;
  stream_end?: number;
  score?: number;
  kinds?: string[];
  status?: string;
  error?: unknown;
}

export const RUNNING = ["idle", "connecting", "active"];

export function secs(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : `${v.toFixed(1)} s`;
}
