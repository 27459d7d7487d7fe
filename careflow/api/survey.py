"""The satisfaction survey behind the signed link in survey emails.

`GET` shows the question; `POST` records the answer once per survey as a
`survey_answered` event (so rules see the score, e.g. to follow up on a low one),
which tells the journey that sent the survey at once. A survey already answered
shows the answer recorded instead of taking a second one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse

from careflow.api.pages import GONE, customer_language, customer_on_file, page
from careflow.api.state import ApiState, State
from careflow.intake.apply import AlreadyAnswered, recorded_answer
from careflow.intake.events import EventIdConflict, EventIn, accept_event
from careflow.outreach.links import SURVEY_PATH, InvalidLinkToken, verify_survey_token

router = APIRouter(tags=["survey"])

_TEXT = {
    "en": {
        "title": "How did we do?",
        "ask": "How satisfied are you with our service? (1 = not at all, 5 = very)",
        "thanks": "Thank you! Your answer helps us improve.",
        "bad": "This survey link is not valid or has expired.",
        "already": "This survey was already answered ({score} of 5); thank you.",
    },
    "zh": {
        "title": "服务满意度",
        "ask": "您对我们的服务满意吗？（1 = 很不满意，5 = 非常满意）",
        "thanks": "感谢您的反馈！我们会据此不断改进。",
        "bad": "此问卷链接无效或已过期。",
        "already": "此问卷已作答（{score} 分，满分 5 分），谢谢！",
    },
}


@router.get(SURVEY_PATH + "/{token}", response_class=HTMLResponse)
async def show_survey(token: str, state: State) -> HTMLResponse:
    try:
        claim = verify_survey_token(state.secret_key, token)
    except InvalidLinkToken:
        return page("en", _TEXT["en"]["title"], f"<p>{_TEXT['en']['bad']}</p>", status=400)
    if not await customer_on_file(state, claim.customer_external_id):
        return page("en", _TEXT["en"]["title"], GONE, status=410)
    language = await customer_language(state, claim.customer_external_id)
    text = _TEXT[language]
    buttons = "".join(
        f'<button name="score" value="{score}" style="font-size:1.5rem;margin:.2rem">'
        f"{score}</button>"
        for score in range(1, 6)
    )
    return page(
        language, text["title"], f'<p>{text["ask"]}</p><form method="post">{buttons}</form>'
    )


@router.post(SURVEY_PATH + "/{token}", response_class=HTMLResponse)
async def answer_survey(
    token: str, state: State, score: Annotated[int, Form(ge=1, le=5)]
) -> HTMLResponse:
    """Record the score once per survey (per journey, whichever of its links is used);
    the journey hears it through the intake, as from `POST /events`."""
    try:
        claim = verify_survey_token(state.secret_key, token)
    except InvalidLinkToken:
        return page("en", _TEXT["en"]["title"], f"<p>{_TEXT['en']['bad']}</p>", status=400)
    if not await customer_on_file(state, claim.customer_external_id):
        return page("en", _TEXT["en"]["title"], GONE, status=410)
    language = await customer_language(state, claim.customer_external_id)
    text = _TEXT[language]
    recorded = await _recorded_answer(state, claim.workflow_id)
    if recorded is None:
        try:
            await accept_event(
                state.db,
                state.client,
                state.task_queue,
                EventIn(
                    type="survey_answered",
                    customer_id=claim.customer_external_id,
                    occurred_at=datetime.now(UTC),
                    data={"score": score, "workflow_id": claim.workflow_id},
                    # The request is "answer this journey's survey": a second link, a
                    # second submit or a retry finds the answer already recorded.
                    event_id=f"survey-{hashlib.sha256(claim.workflow_id.encode()).hexdigest()[:32]}",
                ),
            )
        except (AlreadyAnswered, EventIdConflict):
            # Answered by a concurrent submit: show what was recorded.
            recorded = await _recorded_answer(state, claim.workflow_id)
    if recorded is not None:
        return page(
            language,
            text["title"],
            f"<p>{escape(text['already'].format(score=recorded))}</p>",
        )
    return page(language, text["title"], f"<p>{text['thanks']}</p>")


async def _recorded_answer(state: ApiState, workflow_id: str) -> int | None:
    async with state.db.session() as session:
        return await recorded_answer(session, workflow_id)
