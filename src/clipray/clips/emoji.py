"""Emoji for caption words, from a built-in dictionary.

Short-form captions often carry an emoji after a word that has an obvious picture
("money" -> 💰). The dictionary below maps keywords (base forms) to one emoji; a caption
word matches case-insensitively, without its punctuation, as written or through a simple
plural, ``-ing`` or ``-ed`` form ("burning" -> "burn", "parties" -> "party"). The caption
builder (``clips/captions.py``) asks :func:`pick` which words of a page get one: at most
one per caption line and one per :data:`MIN_GAP` seconds, so the captions stay readable.

    >>> emoji_for("MONEY!")
    '💰'
    >>> emoji_for("laughing")
    '😂'
    >>> emoji_for("table") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

MIN_GAP = 2.0
"""Seconds between two emoji's words: one every couple of seconds reads as emphasis, more
reads as noise."""

_TABLE: dict[str, tuple[str, ...]] = {
    "💰": ("money", "cash", "dollar", "rich", "wealth", "salary", "paid", "pay", "income",
          "profit", "revenue", "price", "expensive", "invest", "investment", "budget"),
    "🔥": ("fire", "hot", "burn", "flame", "lit", "spicy", "viral", "heat"),
    "❤": ("love", "heart", "lovely", "romance", "adore", "crush"),
    "😂": ("laugh", "funny", "lol", "joke", "hilarious", "lmao", "haha", "comedy"),
    "🧠": ("brain", "think", "mind", "smart", "idea", "genius", "intelligent", "learn",
          "clever", "thought", "memory"),
    "⏰": ("time", "clock", "hour", "minute", "late", "deadline", "schedule", "alarm",
          "morning"),
    "🚀": ("rocket", "launch", "grow", "growth", "fast", "boost", "scale", "skyrocket",
          "startup", "speed"),
    "💪": ("strong", "strength", "muscle", "power", "powerful", "gym", "workout", "fitness",
          "tough", "effort"),
    "🎯": ("goal", "target", "focus", "aim", "exactly", "precise", "accurate", "mission"),
    "💡": ("insight", "lightbulb", "tip", "trick", "hack", "solution", "realize", "discover"),
    "📈": ("increase", "rise", "chart", "gain", "improve", "better", "stock", "market"),
    "📉": ("decrease", "drop", "fall", "crash", "decline", "lose", "loss"),
    "😱": ("shock", "shocking", "scary", "scared", "fear", "afraid", "terrify", "horror",
          "insane", "crazy", "omg", "wow"),
    "😴": ("sleep", "tired", "bed", "nap", "asleep", "bored", "boring", "rest", "dream"),
    "☕": ("coffee", "caffeine", "espresso", "tea", "latte"),
    "🍕": ("pizza", "food", "eat", "hungry", "meal", "lunch", "dinner", "breakfast", "snack"),
    "🎉": ("party", "celebrate", "celebration", "congratulation", "congrats", "birthday",
          "win", "winner", "victory"),
    "🏆": ("champion", "trophy", "best", "award", "prize", "success", "successful"),
    "💀": ("dead", "die", "death", "kill", "skull", "dying"),
    "👀": ("look", "watch", "eye", "notice", "view", "stare", "observe"),
    "👂": ("hear", "listen", "ear", "sound"),
    "🗣": ("talk", "speak", "tell", "voice", "conversation", "shout"),
    "🤔": ("wonder", "question", "why", "confuse", "confused", "hmm", "curious", "puzzle"),
    "🤯": ("mindblowing", "blow", "explode", "unbelievable", "incredible", "amaze",
          "amazing"),
    "😍": ("beautiful", "gorgeous", "pretty", "cute", "stunning", "perfect"),
    "😡": ("angry", "mad", "hate", "furious", "rage", "annoy", "annoying"),
    "😢": ("sad", "cry", "tear", "upset", "depress", "depressed", "lonely", "heartbreak"),
    "😊": ("happy", "smile", "glad", "joy", "pleased", "grateful", "thank", "thanks"),
    "😎": ("cool", "awesome", "confident", "chill", "sunglasses"),
    "🙏": ("please", "pray", "hope", "bless", "gratitude", "appreciate"),
    "👍": ("good", "great", "agree", "okay", "ok", "approve"),
    "👎": ("bad", "disagree", "dislike", "wrong", "terrible", "awful"),
    "✅": ("done", "correct", "check", "complete", "finish", "true"),
    "❌": ("false", "mistake", "error", "fail", "failure", "never", "stop", "avoid"),
    "⚠": ("warning", "careful", "danger", "dangerous", "risk", "risky", "caution", "alert"),
    "🔑": ("key", "secret", "unlock", "important", "essential", "crucial"),
    "📱": ("phone", "mobile", "app", "smartphone", "iphone", "android"),
    "💻": ("computer", "laptop", "code", "coding", "software", "program", "programmer",
          "developer", "tech", "technology"),
    "🤖": ("robot", "ai", "automation", "automate", "bot", "machine"),
    "📚": ("book", "read", "study", "school", "education", "library", "reading"),
    "🎓": ("college", "university", "graduate", "degree", "student", "teacher", "class"),
    "✍": ("write", "writing", "author", "note", "sign"),
    "🎵": ("music", "song", "sing", "melody", "beat", "rhythm", "tune"),
    "🎸": ("guitar", "band", "rock", "concert"),
    "🎮": ("game", "gaming", "gamer", "play", "player", "console"),
    "⚽": ("football", "soccer", "goalkeeper"),
    "🏀": ("basketball", "nba"),
    "🏃": ("run", "runner", "race", "marathon", "jog", "sprint", "hurry", "rush"),
    "✈": ("plane", "fly", "flight", "travel", "trip", "airport", "vacation", "holiday"),
    "🚗": ("car", "drive", "driver", "road", "traffic"),
    "🏠": ("home", "house", "family", "apartment", "rent"),
    "🌍": ("world", "earth", "planet", "global", "country", "international"),
    "☀": ("sun", "sunny", "summer", "bright"),
    "🌙": ("night", "moon", "evening", "midnight", "tonight"),
    "🌧": ("rain", "storm", "weather", "cloud", "wet"),
    "❄": ("cold", "snow", "winter", "ice", "freeze", "frozen"),
    "🌱": ("plant", "seed", "nature", "green", "garden", "environment", "sustainable"),
    "🐶": ("dog", "puppy", "pet"),
    "🐱": ("cat", "kitten"),
    "💧": ("water", "drink", "hydrate", "thirsty"),
    "🍷": ("wine", "alcohol", "beer", "drunk", "cheer"),
    "💊": ("medicine", "pill", "drug", "doctor", "health", "healthy", "sick", "hospital"),
    "🏋": ("lift", "weight", "exercise", "train", "training"),
    "🧘": ("calm", "relax", "meditate", "meditation", "yoga", "breathe", "peace"),
    "💼": ("job", "work", "career", "business", "office", "boss", "company", "employee",
          "meeting", "hire"),
    "🤝": ("deal", "partner", "partnership", "team", "together", "collaborate", "trust"),
    "📢": ("announce", "announcement", "news", "attention"),
    "🎁": ("gift", "present", "free", "bonus", "giveaway", "surprise"),
    "🛒": ("buy", "shop", "shopping", "store", "purchase", "sale", "sell", "customer"),
    "💳": ("credit", "card", "debt", "bank", "loan"),
    "📸": ("photo", "picture", "camera", "selfie", "instagram"),
    "🎬": ("movie", "film", "video", "scene", "director", "cinema", "youtube"),
    "⭐": ("star", "famous", "celebrity", "favorite", "favourite", "rating"),
    "💎": ("diamond", "gem", "valuable", "luxury", "premium", "rare"),
    "👑": ("king", "queen", "royal", "crown", "boss"),
    "🔒": ("lock", "security", "secure", "safe", "private", "privacy", "password"),
    "🔍": ("search", "find", "research", "investigate", "detail", "explore"),
    "📝": ("plan", "list", "checklist", "step", "guide", "tutorial"),
    "🧩": ("problem", "solve", "piece", "complex"),
    "⚡": ("energy", "electric", "quick", "instant", "lightning", "shock"),
    "🌊": ("wave", "ocean", "sea", "beach", "surf"),
    "⛰": ("mountain", "climb", "hike", "challenge", "peak"),
    "👶": ("baby", "kid", "child", "children", "toddler"),
    "👪": ("parent", "mom", "dad", "mother", "father"),
    "💔": ("breakup", "divorce", "broken", "heartbroken"),
    "💍": ("marry", "married", "wedding", "engage", "engaged", "ring"),
    "🤫": ("quiet", "silent", "silence", "shh", "hush"),
    "🙌": ("finally", "amen", "hooray", "yay", "praise"),
    "💯": ("hundred", "totally", "absolutely", "definitely", "literally", "honest"),
    "🤑": ("millionaire", "billionaire", "fortune"),
    "🧊": ("chill", "frosty"),
    "🍀": ("luck", "lucky", "chance", "fortunate"),
    "🎲": ("random", "gamble", "bet", "dice"),
    "🗓": ("calendar", "date", "week", "month", "year", "today", "tomorrow", "yesterday"),
    "🔔": ("subscribe", "notification", "bell", "remind", "reminder"),
    "🔁": ("repeat", "again", "habit", "routine", "loop"),
    "🛑": ("quit", "halt", "pause", "enough"),
    "🤷": ("whatever", "dunno", "maybe", "unsure", "perhaps"),
}
"""Emoji -> the keywords that call for it. Kept as a readable table; :func:`_index` turns
it into the lookup (the first emoji listing a word wins). Each emoji is one code point,
without a variation selector or joiner sequence: libass draws a glyph per code point from
an outline font, and a selector it cannot place would be an empty box."""

_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


@cache
def _index() -> dict[str, str]:
    out: dict[str, str] = {}
    for emoji, words in _TABLE.items():
        for w in words:
            out.setdefault(w, emoji)
    return out


def _forms(word: str) -> list[str]:
    """``word`` and the base forms it may be a plural, ``-ing`` or ``-ed`` form of."""
    forms = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"),
                         ("ed", ""), ("ed", "e"), ("ied", "y")):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + repl
            forms.append(stem)
            if repl == "" and len(stem) > 3 and stem[-1] == stem[-2]:  # running -> run
                forms.append(stem[:-1])
    return forms


def emoji_for(word: str) -> str | None:
    """The emoji of a caption word, or None: case-insensitive, punctuation stripped,
    simple plural and ``-ing``/``-ed`` forms matched to the dictionary's base forms."""
    key = _PUNCT.sub("", word.strip().lower().replace("\u2019", "'"))
    key = key.removesuffix("'s")
    if not key:
        return None
    index = _index()
    return next((index[f] for f in _forms(key) if f in index), None)


def pick(lines: Sequence[Sequence[tuple[float, str]]], last: float | None = None,
         gap: float = MIN_GAP) -> tuple[dict[tuple[int, int], str], float | None]:  # fmt: skip
    """Which words get an emoji: ``lines`` are caption lines of ``(start seconds, text)``
    words in time order; at most one emoji per line, the first matching word of a line
    at least ``gap`` seconds after the previous emoji (``last``: the previous emoji's
    start, None: none yet).

    Returns ``{(line, word): emoji}`` and the start of the last emoji placed (to carry
    into the next call)."""
    out: dict[tuple[int, int], str] = {}
    for n, line in enumerate(lines):
        for k, (start, text) in enumerate(line):
            if last is not None and start - last < gap - 1e-9:
                continue
            emoji = emoji_for(text)
            if emoji is not None:
                out[(n, k)] = emoji
                last = start
                break
    return out, last


__all__ = ["MIN_GAP", "emoji_for", "pick"]
