"""The console in English and Chinese: the same keys and placeholders in both, every key
the pages use exists, every page renders in both, and the language is chosen from
`?lang=`, then the cookie, then Accept-Language."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

from careflow.config import Settings
from careflow.console.i18n import Formatter, Translator
from careflow.console.messages import MESSAGES
from careflow.console.web import NOTICES, PUBLIC_PATHS
from careflow.rule_references import shipped_references
from careflow.rules import load_rulebook
from careflow.rules.conditions import CONDITION_WORDS
from careflow.rules.explaining import OUTCOME_WORDS
from careflow.timeline import TIMELINE_WORDS, message_summary
from tests.console.conftest import USERS, log_in
from tests.console.seed import Seeded

TEMPLATES = Path(__file__).resolve().parents[2] / "careflow" / "console" / "templates"
CONSOLE = TEMPLATES.parent
# Keys the code builds from a prefix and a value; each value is listed here.
BUILT_KEYS = [
    *(f"col.{field}" for field in ("name", "email", "phone", "birthday")),
    *(f"lang.{code}" for code in MESSAGES),
    *(
        f"refusal.{reason}{suffix}"
        for reason in ("login", "role", "csrf")
        for suffix in ("", ".title")
    ),
    *(f"notice.{key}" for key in NOTICES),
    *(
        f"users.error.{code}"
        for code in ("name", "role", "password", "mismatch", "exists", "unknown", "last_admin")
    ),
    *(
        f"nav.{page}"
        for page in ("overview", "rules", "customers", "tasks", "webhooks", "segments")
    ),
    *(
        f"staff.error.{code}"
        for code in ("not_found", "closed", "taken", "outcome", "person", "note_long", "due")
    ),
]
# Parameters of the pages' routes, filled with the seed's ids.
PATH_VALUES = {"customer_id": "c-alice", "rule_id": "acknowledge-new-complaint"}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    english, chinese = MESSAGES["en"], MESSAGES["zh-CN"]
    assert set(english) == set(chinese)
    for key, text in english.items():
        assert placeholders(text) == placeholders(chinese[key]), key
        assert chinese[key].strip(), key


def used_keys() -> set[str]:
    """Every literal key passed to t(...) in the templates and the console's code."""
    # A whole literal: `t("col." ~ field)` builds keys (listed in BUILT_KEYS instead).
    pattern = re.compile(r"""\bt\(\s*["']([a-z_][a-z0-9_.-]*)["']\s*[,)]""")
    sources = [*TEMPLATES.glob("*.j2"), *CONSOLE.glob("*.py")]
    return {key for path in sources for key in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_key_the_console_uses_exists() -> None:
    keys = used_keys() | set(BUILT_KEYS)
    assert len(keys) > 150  # the scan found the pages' strings
    missing = sorted(key for key in keys if key not in MESSAGES["en"])
    assert missing == []


def test_a_missing_key_is_an_error_not_a_silent_fallback() -> None:
    with pytest.raises(KeyError, match=r"no zh-CN text for 'nav\.nowhere'"):
        Translator("zh-CN")("nav.nowhere")
    # Stored values without a translation are shown as stored.
    assert Translator("zh-CN").value("journey", "some_new_journey") == "some_new_journey"
    assert Translator("zh-CN").value("journey", "retention_offer") == "挽留优惠"


def test_numbers_and_dates_follow_the_language() -> None:
    moment = datetime(2026, 11, 23, 19, 5, tzinfo=UTC)
    english, chinese = Formatter("en"), Formatter("zh-CN")
    assert english.number(12345) == "12,345"
    assert english.percent(0.756) == "75.6%"
    assert english.when(moment) == "Nov 23, 2026, 7:05:00\u202fPM UTC"
    assert chinese.when(moment) == "2026年11月23日 19:05:00 UTC"
    # In the team's zone, with its offset (India's is not whole hours).
    shanghai = Formatter("zh-CN", ZoneInfo("Asia/Shanghai"))
    assert shanghai.when(moment) == "2026年11月24日 03:05:00 UTC+8"
    assert (
        Formatter("en", ZoneInfo("Asia/Kolkata")).when(moment).endswith("12:35:00\u202fAM UTC+5:30")
    )
    assert chinese.date_long(date(2026, 11, 23)) == "2026年11月23日"
    assert chinese.day(date(2026, 11, 23)) == "11月23日"
    assert english.percent(None) == "-"


def page_paths(app: FastAPI) -> list[str]:
    """Every GET page of the console, read from the app, with its parameters filled in."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    paths = []
    for route in flatten(app.routes) if flatten else app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods and "GET" in methods and path.startswith("/console"):
            paths.append(re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path))
    return paths


@pytest.mark.parametrize("language", ["en", "zh-CN"])
async def test_every_page_renders_in_both_languages(
    console_app: FastAPI, seeded: Seeded, language: str
) -> None:
    paths = page_paths(console_app)
    assert len(paths) >= 9
    admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app), base_url="http://t")
    viewer = httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app), base_url="http://t")
    async with admin, viewer:
        login_page = await admin.get("/console/login", params={"lang": language})
        assert f'<html lang="{language}">' in login_page.text
        assert (await log_in(admin, "ada")).status_code == 303
        assert (await log_in(viewer, "vera")).status_code == 303
        for path in paths:
            if path in PUBLIC_PATHS:
                continue
            response = await admin.get(path, params={"lang": language})
            assert response.status_code == 200, (path, response.text[-500:])
            assert f'<html lang="{language}">' in response.text, path
        # Refusals, errors and notices are pages too.
        for client, path, status in [
            (viewer, "/console/users", 403),
            (admin, "/console/customers/nobody", 404),
            (admin, "/console/?days=1000", 400),
            (admin, "/console/tasks?status=lost", 400),
            (admin, "/console/customers/c-alice/explain?at=noon", 400),
            (admin, "/console/users?done=user_added", 200),
        ]:
            joined = f"{path}{'&' if '?' in path else '?'}lang={language}"
            response = await client.get(joined)
            assert response.status_code == status, path
            assert f'<html lang="{language}">' in response.text, path


async def test_the_language_comes_from_the_query_then_the_cookie_then_the_browser(
    console_app: FastAPI, seeded: Seeded
) -> None:
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert 'lang="en"' in (await client.get("/console/login")).text
        chinese_browser = {"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"}
        page = await client.get("/console/login", headers=chinese_browser)
        assert '<html lang="zh-CN">' in page.text
        assert (
            '<html lang="zh-CN">'
            in (
                await client.get("/console/login", headers={"accept-language": "fr, zh-TW;q=0.8"})
            ).text
        )
        # ?lang= wins and is remembered for the next pages, over the browser's choice.
        chosen = await client.get("/console/login", params={"lang": "en"}, headers=chinese_browser)
        assert '<html lang="en">' in chosen.text
        assert "careflow_lang=en" in chosen.headers["set-cookie"]
        later = await client.get("/console/login", headers=chinese_browser)
        assert '<html lang="en">' in later.text
        # An unknown language is ignored rather than an error.
        assert '<html lang="en">' in (await client.get("/console/login?lang=xx")).text
    assert set(USERS) == {"ada", "otto", "vera"}


# Phrases built outside the console, English in the terminal, said through the catalog here.
PHRASE_WORDS = {
    "timeline": TIMELINE_WORDS.english,
    "condition": CONDITION_WORDS.english,
    "outcome": OUTCOME_WORDS.english,
}


def english_fragments(template: str) -> list[str]:
    """The literal English of a phrase template: its text between placeholders, as words."""
    fragments = []
    for literal, _, _, _ in string.Formatter().parse(template):
        text = literal.strip(" :;,=()")
        if re.search(r"[A-Za-z]{3}", text):
            fragments.append(text)
    return fragments


def found_phrases(text: str) -> dict[str, list[str]]:
    """Phrase keys whose English words occur in `text` (whole words, not parts of ids)."""
    found: dict[str, list[str]] = {}
    for words in PHRASE_WORDS.values():
        for key, template in words.items():
            for fragment in english_fragments(template):
                if re.search(rf"(?<![\w-]){re.escape(fragment)}(?![\w-])", text):
                    found.setdefault(key, []).append(fragment)
    return found


def page_text(html: str, descriptions: list[str]) -> str:
    """What a reader sees, without the rules' own descriptions (the staff's words, as written)."""
    text = unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style).*?</\1>", " ", html)))
    for description in descriptions:
        text = text.replace(description, " ")
    return text


async def test_phrases_from_rules_and_the_timeline_are_said_in_chinese(
    console_app: FastAPI, seeded: Seeded
) -> None:
    rulebook = load_rulebook(Settings().rules_dir, references=shipped_references())
    rules = [rule for ruleset in rulebook.rulesets for rule in ruleset.rules]
    descriptions = sorted((rule.description for rule in rules), key=len, reverse=True)
    paths = [
        *(f"/console/customers/{customer}" for customer in seeded.customer_ids),
        *(f"/console/customers/{customer}/explain" for customer in seeded.customer_ids),
        # Another event makes other rules fail other conditions.
        "/console/customers/c-alice/explain?event=complaint_opened",
        *(f"/console/rules/{rule.id}" for rule in rules),
    ]
    seen: dict[str, dict[str, list[str]]] = {}
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await log_in(client, "ada")).status_code == 303
        for language in ("en", "zh-CN"):
            found: dict[str, list[str]] = {}
            for path in paths:
                response = await client.get(path, params={"lang": language})
                assert response.status_code == 200, (path, response.text[-500:])
                text = page_text(response.text, descriptions)
                for key, fragments in found_phrases(text).items():
                    found.setdefault(key, []).extend(f"{path}: {f}" for f in fragments)
            seen[language] = found
    # The English pages show every timeline summary that has words, conditions, reasons...
    worded = {key for key, text in TIMELINE_WORDS.english.items() if english_fragments(text)}
    assert worded <= set(seen["en"])
    for area in ("condition", "outcome"):
        assert any(key.startswith(f"{area}.") for key in seen["en"]), area
    # ...and not one of their English words is left on the Chinese pages.
    assert seen["zh-CN"] == {}


def test_every_phrase_is_said_from_the_catalog_of_the_language() -> None:
    chinese = Translator("zh-CN")
    summary = message_summary("complaint_update", "deferred", "quiet_hours: until 08:00 UTC")
    assert summary == "complaint_update deferred: quiet_hours: until 08:00 UTC"
    assert chinese.phrase(summary) == "complaint_update 已推迟：免打扰时段：until 08:00 UTC"
    failure = OUTCOME_WORDS(
        "outcome.failed",
        condition=CONDITION_WORDS(
            "condition.any",
            conditions=CONDITION_WORDS.joined(
                "condition.list",
                [
                    CONDITION_WORDS("condition.is", fact="opted_out", value=True),
                    CONDITION_WORDS("condition.between", fact="order_count", low=1, high=3),
                ],
            ),
        ),
        actual=OUTCOME_WORDS("outcome.missing"),
    )
    assert failure == (
        "failed: any of (opted_out is true; order_count between 1 and 3) (actual: missing)"
    )
    assert chinese.phrase(failure) == (
        "未满足：以下任一成立（opted_out 为 true；order_count 介于 1 与 3 之间）（实际：缺失）"
    )
    # English on the console is the terminal's English; plain text is shown as it is.
    assert Translator("en").phrase(failure) == failure
    assert chinese.phrase("Acknowledge every complaint") == "Acknowledge every complaint"
