import { useState, type DragEvent, type KeyboardEvent } from "react";
import type { SearchHit } from "../../api/types";
import { moveItem, stamp } from "./stamp";

/** The picked moments in reel order: dragged to a new place (HTML5 drag and drop), or moved
 * with Alt+↑/Alt+↓ (or the ↑/↓ buttons) from the keyboard; Delete removes one. */
export function Tray({ items, onChange }: { items: SearchHit[]; onChange: (items: SearchHit[]) => void }) {
  const [dragged, setDragged] = useState<number | null>(null);
  const [over, setOver] = useState<number | null>(null);

  function move(from: number, to: number) {
    if (to < 0 || to >= items.length || from === to) return;
    onChange(moveItem(items, from, to));
  }

  function onDrop(e: DragEvent, to: number) {
    e.preventDefault();
    const from = dragged ?? Number(e.dataTransfer.getData("text/plain"));
    setDragged(null);
    setOver(null);
    if (Number.isInteger(from)) move(from, to);
  }

  function onKey(e: KeyboardEvent, i: number) {
    if (e.altKey && e.key === "ArrowUp") move(i, i - 1);
    else if (e.altKey && e.key === "ArrowDown") move(i, i + 1);
    else if (e.key === "Delete") onChange(items.filter((_, j) => j !== i));
    else return;
    e.preventDefault();
  }

  if (items.length === 0) return <p className="muted">Pick moments from the results: they line up here in reel order.</p>;
  return (
    <ol className="tray" aria-label="tray">
      {items.map((h, i) => (
        <li
          key={`${h.source_id}-${h.start}-${h.end}`}
          className={`tray-item${over === i ? " drop-target" : ""}`}
          data-testid="tray-item"
          data-moment={`${h.start}-${h.end}`}
          draggable
          tabIndex={0}
          aria-label={`part ${i + 1}: ${stamp(h.start)} to ${stamp(h.end)}; Alt+arrows move it`}
          onDragStart={(e) => {
            setDragged(i);
            e.dataTransfer.effectAllowed = "move";
            e.dataTransfer.setData("text/plain", String(i));
          }}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(i);
          }}
          onDragLeave={() => setOver(null)}
          onDrop={(e) => onDrop(e, i)}
          onDragEnd={() => {
            setDragged(null);
            setOver(null);
          }}
          onKeyDown={(e) => onKey(e, i)}
        >
          <span className="tray-handle" aria-hidden="true">
            ⠿
          </span>
          <img src={h.thumbnail_url} alt="" />
          <span className="tray-text">
            {stamp(h.start)}–{stamp(h.end)} <span className="muted">{h.text}</span>
          </span>
          <span className="tray-buttons">
            <button type="button" aria-label="move up" disabled={i === 0} onClick={() => move(i, i - 1)}>
              ↑
            </button>
            <button type="button" aria-label="move down" disabled={i === items.length - 1} onClick={() => move(i, i + 1)}>
              ↓
            </button>
            <button type="button" aria-label="remove" onClick={() => onChange(items.filter((_, j) => j !== i))}>
              ×
            </button>
          </span>
        </li>
      ))}
    </ol>
  );
}
