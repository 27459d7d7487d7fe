"""Template files for tests, written as strings."""

from __future__ import annotations


def simple_template(
    template_id: str = "t", locale: str = "en", *, subject: str = "Hi", body: str = "Body"
) -> dict[str, str]:
    """The three files of one template in one locale; bodies extend the layout."""
    wrap = "{% extends layout %}{% block body %}" + body + "{% endblock %}"
    return {
        f"{template_id}/subject.{locale}.j2": subject,
        f"{template_id}/body.txt.{locale}.j2": wrap,
        f"{template_id}/body.html.{locale}.j2": wrap,
    }
