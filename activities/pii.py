"""Presidio analyzer configured for offline use.

Pattern recognizers always run; spaCy NER (PERSON, LOCATION, ...) joins when an English
spaCy pipeline (``en_core_web_sm``) is installed. Presidio's email recognizer calls
``tldextract``, whose default extractor would download the public suffix list: it is
replaced by one that uses only the snapshot shipped in the package.
"""

from __future__ import annotations

from functools import lru_cache

import tldextract.tldextract as _tld
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult

_tld.TLD_EXTRACTOR = _tld.TLDExtract(suffix_list_urls=())

# Entities that make a spec or a run's output unsafe, with the minimum score (0-1) that counts.
BLOCKING_ENTITIES: dict[str, float] = {
    "CREDIT_CARD": 0.5,
    "US_SSN": 0.5,
    "IBAN_CODE": 0.5,
    "US_BANK_NUMBER": 0.4,
    "US_PASSPORT": 0.4,
    "US_DRIVER_LICENSE": 0.6,
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.4,
    "PERSON": 0.85,
}


@lru_cache(maxsize=1)
def analyzer() -> AnalyzerEngine:
    """The process-wide Presidio ``AnalyzerEngine`` (built once; ~1 s)."""
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine

    try:
        import spacy

        spacy.util.get_package_path("en_core_web_sm")
        nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    except (ImportError, ModuleNotFoundError, OSError):
        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry)


def find_pii(text: str, entities: dict[str, float] | None = None) -> list[RecognizerResult]:
    """PII findings in ``text`` at or above each entity's minimum score, ordered by position."""
    wanted = entities or BLOCKING_ENTITIES
    results = analyzer().analyze(text=text, language="en", entities=list(wanted))
    return sorted((r for r in results if r.score >= wanted.get(r.entity_type, 1.0)), key=lambda r: r.start)
