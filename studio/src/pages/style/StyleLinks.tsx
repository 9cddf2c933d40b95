import type { Clip } from "../../api/types";
import { href } from "../../router";
import { Downloads } from "./Downloads";

/** In the clip review: the clip's downloads and the way to its caption styler and versions. */
export function StyleLinks({ clip }: { clip: Clip }) {
  return (
    <div className="style-links">
      <Downloads clip={clip} />
      <a className="button" href={href({ page: "style", clipId: clip.id })}>
        Captions &amp; versions
      </a>
    </div>
  );
}
