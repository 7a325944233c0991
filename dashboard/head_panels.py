"""The head-analysis panels as HTML: the filter's note, the tag counts and the selected head's statistics."""

from __future__ import annotations

from dash import html

from .heads import TAGS, tag_counts


def tag_note(tags: list | None, tag: str | None, source: str | None, heads_total: int) -> str:
    """The line under the grid that says what the filter shows."""
    if tags is None:
        return ("The model profile is not available for this model." if source == "profile"
                else "Tags of this text are not available.")
    if not tag:
        return ""
    n = sum(tag in ts for row in tags for ts in row)
    where = "the model profile" if source == "profile" else "this text"
    note = f"Showing the {n} of {heads_total} heads tagged {tag} in {where}."
    if n == 0 and source != "profile" and tag in ("induction", "duplicate-token"):
        note += " Induction and duplicate-token need a repeated sequence: see the model profile."
    return note


def counts_line(label: str, counts: dict[str, int]) -> html.Div:
    parts = [f"{t} {counts.get(t, 0)}" for t in TAGS]
    return html.Div([html.Span(label, className="hg-label"), " " + " · ".join(parts)])


def counts_panel(stats: dict | None, profile: dict | None, heads_total: int) -> list:
    """Tag counts of this text and, separately, of the model profile."""
    if stats is None:
        out = [html.Div("This text: statistics not available (the backend did not say whether the model "
                        "is causal).", className="hg-muted")]
    else:
        out = [counts_line(f"This text ({heads_total} heads):", tag_counts(stats["tags"]))]
    if profile:
        rep = profile.get("repeat") or {}
        probes = len(profile.get("probe_texts") or [])
        desc = f"Model profile ({probes} probe texts + {rep.get('length', '?')} random tokens repeated twice):"
        out.append(counts_line(desc, profile.get("tag_counts") or tag_counts(profile.get("tags"))))
    else:
        out.append(html.Div("Model profile: not available for this model.", className="hg-muted"))
    return out


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def stats_table(summary: dict) -> list:
    """The selected head's scores (this text, model profile), tags and thresholds, as HTML."""
    names = [("previous", "previous token: mean A[i, i−1]"), ("first", "first token (sink): mean A[i, 0]"),
             ("self", "self: mean A[i, i]"), ("next", "next token: mean A[i, i+1]"),
             ("entropy", "entropy (normalised, 0–1)"),
             ("first_norm", "first token's value norm ÷ the row's median (1 = typical)"),
             ("sink", "sink: mean A[i, 0] × that ratio"), ("induction", "induction (profile only)"),
             ("duplicate", "duplicate token (profile only)")]
    rows = [html.Tr([html.Th("score"), html.Th("this text"), html.Th("model profile")])]
    for key, label in names:
        rows.append(html.Tr([html.Td(label), html.Td(_fmt(summary["text_scores"].get(key)), className="hg-num"),
                             html.Td(_fmt(summary["profile_scores"].get(key)), className="hg-num")]))
    text_tags = ", ".join(summary["text_tags"]) or "none"
    prof = summary["profile_tags"]
    prof_tags = "not available" if prof is None else (", ".join(prof) or "none")
    thresholds = " · ".join(f"{t}: {rule}" for t, rule in summary["thresholds"].items())
    return [
        html.Div([html.Span("Tags, this text: ", className="hg-label"), html.Span(text_tags, id="head-tags-text")]),
        html.Div([html.Span("Tags, model profile: ", className="hg-label"), html.Span(prof_tags, id="head-tags-profile")]),
        html.Table(rows, className="hg-stats-table"),
        html.Div(["Thresholds: ", thresholds, ". Scores use the raw weights (hide first token does not change them)."],
                 className="hg-muted hg-small-text"),
    ]
