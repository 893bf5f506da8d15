"""Measured emotion: what customers say (free text) and score (CSAT, NPS, CES), on the
map's emotion scale from -2 (very negative) to +2 (very positive).

**Text.** Comments in Portuguese, Spanish or English are scored by a lexicon scorer
that works fully offline (see :mod:`jornada.living._lexicon` for its rules and word
lists): a *compound* from -1 to +1, whose emotion is ``2 × compound``. A text is
*positive* when its compound is at least :data:`NEUTRAL_BAND`, *negative* when at most
``-NEUTRAL_BAND``, else neutral. Accuracy on the labelled sample of the tests
(``tests/living/data/sentiment_labelled.csv``: realistic support, review and survey
comments, positive / neutral / negative) is reported there; comments written after the
lexicons were tuned scored 87.5% in each language.

**Surveys.** An event with a ``score`` and a ``properties.survey`` naming its scale is
mapped linearly onto -2..+2, the scale's midpoint going to 0:

* ``csat`` 1..5 ("how satisfied": 1 very dissatisfied, 5 very satisfied):
  ``score - 3``; 1 → -2, 3 → 0, 5 → +2.
* ``nps`` 0..10 ("how likely to recommend"): ``(score - 5) / 2.5``; 0 → -2,
  5 → 0, 10 → +2 (so a passive 7 or 8 is +0.8 or +1.2, a promoter 9 or 10 is +1.6
  or +2; detractors 0..6 run from -2 to +0.4).
* ``ces`` 1..7 as the KPI catalogue defines it ("the company made it easy for me":
  1 strongly disagree, 7 strongly agree; higher means *less* effort, which is better):
  ``(score - 4) / 1.5``; 1 → -2, 4 → 0, 7 → +2. For the older wording that asks how
  much effort it took (1 very little ... 7 a lot; lower is better) name the survey
  ``ces_effort``: ``(4 - score) / 1.5``.

A score outside its scale, or on an event whose survey is unknown or missing, is not
measured (more scales can be given to :func:`emotion_events`).

**Per event** the emotion is the survey score's when there is one (a customer's own
rating says more than a lexicon's reading of their words), else the text's.

**Per group** (:func:`measured_emotion`, e.g. per touchpoint of a map) the measured
emotion is the mean over the events with an emotion, with its sample size and a 95%
Student-t interval of the mean, clipped to -2..+2 (none for fewer than two events).

Texts are scored once each: the distinct (text, language hint) pairs are fetched from the
engine, scored in Python (and cached), sent back as a small table and joined to the
events in the engine, where everything else is computed. A text's language is its
event's ``properties.language`` (or another column) when that names pt, es or en, else
the scorer's default, else the one its words suggest.

>>> scorer = SentimentScorer()
>>> scorer.label("Entrega rápida e atendimento excelente!")
'positive'
>>> scorer.label("Nadie contesta mis correos, pésima atención.")
'negative'
>>> survey_emotion("csat", 4), survey_emotion("nps", 10), survey_emotion("ces", 1)
(1.0, 2.0, -2.0)
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.stages import RESPONSE_PROPERTIES, StageTables
from jornada.errors import JornadaError
from jornada.events.binding import binding_filter, label_events, touchpoint_filters
from jornada.living._lexicon import Lang, LexiconScorer, detect_language
from jornada.model import Journey

__all__ = [
    "NEUTRAL_BAND",
    "SURVEY_SCALES",
    "EmotionMeasure",
    "MeasuredEmotion",
    "SentimentError",
    "SentimentScorer",
    "SurveyScale",
    "emotion_events",
    "measured_emotion",
    "measured_emotions",
    "survey_emotion",
    "text_emotion",
]

NEUTRAL_BAND: Final = 0.3
"""A compound below this in size is neutral (the labels only; emotion is continuous)."""

Label = Literal["positive", "neutral", "negative"]


class SentimentError(JornadaError):
    """Bad input to the measured emotion: an unknown language, survey or column."""


# --- surveys ------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyScale:
    """A survey's answer scale, mapped linearly onto -2..+2 (``low``/``high`` to ∓2 or
    ±2 as ``higher_is_better`` says; scores outside the scale are not measured).

    >>> SurveyScale("csat10", 1, 10).emotion(10)
    2.0
    """

    name: str
    low: float
    high: float
    higher_is_better: bool = True

    def emotion(self, score: float) -> float | None:
        """The emotion of one answer (None outside the scale)."""
        if not self.low <= score <= self.high:
            return None
        value = (score - self.middle) * 4.0 / (self.high - self.low)
        return float(value if self.higher_is_better else -value)

    @property
    def middle(self) -> float:
        """The answer that maps to 0."""
        return (self.low + self.high) / 2

    def expression(self, score: ir.NumericValue) -> ir.FloatingValue:
        """The same mapping as an engine expression (null outside the scale)."""
        score = score.cast("float64")
        span = self.high - self.low
        value = (score - self.middle) * 4.0 / span
        if not self.higher_is_better:
            value = -value
        inside = (score >= self.low) & (score <= self.high)
        return ibis.cases((inside, value), else_=ibis.null("float64"))


SURVEY_SCALES: Final[dict[str, SurveyScale]] = {
    "csat": SurveyScale("csat", 1, 5),
    "nps": SurveyScale("nps", 0, 10),
    "ces": SurveyScale("ces", 1, 7),
    "ces_effort": SurveyScale("ces_effort", 1, 7, higher_is_better=False),
}
"""The scales known by name in ``properties.survey`` (case-insensitive)."""


def survey_emotion(survey: str, score: float) -> float | None:
    """The emotion of a survey answer (None outside the scale).

    >>> survey_emotion("NPS", 7), survey_emotion("ces_effort", 2), survey_emotion("csat", 6)
    (0.8, 1.3333333333333333, None)
    """
    scale = SURVEY_SCALES.get(survey.strip().lower())
    if scale is None:
        known = ", ".join(SURVEY_SCALES)
        raise SentimentError(f"unknown survey {survey!r}: use one of {known}")
    return scale.emotion(score)


def text_emotion(compound: float) -> float:
    """The emotion (-2..+2) of a text's compound score (-1..+1): twice it.

    >>> text_emotion(-0.5)
    -1.0
    """
    return 2.0 * compound


# --- text ---------------------------------------------------------------------------

_LANGUAGE_NAMES: Final[dict[str, Lang]] = {
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "english": "en",
    "pt": "pt",
    "pt-br": "pt",
    "pt_br": "pt",
    "pt-pt": "pt",
    "portuguese": "pt",
    "es": "es",
    "es-es": "es",
    "es-419": "es",
    "es-ar": "es",
    "es-mx": "es",
    "spanish": "es",
}


def _language(name: str | None) -> Lang | None:
    """A language name (``pt-BR``, ``es_AR``, ``EN``) as one the scorer knows; None for
    None or a language it does not (the text's own words then decide)."""
    if name is None:
        return None
    key = name.strip().lower().replace("_", "-")
    return _LANGUAGE_NAMES.get(key) or _LANGUAGE_NAMES.get(key.split("-")[0])


class SentimentScorer:
    """Scores comments in pt / es / en, offline, remembering each text it has scored.

    ``language`` is the default when a text comes without one (``None``: guess it from
    the text's words). Up to ``cache_size`` texts are remembered.

    >>> scorer = SentimentScorer(language="en")
    >>> round(scorer.compound("Great shoes, fast delivery!"), 2)
    0.77
    >>> scorer.emotion("Meu pedido não chegou.", language="pt-BR") < 0
    True
    """

    def __init__(self, *, language: str | None = None, cache_size: int = 200_000) -> None:
        if language is not None and _language(language) is None:
            raise SentimentError(
                f"no sentiment lexicon for language {language!r}: use pt, es or en"
            )
        self.language = _language(language)
        self.cache_size = cache_size
        self._cache: dict[tuple[str, Lang | None], float] = {}

    def resolve_language(self, text: str, language: str | None = None) -> Lang:
        """The lexicon a text is scored with: its own language if known, else the
        scorer's default, else the one its words suggest (English when they say nothing).
        """
        return _language(language) or self.language or detect_language(text) or "en"

    def compound(self, text: str, language: str | None = None) -> float:
        """The compound score, -1 (very negative) to +1 (very positive)."""
        key = (text, _language(language))
        cached = self._cache.get(key)
        if cached is None:
            lang = self.resolve_language(text, language)
            cached = LexiconScorer.for_language(lang).compound(text)
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def emotion(self, text: str, language: str | None = None) -> float:
        """The emotion of a text on the map's scale, -2..+2."""
        return text_emotion(self.compound(text, language))

    def label(self, text: str, language: str | None = None) -> Label:
        """``positive``, ``neutral`` or ``negative`` (see :data:`NEUTRAL_BAND`)."""
        value = self.compound(text, language)
        if value >= NEUTRAL_BAND:
            return "positive"
        if value <= -NEUTRAL_BAND:
            return "negative"
        return "neutral"

    def score_many(self, texts: Iterable[tuple[str, str | None]]) -> list[float]:
        """The compound of each (text, language) pair, in order."""
        return [self.compound(text, language) for text, language in texts]


_DEFAULT_SCORER = SentimentScorer()


# --- events -------------------------------------------------------------------------


def _properties_get(events: ir.Table, key: str) -> ir.StringValue:
    if "properties" not in events.columns:
        return ibis.null("string")
    value: ir.StringValue = events["properties"].get(key)
    return value


def _check_language_column(events: ir.Table, language_column: str) -> None:
    if language_column not in events.columns:
        raise SentimentError(
            f"no column {language_column!r} for the language of texts; "
            f"columns: {', '.join(events.columns)}"
        )


def _language_hint(events: ir.Table, language_column: str | None) -> ir.StringValue:
    """Each event's language hint: ``language_column``, else ``properties.language``; ''
    when there is none (a join key must not be null)."""
    if language_column is not None:
        _check_language_column(events, language_column)
        hint = events[language_column].cast("string")
    else:
        hint = _properties_get(events, "language")
    return hint.fill_null("")


def _text_scores(events: ir.Table, scorer: SentimentScorer) -> ir.Table | None:
    """A small table (``_text``, ``_hint``, ``_compound``) of every distinct non-empty
    (text, language hint) of ``events`` (which has a ``_hint`` column), scored in Python;
    None when there is no text at all."""
    texts = events.filter(events["text"].notnull() & (events["text"].strip() != ""))
    distinct = texts.select(_text=texts["text"], _hint=texts["_hint"]).distinct()
    rows = distinct.to_pyarrow().to_pylist()
    if not rows:
        return None
    compounds = scorer.score_many((row["_text"], row["_hint"] or None) for row in rows)
    frame = pd.DataFrame(
        {
            "_text": [row["_text"] for row in rows],
            "_hint": [row["_hint"] for row in rows],
            "_compound": compounds,
        }
    ).astype({"_text": "string", "_hint": "string", "_compound": "float64"})
    return ibis.memtable(frame)


def emotion_events(
    events: ir.Table,
    *,
    scorer: SentimentScorer | None = None,
    surveys: Mapping[str, SurveyScale] | None = None,
    language_column: str | None = None,
) -> ir.Table:
    """``events`` with five more columns:

    * ``score_emotion``: the survey answer on -2..+2 (null without a known survey);
    * ``text_compound`` and ``text_emotion``: the text's compound and emotion (null
      without text);
    * ``emotion``: the score's emotion if any, else the text's; ``emotion_source`` says
      which (the survey's name, ``text``, or null).

    ``surveys`` adds or replaces scales by the (lower-case) name ``properties.survey``
    gives; ``language_column`` names a column with each text's language (default
    ``properties.language`` when present, else the text's words decide).

    >>> from jornada.engine import Engine
    >>> engine = Engine.duckdb()
    >>> events = engine.con.sql("select * from (values ('a', 'Ótimo atendimento!', null, null), "
    ...     "('b', null, 9.0, map {'survey': 'nps'})) t(customer_id, text, score, properties)")
    >>> rows = emotion_events(events).order_by("customer_id").to_pyarrow().to_pylist()
    >>> [(r["emotion_source"], round(r["emotion"], 2)) for r in rows]
    [('text', 1.25), ('nps', 1.6)]
    """
    if "score" in events.columns and "properties" in events.columns:
        survey: ir.StringValue | None = _properties_get(events, "survey")
    else:
        survey = None
    hint = _language_hint(events, language_column) if "text" in events.columns else None
    return _with_emotions(events, scorer, surveys, survey, hint)


def _with_emotions(
    events: ir.Table,
    scorer: SentimentScorer | None,
    surveys: Mapping[str, SurveyScale] | None,
    survey: ir.StringValue | None,
    hint: ir.StringValue | None,
) -> ir.Table:
    """:func:`emotion_events` given each event's survey name (``survey``: None when the
    events have no score or no survey) and language hint (``hint``: '' for none; None when
    the events have no text), expressions of ``events``."""
    scorer = scorer or _DEFAULT_SCORER
    scales = {**SURVEY_SCALES, **{k.lower(): v for k, v in (surveys or {}).items()}}
    if survey is not None:
        survey = survey.strip().lower()
        branches = [
            (survey == name, scale.expression(events["score"])) for name, scale in scales.items()
        ]
        score_emotion = ibis.cases(*branches, else_=ibis.null("float64"))
        survey_name = ibis.cases(
            *((survey == name, ibis.literal(name)) for name in scales),
            else_=ibis.null("string"),
        )
    else:
        score_emotion = ibis.null("float64")
        survey_name = ibis.null("string")
    with_scores = events.mutate(score_emotion=score_emotion, _survey=survey_name)
    scores = None
    if hint is not None:
        with_scores = with_scores.mutate(_hint=hint)
        scores = _text_scores(with_scores, scorer)
    if scores is None:
        with_text = with_scores.mutate(
            text_compound=ibis.null("float64"), text_emotion=ibis.null("float64")
        )
    else:
        scores = scores.rename(_score_text="_text", _score_hint="_hint")
        joined = with_scores.left_join(
            scores,
            [
                with_scores["text"] == scores["_score_text"],
                with_scores["_hint"] == scores["_score_hint"],
            ],
        )
        with_text = joined.drop("_score_text", "_score_hint").rename(text_compound="_compound")
        with_text = with_text.mutate(text_emotion=with_text["text_compound"] * 2.0)
    has_score = with_text["score_emotion"].notnull()
    has_text = with_text["text_emotion"].notnull()
    helpers = [c for c in ("_survey", "_hint") if c in with_text.columns]
    return with_text.mutate(
        emotion=with_text["score_emotion"].coalesce(with_text["text_emotion"]),
        emotion_source=ibis.cases(
            (has_score, with_text["_survey"]),
            (has_text, ibis.literal("text")),
            else_=ibis.null("string"),
        ),
    ).drop(*helpers)


# --- per group ----------------------------------------------------------------------

T_LEVEL: Final = 0.975  # two-sided 95%


def _interval(mean: float, sd: float | None, n: int) -> tuple[float, float]:
    """95% Student-t interval of a mean on -2..+2, clipped to the scale."""
    if n < 2 or sd is None or math.isnan(sd):
        return (math.nan, math.nan)
    half = float(stats.t.ppf(T_LEVEL, n - 1)) * sd / math.sqrt(n)
    return (max(-2.0, mean - half), min(2.0, mean + half))


@dataclass(frozen=True)
class EmotionMeasure:
    """The measured emotion of one group (a touchpoint, a stage, a channel...).

    ``group`` is None for the events in no group (e.g. bound to no touchpoint).
    ``responses`` events had an emotion; ``emotion`` is their mean (None without any),
    ``low``/``high`` its 95% interval; ``scores``/``texts`` count the survey answers and
    the texts used, with the mean emotion of each (``score_emotion``, ``text_emotion``:
    a text that came with a score is counted in ``texts`` too). ``sources`` counts
    events per source (``csat``, ``nps``, ``ces``, ``text``). ``designed`` is the map's
    emotion score for the group when it is a touchpoint with one.
    """

    group: str | None
    name: str | None
    responses: int
    emotion: float | None
    low: float
    high: float
    scores: int
    score_emotion: float | None
    texts: int
    text_emotion: float | None
    sources: tuple[tuple[str, int], ...] = ()
    designed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "group": self.group,
                "name": self.name,
                "responses": self.responses,
                "emotion": self.emotion,
                "emotion_low": self.low,
                "emotion_high": self.high,
                "scores": self.scores,
                "score_emotion": self.score_emotion,
                "texts": self.texts,
                "text_emotion": self.text_emotion,
                "sources": dict(self.sources),
                "designed": self.designed,
            }
        )
        return ready


_FRAME_COLUMNS = [
    "group",
    "name",
    "responses",
    "emotion",
    "emotion_low",
    "emotion_high",
    "scores",
    "score_emotion",
    "texts",
    "text_emotion",
    "designed",
]


@dataclass(frozen=True)
class MeasuredEmotion(AnalysisResult):
    """Measured emotion per group, with sample sizes and 95% intervals (see the module).

    ``by`` is the grouping column (None: one group of every event).
    """

    by: str | None
    groups: tuple[EmotionMeasure, ...]
    journey_id: str | None = None
    method: dict[str, str] = field(default_factory=dict)

    def group(self, group: str | None) -> EmotionMeasure:
        """The measure of one group, by its value."""
        return next(g for g in self.groups if g.group == group)

    def to_frame(self) -> pd.DataFrame:
        rows = [{k: v for k, v in g.to_dict().items() if k != "sources"} for g in self.groups]
        frame = pd.DataFrame(rows, columns=_FRAME_COLUMNS)
        floats = ["emotion", "emotion_low", "emotion_high", "score_emotion", "text_emotion"]
        return frame.astype({**dict.fromkeys(floats, "float64"), "designed": "Int64"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "journey_id": self.journey_id,
            "method": dict(self.method),
            "groups": [g.to_dict() for g in self.groups],
        }

    def chart(self) -> go.Figure:
        """Measured emotion per group with its interval; the designed emotion beside it."""
        shown = [g for g in self.groups if g.emotion is not None]
        labels = [g.name or g.group or "(none)" for g in shown]
        plus = [
            (g.high - g.emotion) if g.emotion is not None and not math.isnan(g.high) else 0
            for g in shown
        ]
        minus = [
            (g.emotion - g.low) if g.emotion is not None and not math.isnan(g.low) else 0
            for g in shown
        ]
        traces = [
            go.Scatter(
                name="measured",
                x=labels,
                y=[g.emotion for g in shown],
                mode="lines+markers",
                error_y={"type": "data", "array": plus, "arrayminus": minus},
                hovertext=[f"n = {g.responses:,}" for g in shown],
            )
        ]
        if any(g.designed is not None for g in shown):
            traces.append(
                go.Scatter(
                    name="designed",
                    x=labels,
                    y=[g.designed for g in shown],
                    mode="lines+markers",
                    line={"dash": "dot"},
                )
            )
        figure = go.Figure(traces)
        figure.update_layout(
            title="Measured emotion" + (f" by {self.by}" if self.by else ""),
            yaxis={"title": "emotion (-2..+2)", "range": [-2.2, 2.2]},
        )
        return figure


_METHOD: Final[dict[str, str]] = {
    "text": "lexicon compound (-1..+1) x 2; pt/es/en lexicons, offline",
    "csat": "score - 3 (1..5)",
    "nps": "(score - 5) / 2.5 (0..10)",
    "ces": "(score - 4) / 1.5 (1..7, higher = less effort)",
    "ces_effort": "(4 - score) / 1.5 (1..7, lower = less effort)",
    "event": "survey score when present, else text",
    "interval": "95% Student-t interval of the mean, clipped to -2..+2",
}


def _responses(events: ir.Table) -> ir.Table:
    """The events that can have an emotion: those with a score or a text (every other
    event is left out by the per-group filter anyway). Labelling against the map's rules
    and reading ``properties`` then cover a small share of the log instead of all of it."""
    present = [events[c].notnull() for c in ("score", "text") if c in events.columns]
    if not present:
        return events.filter(ibis.literal(False))
    return events.filter(functools.reduce(operator.or_, present))


def _needs_labels(events: ir.Table, by: Sequence[str | None], journey: Journey | None) -> bool:
    """Whether ``touchpoint_id`` or ``stage_id`` must be labelled from ``journey`` for
    the ``by`` columns (see :func:`measured_emotion`); a :class:`SentimentError` for a
    column that is neither in ``events`` nor labelled."""
    missing = [c for c in by if c is not None and c not in events.columns]
    for column in missing:
        if journey is None or column not in ("touchpoint_id", "stage_id"):
            hint = " (give the map: journey=...)" if column in ("touchpoint_id", "stage_id") else ""
            raise SentimentError(
                f"no column {column!r} to group by{hint}; columns: {', '.join(events.columns)}"
            )
    return bool(missing)


def measured_emotion(
    events: ir.Table,
    *,
    by: str | None = "touchpoint_id",
    journey: Journey | None = None,
    scorer: SentimentScorer | None = None,
    surveys: Mapping[str, SurveyScale] | None = None,
    language_column: str | None = None,
) -> MeasuredEmotion:
    """The measured emotion per group of events (see the module for the method).

    ``by`` is a column of ``events``; ``touchpoint_id`` and ``stage_id`` are labelled
    from ``journey`` (:func:`~jornada.events.binding.label_events`) when the table lacks
    them, and groups then come in map order (with the map's designed emotion); ``None``
    makes one group of every event. Other groups come by value, the null group last.

    >>> from jornada.engine import Engine
    >>> engine = Engine.duckdb()
    >>> events = engine.con.sql("select * from (values "
    ...     "('web', 'Adorei, entrega rápida!', null::double, null::map(varchar, varchar)),"
    ...     "('web', null, 5.0, map {'survey': 'csat'}),"
    ...     "('app', 'El pago falló tres veces.', null, null)) t(channel, text, score, properties)")
    >>> result = measured_emotion(events, by="channel")
    >>> [(g.group, g.responses, round(g.emotion, 2)) for g in result.groups]
    [('app', 1, -0.84), ('web', 2, 1.77)]
    """
    [result] = measured_emotions(
        events,
        by=(by,),
        journey=journey,
        scorer=scorer,
        surveys=surveys,
        language_column=language_column,
    ).values()
    return result


def measured_emotions(
    events: ir.Table,
    *,
    by: Sequence[str | None],
    journey: Journey | None = None,
    scorer: SentimentScorer | None = None,
    surveys: Mapping[str, SurveyScale] | None = None,
    language_column: str | None = None,
    stage_tables: StageTables | None = None,
) -> dict[str | None, MeasuredEmotion]:
    """:func:`measured_emotion` by each grouping of ``by`` (e.g. ``("touchpoint_id",
    "stage_id")``), keyed by it: the events with an emotion are labelled and their texts
    scored once for all of them (a cached table the groupings read), the same numbers.

    ``stage_tables``: the :class:`~jornada.analytics.stages.StageTables` of ``events`` and
    ``journey`` (built without ``as_of``). When the groups are the map's labels
    (``touchpoint_id``, ``stage_id``, None) and the texts' language is not read from a
    column, the responses are then read from their labelled events, which carry the
    labels, the text, the score and the survey and language properties
    (:data:`~jornada.analytics.stages.RESPONSE_PROPERTIES`): neither are the rules
    evaluated again nor the events' ``properties`` read a second time. The same numbers.

    >>> from jornada.engine import Engine
    >>> engine = Engine.duckdb()
    >>> events = engine.con.sql("select * from (values "
    ...     "('web', 'pt', 'Adorei!', null::double, null::map(varchar, varchar)),"
    ...     "('app', 'pt', 'Péssimo.', null, null)) t(channel, lang, text, score, properties)")
    >>> results = measured_emotions(events, by=("channel", None), language_column="lang")
    >>> [g.group for g in results["channel"].groups], results[None].groups[0].responses
    (['app', 'web'], 2)
    """
    scales = sorted({*SURVEY_SCALES, *(k.lower() for k in (surveys or {}))})
    results: dict[str | None, MeasuredEmotion] = {}
    labels = journey if _needs_labels(events, by, journey) else None
    groups = [column for column in by if column is not None]
    # The responses are read by several queries (the distinct texts, then each
    # grouping): the log is scanned for them once and they are kept (a temporary table
    # on DuckDB, a cached DataFrame on Spark), a small share of the events, labelled
    # there (the map's rules compiled once, evaluated on them only) and with only the
    # columns read: the other columns, the wide maps above all, would cost more to read
    # than the rows.
    read = _read_columns(events, groups, labels, language_column)
    inputs = [*groups, "text", "score", "properties"]
    if language_column is not None:
        inputs.append(language_column)
    with contextlib.ExitStack() as stack:
        shared = (
            _labelled_responses(events, groups, labels, stage_tables)
            if stage_tables is not None and labels is not None and language_column is None
            else None
        )
        if shared is not None:
            kept = stack.enter_context(shared.cache())
            read_survey = {"score", "property_survey"} <= set(kept.columns)
            survey = kept["property_survey"] if read_survey else None
            hint: ir.StringValue | None = None
            if "text" in kept.columns:
                language = (
                    kept["property_language"]
                    if "property_language" in kept.columns
                    else ibis.null("string")
                )
                hint = language.fill_null("")
            measured = _with_emotions(kept, scorer, surveys, survey, hint)
        else:
            responses = _responses(events).select(*read)
            if labels is not None:
                # The responses are written down as read, then labelled: evaluated in
                # the scan of the log, the map's rules cost more than on the few rows
                # kept.
                responses = label_events(labels, stack.enter_context(responses.cache()))
            kept_columns = [c for c in dict.fromkeys(inputs) if c in responses.columns]
            kept = stack.enter_context(responses.select(*kept_columns).cache())
            measured = emotion_events(
                kept, scorer=scorer, surveys=surveys, language_column=language_column
            )
        needed = [*groups, "emotion", "score_emotion", "text_emotion", "emotion_source"]
        measured = measured.select(*dict.fromkeys(needed))
        for column in by:
            rows = _group_rows(measured, column, scales)
            results[column] = _grouped(rows, column, journey, scales)
    return results


def _labelled_responses(
    events: ir.Table, groups: Sequence[str], journey: Journey, tables: StageTables
) -> ir.Table | None:
    """The responses (see :func:`_responses`) from ``tables``' labelled events, with the
    ``groups`` (the map's ``touchpoint_id`` and ``stage_id``, as
    :func:`~jornada.events.binding.label_events` names them), ``text``, ``score`` and the
    survey and language properties (``property_survey``, ``property_language``), those
    the events have; None when the tables cannot give them: built with ``as_of`` or for
    another map, grouped by another column, or some event has no time (the tables leave
    those out; a store never has one)."""
    if not tables.complete or tables.journey != journey:
        return None
    if any(group not in ("touchpoint_id", "stage_id") for group in groups):
        return None
    labelled = tables.labelled
    answered = [labelled[c].notnull() for c in ("score", "text") if c in labelled.columns]
    if not answered:
        return None
    # A filter on a column without nulls: DuckDB skips every row group by its statistics.
    untimed = events.filter(events["ts"].isnull()).limit(1).count()
    if int(untimed.to_pyarrow().as_py()):
        return None
    responses = labelled.filter(functools.reduce(operator.or_, answered))
    stage_ids = [stage.id for stage in journey.ordered_stages()]
    names: dict[str, ir.Value] = {
        "touchpoint_id": _named(responses["touchpoint"], tables.touchpoints),
        "stage_id": _named(responses["stage_index"], stage_ids),
    }
    carried = ["text", "score", *(f"property_{p}" for p in RESPONSE_PROPERTIES)]
    return responses.select(
        *(c for c in carried if c in responses.columns),
        **{group: names[group] for group in dict.fromkeys(groups)},
    )


def _named(number: ir.IntegerValue, ids: Sequence[str]) -> ir.StringValue:
    """The id at position ``number`` of ``ids`` (null for null or none)."""
    if not ids:
        return ibis.null("string")
    return ibis.cases(
        *((number == k, ibis.literal(name, type="string")) for k, name in enumerate(ids)),
        else_=ibis.null("string"),
    )


def _read_columns(
    events: ir.Table,
    groups: Sequence[str],
    journey: Journey | None,
    language_column: str | None,
) -> list[str]:
    """The columns of ``events`` the measured emotion reads: the groups it has, the
    text, score and survey and language hints, and those the map's rules read when
    ``journey`` labels the events."""
    wanted = {*groups, "text", "score", "properties"}
    if language_column is not None:
        _check_language_column(events, language_column)
        wanted.add(language_column)
    if journey is not None:
        conditions = [*touchpoint_filters(journey, events).values()]
        # A stage's own block is read beside the touchpoint label, as label_events does.
        tagged = events.mutate(touchpoint_id=ibis.null("string"))
        conditions += [
            binding_filter(stage.events, tagged, context=f"the where rule of stage {stage.id!r}")
            for stage in journey.ordered_stages()
            if stage.events is not None
        ]
        for condition in conditions:
            wanted.update(field.name for field in condition.op().find(ops.Field))
    return [column for column in events.columns if column in wanted]


def _group_rows(measured: ir.Table, by: str | None, scales: list[str]) -> list[dict[str, Any]]:
    """One row of aggregates per group of ``by`` (the responses' emotions)."""
    key = measured[by].cast("string") if by is not None else ibis.literal("", type="string")
    measured = measured.mutate(_group=key)
    emotion = measured["emotion"]
    has_score = measured["score_emotion"].notnull()
    has_text = measured["text_emotion"].notnull()
    sources = _sources(scales)
    aggregates: dict[str, ir.Value] = {
        "responses": emotion.count(),
        "mean": emotion.mean(),
        "sd": emotion.std(how="sample"),
        "scores": has_score.cast("int64").sum(),
        "score_mean": measured["score_emotion"].mean(),
        "texts": has_text.cast("int64").sum(),
        "text_mean": measured["text_emotion"].mean(),
        **{
            column: (measured["emotion_source"] == name).cast("int64").sum()
            for column, name in sources.items()
        },
    }
    table = measured.filter(emotion.notnull() | has_text).group_by("_group").aggregate(**aggregates)
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows


def _sources(scales: list[str]) -> dict[str, str]:
    return {f"_n_{i}": name for i, name in enumerate([*scales, "text"])}


def _grouped(
    rows: list[dict[str, Any]], by: str | None, journey: Journey | None, scales: list[str]
) -> MeasuredEmotion:
    """The result of one grouping from its rows of aggregates."""
    sources = _sources(scales)
    groups = [_measure(row, sources) for row in rows]
    designed: dict[str, tuple[int | None, str]] = {}
    order: dict[str | None, int] = {}
    if journey is not None and by == "touchpoint_id":
        for position, (_, touchpoint) in enumerate(journey.iter_touchpoints()):
            score = touchpoint.emotion.score if touchpoint.emotion is not None else None
            designed.setdefault(touchpoint.id, (score, touchpoint.name))
            order.setdefault(touchpoint.id, position)
    elif journey is not None and by == "stage_id":
        for position, stage in enumerate(journey.ordered_stages()):
            designed.setdefault(stage.id, (None, stage.name))
            order.setdefault(stage.id, position)
    if by is None:
        groups = [replace(g, group=None) for g in groups]
    else:
        groups = [
            replace(g, designed=designed[g.group][0], name=designed[g.group][1])
            if g.group in designed
            else g
            for g in groups
        ]
    groups.sort(
        key=lambda g: (
            g.group is None,
            order.get(g.group, len(order)),
            g.group or "",
        )
    )
    return MeasuredEmotion(
        by=by,
        groups=tuple(groups),
        journey_id=journey.id if journey is not None else None,
        method=dict(_METHOD),
    )


def _float(value: Any) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


def _measure(row: Mapping[str, Any], sources: Mapping[str, str]) -> EmotionMeasure:
    n = int(row["responses"] or 0)
    mean = _float(row["mean"])
    low, high = _interval(mean, _float(row["sd"]), n) if mean is not None else (math.nan, math.nan)
    return EmotionMeasure(
        group=row["_group"],
        name=None,
        responses=n,
        emotion=mean,
        low=low,
        high=high,
        scores=int(row["scores"] or 0),
        score_emotion=_float(row["score_mean"]),
        texts=int(row["texts"] or 0),
        text_emotion=_float(row["text_mean"]),
        sources=tuple(
            (name, int(row[column] or 0)) for column, name in sources.items() if row[column]
        ),
    )
