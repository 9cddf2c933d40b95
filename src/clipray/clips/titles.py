"""A clip's words for people: its title, its hashtags, its first sentence (pure).

    >>> title_and_hashtags("Ask not what your country can do for you. Ask what you can do.")
    ('Ask not what your country can do for you', ('#ask', '#country'))
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

TITLE_MAX_CHARS = 60
"""Titles fit a short-video caption line and a search-result row without being cut."""

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")
_CLOSERS = "\"')]"
_TAG_WORD = re.compile(r"[^\W\d_]{3,}")
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are around as at back be
    because been before being below between both but by can cannot could did do does doing
    done down during each even ever every few for from further get gets getting go goes going
    gonna got had has have having he her here hers herself him himself his how however i if
    in into is it its itself just know let like lot made make many may me might more most
    much must my myself need no nor not now of off okay on once one only or other our ours
    ourselves out over own really right said same say says see she should since so some
    something still such sure take than that the their theirs them themselves then there these
    they thing things think this those though through thus to too two under until up upon us
    very want wanna was way we well were what when where whether which while who whom whose
    why will with without would yeah yes yet you your yours yourself yourselves dont doesnt
    didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt ive youve weve theyve
    im youre were theyre hes shes its thats theres whats lets ill youll well theyll id youd
    hed shed wed theyd anything anyone everything everyone nothing someone somebody
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, marked with ``…``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def first_sentence(text: str) -> str:
    """The text up to its first ``.``, ``!`` or ``?`` followed by a space (closing quotes
    kept): what a viewer hears in the first seconds, the hook and the title."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def title_and_hashtags(text: str, max_tags: int = 3) -> tuple[str, tuple[str, ...]]:
    """A title and hashtags for a clip's transcript.

    Returns:
        The first sentence, without a closing full stop and trimmed to ``TITLE_MAX_CHARS``
        at a word boundary; and up to ``max_tags`` hashtags (``"#word"``) from the most
        frequent words that are not stopwords, ties going to the word said first.
    """
    title = first_sentence(text)
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]
    title = shorten(title, TITLE_MAX_CHARS)
    folded = unicodedata.normalize("NFKC", text).casefold().replace("'", "").replace("\u2019", "")
    words = [w for w in _TAG_WORD.findall(folded) if w not in _STOPWORDS]
    counts = Counter(words)
    first_seen = {w: i for i, w in reversed(list(enumerate(words)))}
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return title, tuple(f"#{w}" for w in ranked[:max_tags])
