"""The living map's building blocks: the map joined with what customers do and say.

* :mod:`jornada.living.sentiment`: measured emotion from survey scores (CSAT, NPS, CES)
  and free text in Portuguese, Spanish and English, on the map's -2..+2 scale;
* :mod:`jornada.living.conformance`: designed vs actual, how real stage paths follow the
  map's order (skips, backward moves, loops, time outside the map, deviating paths);
* :mod:`jornada.living.discover`: a first map drawn from event data alone.

>>> from jornada.living import SentimentScorer
>>> SentimentScorer().label("Atendimento excelente!")
'positive'
"""

from jornada.living.conformance import Conformance, ConformanceError, conformance, stage_paths
from jornada.living.discover import DiscoveredMap, DiscoverError, discover_map
from jornada.living.sentiment import (
    EmotionMeasure,
    MeasuredEmotion,
    SentimentError,
    SentimentScorer,
    SurveyScale,
    emotion_events,
    measured_emotion,
    survey_emotion,
)

__all__ = [
    "Conformance",
    "ConformanceError",
    "DiscoverError",
    "DiscoveredMap",
    "EmotionMeasure",
    "MeasuredEmotion",
    "SentimentError",
    "SentimentScorer",
    "SurveyScale",
    "conformance",
    "discover_map",
    "emotion_events",
    "measured_emotion",
    "stage_paths",
    "survey_emotion",
]
