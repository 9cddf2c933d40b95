/** Search by an example picture: what the studio sends as `image` in POST /api/search. */

/** The picture types the API decodes; others are sent anyway and refused by the server
 * (415 IMAGE_TYPE_UNSUPPORTED), so the code shown is the API's own. */
export const PICTURE_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;

/** Largest file sent as it is: base64 adds a third, and the API's request body limit is
 * 1 MiB by default (CLIPRAY_MAX_REQUEST_BYTES). Larger pictures (a phone's photo) are
 * scaled down first: the server scales every picture to 256 pixels across anyway. */
export const SEND_AS_IS_BYTES = 600_000;

/** Longer side of a picture scaled down before sending. */
export const SHRINK_TO = 1024;

/** (width, height) scaled so that the longer side is at most `max`; never enlarged. */
export function fitWithin(width: number, height: number, max: number): [number, number] {
  const longer = Math.max(width, height);
  if (longer <= max || longer <= 0) return [width, height];
  const f = max / longer;
  return [Math.max(1, Math.round(width * f)), Math.max(1, Math.round(height * f))];
}

/** Standard base64 (RFC 4648, padded) of `bytes`, in chunks: spreading a megabyte into one
 * String.fromCharCode call would overflow the call stack. */
export function base64Of(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export type Mode = "hybrid" | "transcript" | "visual";

/** The body of POST /api/search: words in a mode, or a picture (its mode left out: the
 * server searches frames, the one thing a picture can be compared with). */
export function searchBody(query: string, mode: Mode, image: string | null, limit: number) {
  return image === null ? { query, mode, limit } : { image, limit };
}
