// The live feed of one stream over its WebSocket (`WS /ws/stream/{id}`). A browser cannot
// set Authorization on a WebSocket, so the access token travels as the subprotocols
// `bearer, <token>`; after a drop (or `token_expired`) a cheap API call refreshes the token
// and the feed reconnects with `?after=` the last seq seen, so nothing repeats or is lost.

import { api } from "../../api/client";
import type { FeedMessage } from "./types";

const RETRY_MS = 2_000;

/** Follow stream `id` until the returned function is called or the feed ends. */
export function followStream(
  id: string,
  workspaceId: string,
  onMessage: (m: FeedMessage) => void,
  onState: (connected: boolean) => void,
): () => void {
  let after = -1;
  let closed = false;
  let socket: WebSocket | null = null;
  let timer: number | undefined;

  const connect = () => {
    const token = api.accessToken;
    if (closed || !token) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ workspace_id: workspaceId });
    if (after >= 0) query.set("after", String(after));
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/stream/${encodeURIComponent(id)}?${query}`, ["bearer", token]);
    socket.onopen = () => onState(true);
    socket.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as FeedMessage;
      if (typeof m.seq === "number") after = Math.max(after, m.seq);
      if (m.type === "end") closed = true;
      onMessage(m);
    };
    socket.onclose = () => {
      onState(false);
      if (closed) return;
      // A GET through the client refreshes a lapsed token before the next try.
      timer = window.setTimeout(() => {
        api.get(`/api/streams/${encodeURIComponent(id)}`).then(connect, () => (timer = window.setTimeout(connect, RETRY_MS)));
      }, RETRY_MS);
    };
  };
  connect();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    // Closing a socket still connecting logs an error in the console: close it once open.
    if (socket?.readyState === WebSocket.CONNECTING) socket.onopen = () => socket?.close();
    else socket?.close();
  };
}
