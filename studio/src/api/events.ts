// Server-sent events read with fetch() streaming: EventSource cannot send the Authorization
// header, so the job's stream (GET /api/jobs/{id}/events) is parsed here.

import type { ApiClient } from "./client";

export interface ServerEvent {
  event: string;
  data: unknown;
}

/** Split an SSE byte stream into events; comment lines (keep-alives) are skipped. */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];

  feed(chunk: string): ServerEvent[] {
    this.buffer += chunk;
    const out: ServerEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      if (line === "") {
        if (this.data.length) out.push({ event: this.event || "message", data: JSON.parse(this.data.join("\n")) });
        this.event = "";
        this.data = [];
      } else if (line.startsWith("event:")) {
        this.event = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        this.data.push(line.slice(5).trimStart());
      }
    }
    return out;
  }
}

/** Follow `path` until the server ends the stream or `signal` aborts; resolves then. */
export async function follow(
  client: ApiClient,
  path: string,
  onEvent: (e: ServerEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const resp = await client.send("GET", path, { signal });
  if (!resp.body) return;
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const e of parser.feed(value)) onEvent(e);
    }
  } finally {
    reader.releaseLock();
  }
}
