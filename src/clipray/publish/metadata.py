"""Fitting what the user wrote (title, description, hashtags) to each platform's limits:
pure, table-driven, so the rules of all five platforms read side by side.

Each platform counts length its own way: YouTube's description in UTF-8 bytes, TikTok's
caption in UTF-16 code units, X in weighted characters (CJK and emoji weigh 2, a URL 23:
twitter-text's v3 configuration), the others in characters. Text is cut at a character
boundary a person sees (never inside an emoji sequence, a flag or an accented letter) with an
ellipsis; hashtags are kept whole, normalised (``#`` + letters, digits, underscores) and
dropped from the end when they do not fit or exceed the platform's count.

    fit("x", PostMetadata(title="Launch", description="...", hashtags=("ai", "clips")))
    # Fitted(title='', text='Launch\\n\\n...\\n\\n#ai #clips', hashtags=('#ai', '#clips'))
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from clipray.publish.base import PostMetadata, UnknownPlatform

Unit = Literal["chars", "bytes", "utf16", "weighted"]
ELLIPSIS = "…"


@dataclass(frozen=True)
class Limits:
    """One platform's rules for a post's text."""

    title_max: int | None
    """Length of the separate title field (None: the platform has none; the title leads the
    text instead)."""
    text_max: int
    """Length of the caption, description or post text."""
    unit: Unit
    """How both lengths are counted."""
    max_hashtags: int | None
    """Hashtags the platform honours (more are dropped; None: no count limit)."""
    forbidden: str = ""
    """Characters the platform refuses in the text fields (removed)."""
    escape: str = ""
    """Characters the platform reserves for its markup (backslash-escaped)."""
    hashtag_template: str = "#{tag}"
    """How a hashtag is written into the text."""


LIMITS: dict[str, Limits] = {
    # YouTube Data API videos.insert: title <= 100 characters, description <= 5000 bytes, no
    # '<' or '>' in either; more than 15 hashtags make YouTube ignore them all.
    "youtube": Limits(title_max=100, text_max=5000, unit="bytes", max_hashtags=15,
                      forbidden="<>"),
    # TikTok Content Posting API post_info.title (the caption): <= 2200 UTF-16 runes.
    "tiktok": Limits(title_max=None, text_max=2200, unit="utf16", max_hashtags=None),
    # Instagram Graph API media caption: <= 2200 characters, <= 30 hashtags.
    "instagram": Limits(title_max=None, text_max=2200, unit="chars", max_hashtags=30),
    # X posts: 280 weighted characters.
    "x": Limits(title_max=None, text_max=280, unit="weighted", max_hashtags=None),
    # LinkedIn Posts API: commentary <= 3000 characters in the "little text" format, whose
    # reserved characters are escaped and whose hashtags are a template; the video's title
    # (content.media.title) is short.
    "linkedin": Limits(title_max=200, text_max=3000, unit="chars", max_hashtags=None,
                       escape="\\|{}@[]()<>#*_~", hashtag_template="{{hashtag|\\#|{tag}}}"),
}


@dataclass(frozen=True)
class Fitted:
    title: str
    """The separate title field ('' where the platform has none)."""
    text: str
    """The caption / description / post text, hashtags included, within the limit."""
    hashtags: tuple[str, ...]
    """The hashtags kept, as ``#tag``."""


# --- measuring -------------------------------------------------------------------------------
_URL = re.compile(r"https?://\S+")
_WEIGHT_1 = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
"""twitter-text v3: code points in these ranges weigh 1, all others 2."""


def _x_weight(text: str) -> int:
    total = 0
    for part in _URL.split(text):
        for cluster in clusters(part):
            cp = ord(cluster[0])
            if len(cluster) > 1 and _is_emoji_cluster(cluster):
                total += 2
            else:
                light = any(lo <= cp <= hi for lo, hi in _WEIGHT_1)
                total += 1 if light else 2
                total += sum(0 if _joins(c) else 1 for c in cluster[1:])
    return total + 23 * len(_URL.findall(text))


def measure(text: str, unit: Unit) -> int:
    """The length of ``text`` as the platform counts it."""
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if unit == "weighted":
        return _x_weight(text)
    return len(text)


# --- cutting at boundaries a person sees -----------------------------------------------------
def _joins(c: str) -> bool:
    """Whether ``c`` belongs to the character before it (combining mark, variation selector,
    zero-width joiner, skin tone, emoji tag)."""
    cp = ord(c)
    return (unicodedata.combining(c) != 0 or 0xFE00 <= cp <= 0xFE0F or cp == 0x200D
            or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F
            or unicodedata.category(c) == "Me")


def _regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def _is_emoji_cluster(cluster: str) -> bool:
    return ord(cluster[0]) >= 0x2000 and any(_joins(c) or _regional(c) for c in cluster[1:])


def clusters(text: str) -> list[str]:
    """``text`` split into what a reader sees as one character: a base with its combining
    marks, an emoji ZWJ sequence with its modifiers, a flag (two regional indicators)."""
    out: list[str] = []
    for c in text:
        if out and (
            _joins(c)
            or out[-1][-1] == "\u200d"
            or (_regional(c) and len(out[-1]) == 1 and _regional(out[-1]))
        ):
            out[-1] += c
        else:
            out.append(c)
    return out


def truncate(text: str, limit: int, unit: Unit) -> str:
    """``text`` cut to ``limit`` at a cluster boundary, with an ellipsis when cut."""
    if measure(text, unit) <= limit:
        return text
    return _cut(clusters(text), limit, unit, lambda s: s)


def _cut(parts: list[str], limit: int, unit: Unit, render: Callable[[str], str]) -> str:
    """The longest prefix of ``parts`` whose rendering plus an ellipsis fits ``limit``
    (lengths summed per cluster, then checked once on the whole)."""
    budget = limit - measure(ELLIPSIS, unit)
    kept: list[str] = []
    total = 0
    for part in parts:
        w = measure(render(part), unit)
        if total + w > budget:
            break
        kept.append(part)
        total += w
    while kept and measure(render("".join(kept).rstrip()) + ELLIPSIS, unit) > limit:
        kept.pop()
    if budget <= 0:
        return ""
    return render("".join(kept).rstrip()) + ELLIPSIS


# --- cleaning --------------------------------------------------------------------------------
def clean(text: str, limits: Limits) -> str:
    """Control characters (but newlines and tabs) and the platform's forbidden characters
    removed, Unicode composed (NFC) so that lengths count what the platform counts."""
    text = unicodedata.normalize("NFC", text)
    keep = [c for c in text if c not in limits.forbidden
            and (c in "\n\t" or unicodedata.category(c) != "Cc")]
    return "".join(keep).strip()


def hashtag(raw: str) -> str | None:
    """``#tag`` from what the user typed ('#My Tag!' -> '#MyTag'); None when nothing of it is
    a letter (platforms do not link an all-digit tag)."""
    body = "".join(c for c in unicodedata.normalize("NFC", raw) if c.isalnum() or c == "_")
    return f"#{body}" if any(c.isalpha() for c in body) else None


def _escape(text: str, reserved: str) -> str:
    return "".join(f"\\{c}" if c in reserved else c for c in text)


# --- the one entry point ---------------------------------------------------------------------
def fit(platform: str, meta: PostMetadata) -> Fitted:
    """The post's text for ``platform``, within its limits."""
    limits = LIMITS.get(platform)
    if limits is None:
        raise UnknownPlatform(platform)
    title = clean(meta.title, limits)
    description = clean(meta.description, limits)
    tags: list[str] = []
    for raw in meta.hashtags:
        tag = hashtag(raw)
        if tag and tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    if limits.max_hashtags is not None:
        tags = tags[: limits.max_hashtags]

    def render_tags(kept: list[str]) -> str:
        return " ".join(limits.hashtag_template.format(tag=t[1:]) for t in kept)

    if limits.title_max is not None:
        title = truncate(title, limits.title_max, limits.unit)
        body = description
    else:
        body = "\n\n".join(p for p in (title, description) if p)
        title = ""
    # The hashtags keep their room unless they alone would take over half the text.
    while tags and measure(render_tags(tags), limits.unit) + 2 > limits.text_max // 2:
        tags.pop()
    tail = render_tags(tags)
    room = limits.text_max - (measure(tail, limits.unit) + 2 if tail else 0)
    # Only the text is markup; the title field is plain.
    body = _fit_escaped(body, room, limits) if limits.escape else truncate(body, room, limits.unit)
    text = "\n\n".join(p for p in (body, tail) if p)
    return Fitted(title=title, text=text, hashtags=tuple(tags))


def _fit_escaped(body: str, room: int, limits: Limits) -> str:
    """Cut so that the escaped text fits (escaping adds a backslash per reserved char)."""
    out = _escape(body, limits.escape)
    if measure(out, limits.unit) <= room:
        return out
    return _cut(clusters(body), room, limits.unit, lambda s: _escape(s, limits.escape))
