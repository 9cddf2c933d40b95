/** Seconds as m:ss.s, the way a player shows them. */
export function stamp(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}
