"""FactCC-style synthetic claims (Kryscinski et al., EMNLP 2020, ``data_generation/`` of the authors' code).

A *claim* is one sentence of a training document. Kept as it is it is consistent (label 1); rewritten
by one rule-based transformation it is inconsistent (label 0):

* :func:`entity_swap` -- a named entity (PERSON, ORG, GPE, ...) becomes another entity of the *same*
  type from the same document (FactCC took any entity of its category list, whatever its type);
* :func:`number_swap` -- a CARDINAL / QUANTITY / MONEY / PERCENT / ORDINAL becomes another of the same
  type from the document, or, when the document has none, the number is perturbed (one digit or one
  number word changed; FactCC returned nothing then);
* :func:`date_swap` -- the same for DATE / TIME (months, weekdays, parts of the day, digits perturbed);
* :func:`pronoun_swap` -- a pronoun becomes another of its class (subject, object, possessive,
  reflexive; FactCC's lists with their typos fixed: "our", "ourselves", "herself");
* :func:`negation` -- "not" / "n't" added after an auxiliary, or an existing one removed.

:func:`add_noise` (FactCC's noise injection: tokens outside the changed span dropped or duplicated)
gives noisy copies of positives and negatives alike, so noise tells nothing about the label.

Limitation: FactCC's positives also include paraphrases by back-translation (Google Translate through
French, German, Chinese, Spanish, Russian). That needs a translation service or translation models,
which are not available offline here, so our positives are the original sentence (and its noisy copy)
only; a classifier trained on them may treat any rewording as inconsistent.

Other known noise, as in FactCC: a pronoun swap may break agreement ("they were" -> "she were"), so
some negatives are also ungrammatical; a date or number swap may, rarely, give a true statement
("last week" for "ten days ago"); and spaCy's NER, trained on cased text, finds fewer entities and
makes more type errors on the lowercased CNN/DM text of See et al. (2017) (about 74 entities per 1,000
tokens on 200 training documents), which lowers the yield of the entity swap.

Parsing is apart from transforming: :func:`parse` turns spaCy's analysis into the plain dataclasses
:class:`ParsedDocument` / :class:`ParsedSentence` / :class:`Entity` / :class:`Token`, and every
transformation is a pure function ``fn(doc, sentence, rng) -> Claim | None`` over them (``None`` when it
does not apply), so the unit tests build documents by hand. Whether a transformation applies never
depends on ``rng``; only which change it makes does.

:func:`make_examples` is FactCC's recipe for one document and :func:`build_claims` streams a JSONL file
of documents into a JSONL file of claims, each document with its own seed derived from
``(config.seed, document id)``, so the output does not depend on order, sharding or ``limit``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quals.files import atomic_path, atomic_write_json
from quals.metrics.qags_config import DEFAULT_SPACY_MODEL

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1

CONSISTENT, INCONSISTENT = 1, 0
ORIGINAL = "original"

ENTITY_LABELS = ("PERSON", "ORG", "NORP", "FAC", "GPE", "LOC", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE")
NUMBER_LABELS = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL")
DATE_LABELS = ("DATE", "TIME")

# FactCC's PronounSwap lists, its typos fixed ("out" -> "our", "outselves" -> "ourselves") and "herself" added.
PRONOUN_CLASSES: dict[str, tuple[str, ...]] = {
    "SUBJECT": ("you", "he", "she", "we", "they"),
    "OBJECT": ("me", "you", "him", "her", "us", "them"),
    "POSSESSIVE": ("my", "your", "his", "her", "its", "our", "their"),
    "REFLEXIVE": ("myself", "yourself", "himself", "herself", "itself", "ourselves", "yourselves", "themselves"),
}
# FactCC's negatable tokens plus "am" and "wo" (the "wo" of "wo n't").
NEGATABLE = frozenset(("am", "are", "is", "was", "were", "have", "has", "had", "do", "does", "did", "can", "ca",
                       "could", "may", "might", "must", "shall", "should", "will", "wo", "would"))
NOT_ONLY = frozenset(("am", "may", "might", "must", "shall", "will"))  # FactCC: these take "not", never "n't"
NEGATIONS = frozenset(("not", "n't"))
_UNNEGATED = {"ca": "can", "wo": "will", "sha": "shall"}

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_PARTS = ("morning", "afternoon", "evening", "night")
_RELATIVE_DAYS = ("yesterday", "today", "tomorrow")
_DATE_WORDS = (_MONTHS, _WEEKDAYS, _DAY_PARTS, _RELATIVE_DAYS)
_NUMBER_WORDS = (
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"),
    ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
    ("hundred", "thousand", "million", "billion", "trillion"),
    ("hundreds", "thousands", "millions", "billions"),
    ("dozen", "dozens"),
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"),
    ("half", "quarter", "third"),
)
_WORD_RE = re.compile(r"[A-Za-z]+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------
# Parsed documents (plain data; spaCy only in parse / from_spacy)


@dataclass(frozen=True)
class Token:
    """One token; ``start``/``end`` are character offsets in the document."""

    text: str
    start: int
    end: int
    pos: str = ""  # universal POS (spaCy ``pos_``), "" when unknown
    tag: str = ""  # fine-grained tag (spaCy ``tag_``), e.g. PRP$
    dep: str = ""  # dependency label (spaCy ``dep_``), e.g. nsubj


@dataclass(frozen=True)
class Entity:
    """One named entity; character offsets in the document."""

    text: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedSentence:
    """One sentence: its character span in the document, its tokens and the entities inside it."""

    start: int
    end: int
    tokens: tuple[Token, ...]
    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    sentences: tuple[ParsedSentence, ...]
    entities: tuple[Entity, ...] = ()

    def sentence_text(self, sentence: ParsedSentence) -> str:
        return self.text[sentence.start:sentence.end]


def load_pipeline(name: str = DEFAULT_SPACY_MODEL):
    """The spaCy pipeline ``name`` (tagger, parser for sentences, NER; no lemmatizer), loaded once."""
    from quals.metrics.spacy_pipelines import load_pipeline as load

    return load(name, ("lemmatizer",))


def from_spacy(doc) -> ParsedDocument:
    """A spaCy ``Doc`` (with sentence boundaries and entities) as a :class:`ParsedDocument`."""
    entities = tuple(Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents)
    sentences = []
    for sent in doc.sents:
        tokens = tuple(Token(t.text, t.idx, t.idx + len(t.text), t.pos_, t.tag_, t.dep_)
                       for t in sent if not t.is_space)
        if not tokens:
            continue
        start, end = tokens[0].start, tokens[-1].end
        inside = tuple(e for e in entities if e.start >= start and e.end <= end)
        sentences.append(ParsedSentence(start, end, tokens, inside))
    return ParsedDocument(doc.text, tuple(sentences), entities)


def parse(nlp, text: str) -> ParsedDocument:
    """Parse ``text`` with the spaCy pipeline ``nlp`` (e.g. :func:`load_pipeline`)."""
    return from_spacy(nlp(text))


# --------------------------------------------------------------------------------------------------
# Claims


@dataclass(frozen=True)
class Span:
    """One change: ``claim_text[start:end] == replacement``, which stands where the sentence had ``original``.

    ``source`` says where the replacement came from: "document" (another mention of the document),
    "perturbed" (a number or date word changed by rule) or "rule" (pronoun or negation).
    """

    start: int
    end: int
    original: str
    replacement: str
    source: str = "rule"


@dataclass(frozen=True)
class Claim:
    """One synthetic claim; ``sentence_start``/``sentence_end`` locate its sentence in the document."""

    text: str
    label: int  # 1 consistent, 0 inconsistent
    transformation: str  # "original" for a positive, else the transformation's name
    spans: tuple[Span, ...] = ()
    noise: bool = False
    sentence_start: int = 0
    sentence_end: int = 0

    def to_record(self) -> dict:
        return {"claim": self.text, "label": self.label, "transformation": self.transformation,
                "spans": [asdict(s) for s in self.spans], "noise": self.noise,
                "sentence_span": [self.sentence_start, self.sentence_end]}


def original(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random | None = None) -> Claim:
    """The sentence itself: a consistent claim."""
    return Claim(doc.sentence_text(sentence), CONSISTENT, ORIGINAL, (), False, sentence.start, sentence.end)


def _rewrite(doc: ParsedDocument, sentence: ParsedSentence, start: int, end: int, replacement: str,
             name: str, source: str) -> Claim | None:
    """The sentence with document characters ``start:end`` replaced; None when nothing changes."""
    text = doc.sentence_text(sentence)
    rel_start, rel_end = start - sentence.start, end - sentence.start
    old = text[rel_start:rel_end]
    if old == replacement:
        return None
    new_text = text[:rel_start] + replacement + text[rel_end:]
    span = Span(rel_start, rel_start + len(replacement), old, replacement, source)
    return Claim(new_text, INCONSISTENT, name, (span,), False, sentence.start, sentence.end)


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _swap_candidates(doc: ParsedDocument, entity: Entity) -> list[str]:
    """Distinct texts of the document's other entities of ``entity``'s type, first mention first.

    As in FactCC, a text that contains the entity or is contained in it ("obama" / "barack obama") is
    not a replacement: it likely names the same thing.
    """
    own = _norm(entity.text)
    seen: dict[str, str] = {}
    for other in doc.entities:
        if other.label != entity.label:
            continue
        key = _norm(other.text)
        if not key or key == own or key in own or own in key or key in seen:
            continue
        seen[key] = other.text
    return list(seen.values())


def _swap_entity(doc, sentence, rng, labels, name, perturb: Callable[[str, random.Random], str | None] | None):
    options = []
    for entity in sentence.entities:
        if entity.label not in labels:
            continue
        candidates = _swap_candidates(doc, entity)
        if candidates:
            options.append((entity, candidates))
        elif perturb is not None and perturb(entity.text, random.Random(0)) is not None:
            options.append((entity, None))
    if not options:
        return None
    entity, candidates = options[rng.randrange(len(options))]
    if candidates:
        return _rewrite(doc, sentence, entity.start, entity.end, candidates[rng.randrange(len(candidates))],
                        name, "document")
    return _rewrite(doc, sentence, entity.start, entity.end, perturb(entity.text, rng), name, "perturbed")


def entity_swap(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random) -> Claim | None:
    """A named entity of the sentence replaced by a different entity of the same type from the document."""
    return _swap_entity(doc, sentence, rng, ENTITY_LABELS, "entity_swap", None)


def _perturb_digits(text: str, rng: random.Random, last: int | None = None) -> str | None:
    """One digit of ``text`` changed (among the ``last`` digits of each number when given); None if none."""
    runs = list(_NUMBER_RE.finditer(text))  # "1,250" and "2.5" are one number each
    if not runs:
        return None
    positions = []
    for run in runs:
        digits = [i for i in range(run.start(), run.end()) if text[i].isdigit()]
        positions.extend(digits if last is None else digits[-last:])
    i = positions[rng.randrange(len(positions))]
    # no leading zero ("250" -> "050", "1,250" -> "0,250"); "2.5" -> "0.5" is fine
    leading = any(run.start() == i and i + 1 < run.end() and text[i + 1] != "." for run in runs)
    digits = [d for d in "0123456789" if d != text[i] and not (leading and d == "0")]
    new = text[:i] + digits[rng.randrange(len(digits))] + text[i + 1:]
    return _ORDINAL_RE.sub(lambda m: m.group(1) + _ordinal_suffix(int(m.group(1)), m.group(2)), new)


def _ordinal_suffix(n: int, template: str) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return suffix.upper() if template.isupper() else suffix


def _perturb_words(text: str, rng: random.Random, groups: Iterable[tuple[str, ...]]) -> str | None:
    groups = tuple(groups)
    options = []
    for match in _WORD_RE.finditer(text):
        for group in groups:
            if match.group().lower() in group:
                options.append((match, group))
    if not options:
        return None
    match, group = options[rng.randrange(len(options))]
    others = [w for w in group if w != match.group().lower()]
    word = _match_case(match.group(), others[rng.randrange(len(others))])
    return text[:match.start()] + word + text[match.end():]


def perturb_number(text: str, rng: random.Random) -> str | None:
    """``text`` with one digit or one number word changed ("12" -> "17", "three" -> "eight"); None if none."""
    return _perturb_digits(text, rng) or _perturb_words(text, rng, _NUMBER_WORDS)


def perturb_date(text: str, rng: random.Random) -> str | None:
    """``text`` with a month, weekday, part of the day or one of the last two digits of a number changed
    ("2015" -> "2012", "march 3" -> "march 8"); None if it has none of them."""
    return _perturb_words(text, rng, _DATE_WORDS) or _perturb_digits(text, rng, last=2)


def number_swap(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random) -> Claim | None:
    """A number (CARDINAL, QUANTITY, MONEY, PERCENT, ORDINAL) replaced by another of the same type from the
    document, or perturbed when the document has no other."""
    return _swap_entity(doc, sentence, rng, NUMBER_LABELS, "number_swap", perturb_number)


def date_swap(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random) -> Claim | None:
    """A DATE or TIME replaced by another of the same type from the document, or perturbed when there is none."""
    return _swap_entity(doc, sentence, rng, DATE_LABELS, "date_swap", perturb_date)


def pronoun_class(token: Token) -> str | None:
    """The pronoun class of ``token`` (FactCC's lists), "her" and "you" told apart by tag and dependency."""
    word = token.text.lower()
    if word == "her":
        return "OBJECT" if token.tag == "PRP" else "POSSESSIVE"
    if word == "you":
        return "SUBJECT" if token.dep in ("nsubj", "nsubjpass") else "OBJECT"
    for name, words in PRONOUN_CLASSES.items():
        if word in words:
            return name
    return None


def pronoun_swap(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random) -> Claim | None:
    """A pronoun replaced by another pronoun of the same class ("he" -> "they", "his" -> "her")."""
    options = [t for t in sentence.tokens if pronoun_class(t) is not None]
    if not options:
        return None
    token = options[rng.randrange(len(options))]
    others = [w for w in PRONOUN_CLASSES[pronoun_class(token)] if w != token.text.lower()]
    word = _match_case(token.text, others[rng.randrange(len(others))])
    return _rewrite(doc, sentence, token.start, token.end, word, "pronoun_swap", "rule")


def _tokenized_style(doc: ParsedDocument) -> bool:
    """Whether the text is tokenized as in See et al. (2017) ("did n't", "it 's", "end ." with spaces)."""
    return " n't" in doc.text or " 's " in doc.text or bool(re.search(r"\w \.(\s|$)", doc.text))


def _is_auxiliary(token: Token) -> bool:
    return token.text.lower() in NEGATABLE and token.pos in ("", "AUX")


def negation(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random) -> Claim | None:
    """FactCC's NegateSentences: "not"/"n't" added after an auxiliary, or an existing "not"/"n't" removed.

    As in FactCC, of two auxiliaries in a row the first takes the negation ("could not have"), and an
    auxiliary followed by "no" is left alone. Unlike FactCC, "have"/"do"/... count only when the tagger
    calls them auxiliaries (not in "they have a dog"), when tags are known.
    """
    tokens = sentence.tokens
    options = []
    for i, token in enumerate(tokens):
        if not _is_auxiliary(token):
            continue
        if i > 0 and (_is_auxiliary(tokens[i - 1]) or tokens[i - 1].text.lower() in NEGATIONS):
            continue  # the earlier auxiliary is the option ("could not have", not "could have not")
        following = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""
        if following in ("no", "never"):
            continue
        if following in NEGATIONS or token.text.lower() not in _UNNEGATED:  # "ca"/"wo" only with their n't
            options.append(i)
    if not options:
        return None
    i = options[rng.randrange(len(options))]
    aux = tokens[i]
    word = aux.text.lower()
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    if following is not None and following.text.lower() in NEGATIONS:  # remove it
        fixed = _match_case(aux.text, _UNNEGATED[word]) if word in _UNNEGATED else aux.text
        return _rewrite(doc, sentence, aux.start, following.end, fixed, "negation", "rule")
    negator = "not" if word in NOT_ONLY else ("not", "n't")[rng.randrange(2)]
    if negator == "not":
        new = aux.text + " not"
    else:
        stem = _match_case(aux.text, "ca") if word == "can" else aux.text
        new = stem + (" n't" if _tokenized_style(doc) else "n't")  # "ca n't" / "can't", "did n't" / "didn't"
    return _rewrite(doc, sentence, aux.start, aux.end, new, "negation", "rule")


def add_noise(claim: Claim, rng: random.Random, *, prob: float = 0.05, delete_prob: float = 0.8) -> Claim | None:
    """FactCC's AddNoise: each whitespace token outside the changed spans is, with probability ``prob``,
    dropped (``delete_prob``) or duplicated. The label stays; None when nothing changed.

    Tokens are joined by single spaces afterwards and the spans moved to their new offsets.
    """
    words = list(re.finditer(r"\S+", claim.text))
    protected = [any(m.start() < s.end and s.start < m.end() for s in claim.spans) for m in words]
    out: list[str] = []
    new_start: dict[int, int] = {}  # word index -> offset of its (first) copy in the new text
    changed = False
    length = 0

    def emit(text: str) -> int:
        nonlocal length
        if out:
            length += 1
        out.append(text)
        start = length
        length += len(text)
        return start

    for k, match in enumerate(words):
        if not protected[k] and rng.random() < prob:
            changed = True
            if rng.random() < delete_prob:
                continue
            new_start[k] = emit(match.group())
            emit(match.group())
            continue
        new_start[k] = emit(match.group())
    if not changed or not out:
        return None
    text = " ".join(out)
    spans = []
    for span in claim.spans:  # its words were kept as they were: only their offsets move
        first = next(j for j, m in enumerate(words) if m.end() > span.start)
        last = max(j for j, m in enumerate(words) if m.start() < span.end)
        start = new_start[first] + max(0, span.start - words[first].start())
        end = new_start[last] + (span.end - words[last].start())
        spans.append(dataclasses.replace(span, start=start, end=end))
    return dataclasses.replace(claim, text=text, spans=tuple(spans), noise=True)


def noise(doc: ParsedDocument, sentence: ParsedSentence, rng: random.Random, *, prob: float = 0.05,
          delete_prob: float = 0.8) -> Claim | None:
    """The sentence with FactCC's noise (:func:`add_noise`): still consistent."""
    return add_noise(original(doc, sentence), rng, prob=prob, delete_prob=delete_prob)


TRANSFORMATIONS: dict[str, Callable[[ParsedDocument, ParsedSentence, random.Random], Claim | None]] = {
    "entity_swap": entity_swap,
    "number_swap": number_swap,
    "date_swap": date_swap,
    "pronoun_swap": pronoun_swap,
    "negation": negation,
}


def _default_weights() -> dict[str, float]:
    return {name: 1.0 for name in TRANSFORMATIONS}


# --------------------------------------------------------------------------------------------------
# One document


@dataclass(frozen=True)
class ClaimConfig:
    """Settings of the synthetic claims. FactCC's own value is in the help where it had one."""

    claims_per_document: int = field(default=2, metadata={
        "help": "Claim sentences sampled per document, each kept as a positive (FactCC: 1 per pass)."})
    negative_ratio: float = field(default=1.0, metadata={
        "help": "Negatives per positive (1.0 = balanced); a fraction is a chance of one more. Each negative of "
                "a sentence uses a different transformation."})
    transformation_weights: dict[str, float] = field(default_factory=_default_weights, metadata={
        "help": "Relative chance of each transformation among those that apply to a sentence "
                "(entity_swap, number_swap, date_swap, pronoun_swap, negation); 0 turns one off. "
                "FactCC applied every transformation to every claim."})
    noise_prob: float = field(default=0.05, metadata={
        "help": "Per-token chance of noise (drop or duplicate) in the noisy copies (FactCC: 0.05)."})
    noise_delete_prob: float = field(default=0.8, metadata={
        "help": "Chance that a noised token is dropped rather than duplicated (FactCC: 0.8)."})
    noisy_copies: bool = field(default=True, metadata={
        "help": "Add a noisy copy of every claim, positives and negatives alike, as FactCC did."})
    min_claim_tokens: int = field(default=8, metadata={"help": "Shortest claim sentence in tokens (FactCC: 8)."})
    max_claim_tokens: int = field(default=60, metadata={"help": "Longest claim sentence in tokens (FactCC: none)."})
    seed: int = field(default=0, metadata={"help": "Seed; every document gets its own stream from (seed, id)."})
    spacy_model: str = field(default=DEFAULT_SPACY_MODEL, metadata={"help": "spaCy pipeline of sentences and NER."})

    def __post_init__(self) -> None:
        if self.claims_per_document < 1:
            raise ValueError(f"claims_per_document must be >= 1, got {self.claims_per_document}")
        if self.negative_ratio < 0:
            raise ValueError(f"negative_ratio must be >= 0, got {self.negative_ratio}")
        unknown = set(self.transformation_weights) - set(TRANSFORMATIONS)
        if unknown:
            raise ValueError(f"unknown transformations {sorted(unknown)}; known: {list(TRANSFORMATIONS)}")
        if any(w < 0 for w in self.transformation_weights.values()):
            raise ValueError("transformation weights must be >= 0")
        for name in ("noise_prob", "noise_delete_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.min_claim_tokens <= self.max_claim_tokens:
            raise ValueError("need 1 <= min_claim_tokens <= max_claim_tokens")

    def weight(self, name: str) -> float:
        return self.transformation_weights.get(name, 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


def document_seed(seed: int, document_id: str) -> int:
    """The seed of one document's stream: a hash of (seed, id), the same in every order and shard."""
    digest = hashlib.sha256(f"{seed}\x00{document_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def eligible_sentences(parsed: ParsedDocument, config: ClaimConfig) -> list[ParsedSentence]:
    return [s for s in parsed.sentences if config.min_claim_tokens <= len(s.tokens) <= config.max_claim_tokens]


def applicable(parsed: ParsedDocument, sentence: ParsedSentence) -> list[str]:
    """The transformations that apply to ``sentence`` (this never depends on the random stream)."""
    return [name for name, fn in TRANSFORMATIONS.items() if fn(parsed, sentence, random.Random(0)) is not None]


def _weighted_order(names: list[str], weights: list[float], rng: random.Random) -> list[str]:
    # Efraimidis-Spirakis: sorting by u ** (1 / w) is weighted sampling without replacement.
    keys = [(rng.random() ** (1.0 / w), name) for name, w in zip(names, weights, strict=True) if w > 0]
    return [name for _, name in sorted(keys, reverse=True)]


def make_examples(document_text: str, parsed: ParsedDocument, rng: random.Random,
                  config: ClaimConfig | None = None) -> list[Claim]:
    """FactCC's recipe for one document: claim sentences sampled from it (between ``min_claim_tokens``
    and ``max_claim_tokens`` tokens), each kept as a positive, with ``negative_ratio`` negatives by
    transformations drawn by weight among those that apply, then a noisy copy of every claim.

    A sentence no transformation applies to is passed over for the next one, so positives and
    negatives stay balanced and come in pairs from the same sentences.
    """
    config = config or ClaimConfig()
    if parsed.text != document_text:
        raise ValueError("parsed is not the parse of document_text")
    sentences = eligible_sentences(parsed, config)
    rng.shuffle(sentences)
    names = list(TRANSFORMATIONS)
    weights = [config.weight(n) for n in names]
    claims: list[Claim] = []
    taken = 0
    for sentence in sentences:
        if taken >= config.claims_per_document:
            break
        wanted = math.floor(config.negative_ratio)
        if rng.random() < config.negative_ratio - wanted:
            wanted += 1
        negatives = []
        for name in _weighted_order(names, weights, rng):
            if len(negatives) >= wanted:
                break
            claim = TRANSFORMATIONS[name](parsed, sentence, rng)
            if claim is not None:
                negatives.append(claim)
        if wanted and not negatives:
            continue
        taken += 1
        claims.append(original(parsed, sentence))
        claims.extend(negatives)
    if config.noisy_copies and config.noise_prob > 0:
        noisy = [add_noise(c, rng, prob=config.noise_prob, delete_prob=config.noise_delete_prob) for c in claims]
        claims.extend(c for c in noisy if c is not None)
    return claims


# --------------------------------------------------------------------------------------------------
# Files


def _documents(path: Path) -> Iterator[tuple[str, str]]:
    from quals.data.readers import detect_format, read_numbered_records

    for line, record, problem in read_numbered_records(path, detect_format(path)):
        if problem is not None:
            logger.warning("%s: skipped: %s", path, problem)
            continue
        document = record.get("document")
        if not isinstance(document, str) or not document.strip():
            logger.warning("%s: line %s: skipped: no document", path, line)
            continue
        yield str(record.get("id", f"line-{line}")), document


def _pipeline_version(nlp) -> str:
    import spacy

    return f"spacy-{spacy.__version__}/{nlp.meta.get('name')}-{nlp.meta.get('version')}"


class _Stats:
    def __init__(self) -> None:
        self.documents = 0
        self.documents_without_claims = 0
        self.eligible_sentences = 0
        self.claims = Counter()  # "label/transformation[+noise]" -> count
        self.applicable_sentences = Counter()  # transformation -> eligible sentences it applies to
        self.documents_not_applicable = Counter()  # transformation -> documents with no sentence it applies to

    def add(self, line: dict) -> None:
        self.documents += 1
        self.documents_without_claims += line["claims"] == 0
        self.eligible_sentences += line["eligible"]
        self.claims.update(line["counts"])
        self.applicable_sentences.update(line["applicable"])
        self.documents_not_applicable.update(n for n in TRANSFORMATIONS if not line["applicable"].get(n))

    def to_dict(self) -> dict:
        return {"documents": self.documents, "documents_without_claims": self.documents_without_claims,
                "eligible_sentences": self.eligible_sentences, "claims": dict(sorted(self.claims.items())),
                "applicable_sentences": {n: self.applicable_sentences[n] for n in TRANSFORMATIONS},
                "documents_not_applicable": {n: self.documents_not_applicable[n] for n in TRANSFORMATIONS}}


def _claim_key(claim: Claim) -> str:
    return claim.transformation + ("+noise" if claim.noise else "")


def _read_progress(stats_path: Path, records_path: Path, settings: dict) -> tuple[list[str], _Stats]:
    """Documents finished by an interrupted run (their stats lines are complete); both partial files
    are cut back to the end of the last finished document."""
    stats = _Stats()
    done: list[str] = []
    if not stats_path.exists():
        records_path.unlink(missing_ok=True)
        return done, stats
    keep_stats, keep_records = 0, 0
    with open(stats_path, "rb") as handle:
        for number, raw in enumerate(handle):
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                break
            if not raw.endswith(b"\n"):
                break
            if number == 0:
                if line.get("settings") != settings:
                    raise ValueError(f"{stats_path} was written with other settings; delete it and "
                                     f"{records_path} to start again")
            else:
                done.append(line["document_id"])
                stats.add(line)
                keep_records = line["records_end"]
            keep_stats += len(raw)
    with open(stats_path, "r+b") as handle:
        handle.truncate(keep_stats)
    with open(records_path, "a+b") as handle:
        handle.truncate(keep_records)
    return done, stats


def build_claims(input_path: str | Path, output_path: str | Path, *, config: ClaimConfig | None = None,
                 limit: int | None = None, progress: bool = True, nlp=None, batch_size: int = 16) -> dict:
    """Synthetic claims for the documents of ``input_path`` (JSONL, ``.gz`` allowed; fields ``id``, ``document``)
    written to ``output_path`` (JSONL, gzipped when it ends in ``.gz``), one record per claim:
    ``{id, document_id, document, claim, label, transformation, spans, noise, sentence_span}``.

    The output appears whole or not at all (built in ``OUTPUT.partial*`` files and renamed); a run
    that was interrupted continues from its last finished document when called again with the same
    settings, and a finished one returns at once. Counts go to ``OUTPUT.stats.json`` and the log:
    claims per transformation, eligible sentences each transformation applies to and the documents
    where it applies to none.

    Returns:
        The counts (what ``OUTPUT.stats.json`` holds under ``"stats"``).
    Raises:
        FileExistsError: ``output_path`` exists but was made with other settings (or without counts).
        ValueError: partial files of another run are in the way.
    """
    config = config or ClaimConfig()
    input_path, output_path = Path(input_path), Path(output_path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    nlp = nlp if nlp is not None else load_pipeline(config.spacy_model)
    settings = {"format_version": FORMAT_VERSION, "input": str(input_path.resolve()), "limit": limit,
                "config": config.to_dict(), "pipeline": _pipeline_version(nlp)}
    stats_file = output_path.with_name(output_path.name + ".stats.json")
    if output_path.exists():
        try:
            finished = json.loads(stats_file.read_text())
        except (OSError, json.JSONDecodeError):
            finished = None
        if finished is None or finished.get("settings") != settings:
            raise FileExistsError(f"{output_path} exists and was made with other settings (see {stats_file})")
        logger.info("%s is finished; nothing to do", output_path)
        return finished["stats"]
    output_path.parent.mkdir(parents=True, exist_ok=True)
    records_path = output_path.with_name(output_path.name + ".partial.jsonl")
    progress_path = output_path.with_name(output_path.name + ".partial.stats.jsonl")
    done, stats = _read_progress(progress_path, records_path, settings)
    if done:
        logger.info("continuing %s after %d finished documents", output_path, len(done))

    def documents() -> Iterator[tuple[str, tuple[str, str]]]:
        for k, (doc_id, text) in enumerate(_documents(input_path)):
            if limit is not None and k >= limit:
                return
            if k < len(done):
                if done[k] != doc_id:
                    raise ValueError(f"{input_path} changed since the partial run: document {k} is {doc_id}, "
                                     f"was {done[k]}")
                continue
            yield text, (doc_id, text)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=limit, initial=len(done), unit="doc", desc=f"claims {output_path.name}")
    with open(records_path, "ab") as records, open(progress_path, "ab") as progress_lines:
        if not done and progress_lines.tell() == 0:
            progress_lines.write((json.dumps({"settings": settings}) + "\n").encode())
        for spacy_doc, (doc_id, text) in nlp.pipe(documents(), as_tuples=True, batch_size=batch_size):
            parsed = from_spacy(spacy_doc)
            claims = make_examples(text, parsed, random.Random(document_seed(config.seed, doc_id)), config)
            lines = []
            for k, claim in enumerate(claims):
                record = {"id": f"{doc_id}-{k}", "document_id": doc_id, "document": text, **claim.to_record()}
                lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            records.write("".join(lines).encode())
            records.flush()
            eligible = eligible_sentences(parsed, config)
            applies = Counter(name for s in eligible for name in applicable(parsed, s))
            line = {"document_id": doc_id, "claims": len(claims), "eligible": len(eligible),
                    "counts": dict(Counter(_claim_key(c) for c in claims)), "applicable": dict(applies),
                    "records_end": records.tell()}
            stats.add(line)
            progress_lines.write((json.dumps(line) + "\n").encode())
            progress_lines.flush()
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()

    summary = stats.to_dict()
    atomic_write_json(stats_file, {"settings": settings, "stats": summary})
    if output_path.suffix == ".gz":
        with atomic_path(output_path) as temporary:
            with open(records_path, "rb") as source, gzip.open(temporary, "wb", compresslevel=6) as target:
                shutil.copyfileobj(source, target)
        records_path.unlink()
    else:
        os.replace(records_path, output_path)
    progress_path.unlink()
    _log_stats(output_path, summary)
    return summary


def _log_stats(output_path: Path, summary: dict) -> None:
    logger.info("%s: %d documents (%d without a claim), %d eligible sentences", output_path,
                summary["documents"], summary["documents_without_claims"], summary["eligible_sentences"])
    for key, count in summary["claims"].items():
        logger.info("  claims %-20s %d", key, count)
    for name in TRANSFORMATIONS:
        logger.info("  %-13s applies to %d eligible sentences; to none in %d documents", name,
                    summary["applicable_sentences"][name], summary["documents_not_applicable"][name])


if __name__ == "__main__":  # the entry reproduce/factcc_data.sh used before `quals factcc-claims`
    from quals.cli.main import main

    _, source, target, *flags = sys.argv
    raise SystemExit(main(["factcc-claims", source, "-o", target, *flags]))
