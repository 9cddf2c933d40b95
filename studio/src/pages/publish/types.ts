// The publishing API's shapes as the studio reads them (serve/schemas/publications.py,
// connections.py, publish_analytics.py).

export const PLATFORMS = ["youtube", "tiktok", "instagram", "x", "linkedin"] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface ConnectedAccount {
  id: string;
  platform: Platform;
  platform_account_id: string;
  name: string;
  status: "active" | "needs_reconnect" | "revoked";
}

export interface Publication {
  id: string;
  clip_id: string;
  clip_kind: "clip" | "generated";
  account_id: string | null;
  platform: Platform;
  status: string;
  url: string | null;
  error: { code: string; message: string } | null;
  metadata: { title?: string; description?: string; hashtags?: string[] };
  scheduled_at: string | null;
  published_at: string | null;
  created_at: string;
  requested_by: string | null;
  decided_by: string | null;
}

export interface CalendarDay {
  date: string;
  publications: Publication[];
}

export interface Calendar {
  from: string;
  to: string;
  days: CalendarDay[];
}

export interface PublicationStats {
  publication_id: string;
  clip_id: string;
  platform: Platform;
  url: string | null;
  published_at: string | null;
  views: number;
  likes: number;
  comments: number;
  stats_at: string | null;
}

export interface Analytics {
  data: PublicationStats[];
  total: number;
  totals: { platform: Platform; publications: number; views: number; likes: number; comments: number }[];
}

/** A clip that can be published: a rendered clip or a generated one. */
export interface Publishable {
  id: string;
  title: string | null;
  kind: "clip" | "generated";
}

export const ADMIN_ROLES = ["owner", "admin"];

export function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}
