"""Fitting a post's text to each platform's limits: golden cases (emoji, CJK, an over-long
input, forbidden and reserved characters, hashtags) and the invariant that every result is
within its platform's limit, counted the platform's way."""

from __future__ import annotations

import pytest

from clipray.publish.base import PLATFORMS, PostMetadata, UnknownPlatform
from clipray.publish.metadata import ELLIPSIS, LIMITS, clusters, fit, hashtag, measure, truncate

pytestmark = pytest.mark.unit

FAMILY = "👨‍👩‍👧"  # one emoji of five code points
FLAG = "🇯🇵"  # two regional indicators


@pytest.mark.parametrize(("text", "unit", "length"), [
    pytest.param("abc", "chars", 3, id="ascii"),
    pytest.param("日本語", "bytes", 9, id="cjk-utf8-bytes"),
    pytest.param("😀a", "utf16", 3, id="emoji-utf16-surrogate-pair"),
    pytest.param("日本語", "weighted", 6, id="x-cjk-weighs-2"),
    pytest.param(f"{FAMILY} ok", "weighted", 5, id="x-zwj-emoji-weighs-2"),
    pytest.param("see https://example.com/a/very/long/path/that/goes/on", "weighted", 27,
                 id="x-url-weighs-23"),
    pytest.param("café", "weighted", 4, id="x-latin-weighs-1"),
])
def test_measure_counts_the_platforms_way(text: str, unit: str, length: int) -> None:
    assert measure(text, unit) == length  # type: ignore[arg-type]


def test_clusters_keep_what_a_reader_sees_as_one_character() -> None:
    assert clusters(f"a{FAMILY}{FLAG}e\u0301👍🏽") == ["a", FAMILY, FLAG, "e\u0301", "👍🏽"]


@pytest.mark.parametrize(("text", "limit", "unit", "expected"), [
    pytest.param("hello world", 100, "chars", "hello world", id="fits-untouched"),
    pytest.param("hello world", 8, "chars", "hello w…", id="ascii-cut"),
    pytest.param("hello world", 6, "chars", "hello…", id="trailing-space-dropped"),
    pytest.param(f"ab{FAMILY}cd", 4, "chars", "ab…", id="never-splits-a-zwj-emoji"),
    pytest.param(f"ab{FLAG}", 3, "utf16", "ab…", id="never-splits-a-flag"),
    pytest.param("日本語のテキスト", 12, "bytes", "日本語…", id="cjk-bytes"),
    pytest.param("日本語のテキスト", 7, "weighted", "日本…", id="cjk-weighted"),
])
def test_truncate_cuts_at_a_visible_boundary(text: str, limit: int, unit: str,
                                             expected: str) -> None:
    out = truncate(text, limit, unit)  # type: ignore[arg-type]
    assert out == expected
    assert measure(out, unit) <= limit  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "tag"), [
    pytest.param("clipray", "#clipray", id="bare"),
    pytest.param("#My Tag!", "#MyTag", id="spaces-and-punctuation"),
    pytest.param("日本", "#日本", id="cjk"),
    pytest.param("2026", None, id="all-digits"),
    pytest.param("🚀", None, id="emoji-only"),
    pytest.param("snake_case", "#snake_case", id="underscore"),
])
def test_hashtag_normalisation(raw: str, tag: str | None) -> None:
    assert hashtag(raw) == tag


GOLDEN = [
    pytest.param("youtube", PostMetadata(title="<b>Launch</b> day 🚀", description="Notes > 1",
                                         hashtags=("ai", "#AI", "clips")),
                 "bLaunch/b day 🚀", "Notes  1\n\n#ai #clips", id="youtube/forbidden-and-dupes"),
    pytest.param("tiktok", PostMetadata(title="新しい動画", description="見てね 👀",
                                        hashtags=("日本",)),
                 "", "新しい動画\n\n見てね 👀\n\n#日本", id="tiktok/cjk-emoji"),
    pytest.param("instagram",
                 PostMetadata(title="Reel", hashtags=tuple(f"t{i}" for i in range(40))),
                 "", "Reel\n\n" + " ".join(f"#t{i}" for i in range(30)), id="instagram/30-tags"),
    pytest.param("x", PostMetadata(title="Hi", description="there\x00\x07"),
                 "", "Hi\n\nthere", id="x/control-chars-removed"),
    pytest.param("linkedin", PostMetadata(title="Q&A (live)", description="a_b *c* @d #e",
                                          hashtags=("news",)),
                 "Q&A (live)", "a\\_b \\*c\\* \\@d \\#e\n\n{hashtag|\\#|news}",
                 id="linkedin/little-text-escaped"),
]


@pytest.mark.parametrize(("platform", "meta", "title", "text"), GOLDEN)
def test_golden(platform: str, meta: PostMetadata, title: str, text: str) -> None:
    fitted = fit(platform, meta)
    assert fitted.title == title
    assert fitted.text == text


LONG = PostMetadata(title="タイトル " + "🚀" * 80 + " title that goes on and on " * 10,
                    description=("字幕のテキスト 👨‍👩‍👧 " * 900),
                    hashtags=("clipray", "日本", "launch"))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_over_long_post_fits_every_platform_and_keeps_its_hashtags(platform: str) -> None:
    limits = LIMITS[platform]
    fitted = fit(platform, LONG)
    assert measure(fitted.text, limits.unit) <= limits.text_max
    assert measure(fitted.text, limits.unit) >= limits.text_max * 0.9, "not cut needlessly short"
    if limits.title_max is not None:
        assert measure(fitted.title, limits.unit) <= limits.title_max
        assert fitted.title.endswith(ELLIPSIS)
    assert fitted.hashtags == ("#clipray", "#日本", "#launch")
    assert ELLIPSIS in fitted.text
    assert "\ufffd" not in fitted.text
    assert fitted.text.encode("utf-16", "strict")  # no lone surrogate: cut between clusters


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(UnknownPlatform):
        fit("myspace", PostMetadata(title="t"))
