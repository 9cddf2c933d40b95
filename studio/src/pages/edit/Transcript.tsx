import { useEffect, useMemo, useState } from "react";
import type { Transcript as TranscriptData, Word } from "../../api/edit";

/** The index of the word spoken at `t` (start <= t < end), or -1; words are in spoken order. */
export function wordAt(words: Word[], t: number): number {
  let lo = 0;
  let hi = words.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (t < words[mid].start) hi = mid - 1;
    else if (t >= words[mid].end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/**
 * What was said, word by word, following a player: the word being spoken is highlighted as
 * it plays (each animation frame while playing, so short words are not skipped as they would
 * be with `timeupdate`'s four calls a second), and clicking a word (or Enter on it) seeks the
 * player to the word's start.
 */
export function Transcript({ data, player, offset = 0 }: { data: TranscriptData; player: HTMLVideoElement | null; offset?: number }) {
  const words = useMemo(() => data.segments.flatMap((s) => s.words), [data]);
  const [current, setCurrent] = useState(-1);

  useEffect(() => {
    const video = player;
    if (!video) return;
    let raf = 0;
    const update = () => setCurrent(wordAt(words, video.currentTime + offset));
    const loop = () => {
      update();
      if (!video.paused) raf = requestAnimationFrame(loop);
    };
    const onPlay = () => {
      cancelAnimationFrame(raf);
      raf = requestAnimationFrame(loop);
    };
    video.addEventListener("play", onPlay);
    video.addEventListener("seeked", update);
    video.addEventListener("timeupdate", update);
    update();
    return () => {
      cancelAnimationFrame(raf);
      video.removeEventListener("play", onPlay);
      video.removeEventListener("seeked", update);
      video.removeEventListener("timeupdate", update);
    };
  }, [player, words, offset]);

  if (!words.length) return <p className="muted">Nothing was said in this video.</p>;
  return (
    <p className="transcript" aria-label="transcript" data-testid="transcript">
      {words.map((w, i) => (
        <button
          key={i}
          type="button"
          className="word"
          data-start={w.start}
          aria-current={i === current ? "true" : undefined}
          title={`${w.start.toFixed(2)} s`}
          onClick={() => {
            if (player) player.currentTime = Math.max(0, w.start - offset);
          }}
        >
          {w.word.trim()}
        </button>
      ))}
    </p>
  );
}
