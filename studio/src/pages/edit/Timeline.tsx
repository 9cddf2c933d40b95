/** The source from end to end: its clips between cut points, the cuts (buttons: focus or
 * click one to select it), and the playhead at the current frame. Clicking the bar seeks. */
export function Timeline({
  frameCount,
  cuts,
  frame,
  selected,
  onSeek,
  onSelect,
}: {
  frameCount: number;
  cuts: number[];
  frame: number;
  selected: number | null;
  onSeek: (frame: number) => void;
  onSelect: (cut: number) => void;
}) {
  const pct = (f: number) => `${(100 * f) / Math.max(1, frameCount)}%`;
  const bounds = [0, ...cuts, frameCount];
  return (
    <div
      className="timeline"
      data-testid="timeline"
      onClick={(e) => {
        const box = e.currentTarget.getBoundingClientRect();
        onSeek(Math.floor(((e.clientX - box.left) / box.width) * frameCount));
      }}
    >
      {bounds.slice(0, -1).map((start, i) => (
        <div key={start} className="segment" style={{ left: pct(start), width: pct(bounds[i + 1] - start) }} />
      ))}
      {cuts.map((c) => (
        <button
          key={c}
          type="button"
          className="cut"
          style={{ left: pct(c) }}
          aria-label={`cut at frame ${c}`}
          aria-pressed={c === selected}
          onClick={(e) => {
            e.stopPropagation();
            onSelect(c);
          }}
        />
      ))}
      <div className="playhead" style={{ left: pct(frame) }} />
    </div>
  );
}
