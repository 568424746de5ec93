"""Input rails with NVIDIA NeMo Guardrails: jailbreak, prompt injection, system-prompt extraction and
off-topic requests (against the topics an agent declares).

Offline by default. The rails are a NeMo ``RailsConfig`` (``rails_config/``: Colang 1.0 canonical
forms with example utterances for the attack intents and for benign hard negatives; the agent's
topics and description become ``define user ask on topic`` at run time) whose examples NeMo embeds
into its ``BasicEmbeddingsIndex`` with the local all-MiniLM-L6-v2 (provider ``shipway_minilm``,
:mod:`activities.guards.rails_embedding`). A text is matched against that index directly (NeMo's
dialog engine would add ~7 ms and one embedding per call): split into views (the whole text when
short, each sentence, a de-obfuscated copy when spacing / leetspeak changed it), all embedded in one
forward pass, each view's cosine to every example computed on NeMo's index matrix.

* signatures first (:mod:`activities.guards.rail_patterns`): well-known attack markers blocked
  without a forward pass;
* attack: some view's best attack example (jailbreak / prompt injection / system prompt) has cosine
  >= ``ATTACK_MIN_COS`` and beats that view's best benign example by >= ``ATTACK_MARGIN``;
* off topic (only when topics are given): no view comes within ``ON_TOPIC_MIN_COS`` of an on-topic
  example (the agent's topics, or a neutral one: data values, small talk), and the best off-topic
  example beats the best on-topic one by >= ``OFF_TOPIC_MARGIN``;
* with an LLM (``provider:model``), NeMo's ``self_check_input`` action with the config's prompt runs
  on what the embedding rails let through.

Every rail fails closed: an exception blocks with ``RAIL_ERROR``, more than ``timeout_s`` with
``RAIL_TIMEOUT``. One guard serves concurrent calls (asyncio and threads): per-topic-set configs and
indexes are built once (LRU), the encoder serialises forward passes.
"""

from __future__ import annotations

import os

# Before nemoguardrails is imported: no usage telemetry (it posts to events.telemetry.data.nvidia.com).
os.environ.setdefault("NEMO_GUARDRAILS_NO_USAGE_STATS", "1")

import asyncio
import logging
import re
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from cachetools import LRUCache

from activities.guards import rails_embedding
from activities.guards.rail_patterns import first_signature

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).with_name("rails_config")

# Thresholds, cosine similarity of MiniLM embeddings (bf16), chosen on the dev split of
# activities/guards/eval/rails_set.jsonl (59 attacks, 77 benign) by bench/rails_thresholds.py:
# - attack: the highest dev detection with dev false positives <= 4 % (3 of 77), ties to the larger
#   threshold, then the larger margin: 0.50 / 0.075 detects 53/59 with 3 false positives
#   (0.425 / 0.15: 53 with 3; 0.425 / 0.20: 49 with 1; 0.60 / any margin: 35 with 0; no margin
#   at 0.40: 58 with 10).
# - topic: 0.15 to 0.175 with a 0.05 margin catch all 15 dev off-topic requests without adding a
#   false positive (from 0.20 one more benign text is blocked); the lowest threshold is kept.
# Test split, these thresholds: detection 61/74 = 82.4 %, false positives 1/77 = 1.3 %.
ATTACK_MIN_COS = 0.50
ATTACK_MARGIN = 0.075
ON_TOPIC_MIN_COS = 0.15
OFF_TOPIC_MARGIN = 0.05

DEFAULT_TIMEOUT_S = 5.0  # embeddings take ~5-30 ms; the LLM self-check a few hundred ms
INDEX_CACHE_SIZE = 64  # distinct (topics, description) sets kept built
WHOLE_TEXT_WORDS = 48  # a text this short is also matched as a whole (else sentence by sentence)
WINDOW_WORDS = 32  # an over-long sentence is matched in windows of this many words (half overlap)


@dataclass(frozen=True)
class RailVerdict:
    """One text through the rails: ``blocked`` by ``rail`` with ``reason_code``; the best-matching
    intent and its cosine; the time taken (ms)."""

    blocked: bool
    rail: str | None  # jailbreak | prompt_injection | system_prompt | off_topic | self_check | rail_error | None
    reason_code: str | None
    intent: str | None
    score: float | None
    latency_ms: float


@dataclass(frozen=True)
class Thresholds:
    """The embedding rails' decision thresholds (cosine)."""

    attack: float = ATTACK_MIN_COS
    margin: float = ATTACK_MARGIN
    on_topic: float = ON_TOPIC_MIN_COS
    topic_margin: float = OFF_TOPIC_MARGIN


@dataclass(frozen=True)
class Match:
    """What the embedding rails measured on one text (before thresholds).

    ``views``: per view, (best attack intent, its cosine, best benign cosine). ``on_topic`` and
    ``off_topic``: best cosine over all views to the agent's topic / generic off-topic examples
    (``None`` without topics). ``nearest``: the overall best intent and cosine.
    """

    views: tuple[tuple[str, float, float], ...]
    on_topic: float | None
    off_topic: float | None
    nearest: tuple[str, float]


class TopicRails:
    """One (topics, description) set: its NeMo ``RailsConfig``, the ``BasicEmbeddingsIndex`` of every
    ``define user`` example, and the example columns of each kind."""

    def __init__(self, topics: tuple[str, ...], description: str) -> None:
        from nemoguardrails import RailsConfig
        from nemoguardrails.embeddings.basic import BasicEmbeddingsIndex
        from nemoguardrails.embeddings.index import IndexItem
        from nemoguardrails.llm.taskmanager import LLMTaskManager

        raw = yaml.safe_load((CONFIG_DIR / "config.yml").read_text())
        for prompt in raw.get("prompts", []):
            prompt["content"] = prompt["content"].format(
                agent_description=description or "a financial assistant", agent_topics=", ".join(topics) or "finance")
        colang = "\n\n".join(p.read_text() for p in sorted(CONFIG_DIR.glob("*.co")))
        if topics:
            colang += "\n\ndefine user ask on topic\n" + "".join(f'  "{_quote(s)}"\n' for s in _topic_examples(topics, description))
        self.config = RailsConfig.from_content(colang_content=colang, config=raw)
        self.task_manager = LLMTaskManager(self.config)
        spec = self.config.custom_data["shipway_rails"]
        self.attack = {intent: tuple(v) for intent, v in spec["attack_intents"].items()}
        items = [IndexItem(text=text, meta={"intent": intent})
                 for intent, texts in self.config.user_messages.items() for text in texts]
        esp = self.config.core.embedding_search_provider
        self.index = BasicEmbeddingsIndex(embedding_model=esp.parameters["embedding_model"],
                                          embedding_engine=esp.parameters["embedding_engine"], cache_config=esp.cache)
        _run(self._build(items))
        # cosines are computed with torch, not numpy: numpy's BLAS threads spin after a product and
        # then slow the next forward pass 3-4x on 2 cores (measured at 2,000 characters)
        self.examples_t = torch.from_numpy(np.ascontiguousarray(self.index.embeddings_index.T))
        self.intents = [item.meta["intent"] for item in items]
        kinds = np.array(self.intents, dtype=object)
        self.is_attack = np.isin(kinds, list(self.attack))
        self.is_on = np.isin(kinds, [spec["on_topic_intent"], *spec.get("neutral_intents", [])])
        self.is_off = np.isin(kinds, spec["off_topic_intents"])
        self.has_topics = bool(topics)

    async def _build(self, items) -> None:
        await self.index.add_items(items)
        await self.index.build()

    def match(self, text: str) -> Match:
        """Cosines of ``text``'s views to every example (one forward pass for all views)."""
        views = text_views(text)
        cos = (torch.from_numpy(rails_embedding.encoder().encode(views)) @ self.examples_t).numpy()  # (views, examples)
        attack = np.where(self.is_attack, cos, -1.0)
        benign = np.where(self.is_attack, -1.0, cos)
        best_attack = attack.argmax(axis=1)
        per_view = tuple((self.intents[k], float(attack[v, k]), float(benign[v].max())) for v, k in enumerate(best_attack))
        v, k = np.unravel_index(cos.argmax(), cos.shape)
        on = float(cos[:, self.is_on].max()) if self.has_topics else None
        off = float(cos[:, self.is_off].max()) if self.has_topics else None
        return Match(per_view, on, off, (self.intents[k], float(cos[v, k])))


def decide(m: Match, rails: TopicRails, t: Thresholds) -> tuple[str | None, str | None, str, float]:
    """(rail, reason code, intent, cosine) of a match under ``t``; rail ``None`` when it passes."""
    hits = [(a - b, intent, a) for intent, a, b in m.views if a >= t.attack and a - b >= t.margin]
    if hits:
        _, intent, score = max(hits)
        rail, code = rails.attack[intent]
        return rail, code, intent, score
    if m.on_topic is not None and m.on_topic < t.on_topic and m.off_topic - m.on_topic >= t.topic_margin:
        return "off_topic", "OFF_TOPIC", "ask off topic", m.off_topic
    return None, None, *m.nearest


class RailsGuard:
    """The input rails of every agent in this worker process.

    Args:
        llm: ``provider:model`` (LangChain ``init_chat_model``) for NeMo's LLM self-check on top of
            the embedding rails; ``None``: embeddings only, no network.
        timeout_s: a check taking longer is blocked with ``RAIL_TIMEOUT``.
        thresholds: the embedding rails' thresholds (default: the constants above).
    """

    def __init__(self, llm: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 thresholds: Thresholds = Thresholds()) -> None:
        self.llm, self.timeout_s, self.thresholds = llm, timeout_s, thresholds
        self._lock = threading.Lock()
        self._rails: LRUCache = LRUCache(maxsize=INDEX_CACHE_SIZE)
        self._chat = None

    def warm_up(self) -> None:
        """Load the encoder and build the base index now, not in the first check (~1-3 s once per
        process; a worker that only starts and stops never pays it)."""
        rails_embedding.on_executor(self.rails_for, (), "")

    def rails_for(self, topics: tuple[str, ...], description: str) -> TopicRails:
        """The built rails of one topic set (cached; built once even under concurrent calls)."""
        key = (topics, description if topics else "")
        rails_embedding.register()
        with self._lock:
            if (hit := self._rails.get(key)) is None:
                hit = self._rails[key] = TopicRails(*key)
            return hit

    def match(self, text: str, topics: list[str], description: str) -> tuple[TopicRails, Match]:
        """The embedding rails' measurements of ``text`` (blocking; on the rails' thread)."""
        return rails_embedding.on_executor(self._match, text, topics, description)

    def _match(self, text: str, topics: list[str], description: str) -> tuple[TopicRails, Match]:
        rails = self.rails_for(tuple(topics), description)
        return rails, rails.match(text)

    async def check(self, text: str, topics: list[str], description: str) -> RailVerdict:
        """Judge one text; never raises (a failing or slow rail blocks the text)."""
        started = time.perf_counter()
        try:
            # the first check of a topic set builds its index (and the first of the process loads the
            # encoder): once, so not held to the per-check timeout; a failure still blocks
            await asyncio.get_running_loop().run_in_executor(rails_embedding.EXECUTOR, self.rails_for, tuple(topics), description)
            rail, code, intent, score = await asyncio.wait_for(self._check(text, topics, description), self.timeout_s)
        except (asyncio.TimeoutError, TimeoutError):
            log.warning("input rails timed out after %.1f s", self.timeout_s)
            rail, code, intent, score = "rail_error", "RAIL_TIMEOUT", None, None
        except Exception as exc:  # noqa: BLE001 - fail closed, see the module docstring
            log.warning("input rail failed: %s: %s", type(exc).__name__, exc)
            rail, code, intent, score = "rail_error", "RAIL_ERROR", None, None
        return RailVerdict(rail is not None, rail, code, intent, None if score is None else round(score, 4),
                           round((time.perf_counter() - started) * 1000, 3))

    async def _check(self, text: str, topics: list[str], description: str):
        if (sig := first_signature([text, deobfuscate(text)])) is not None:
            return sig.rail, sig.reason_code, f"signature {sig.name}", 1.0
        loop = asyncio.get_running_loop()
        rails, m = await loop.run_in_executor(rails_embedding.EXECUTOR, self._match, text, topics, description)
        rail, code, intent, score = decide(m, rails, self.thresholds)
        if rail is None and self.llm:
            if await self._self_check_refuses(rails, text):
                return "self_check", "SELF_CHECK_REFUSED", intent, score
        return rail, code, intent, score

    async def _self_check_refuses(self, rails: TopicRails, text: str) -> bool:
        """NeMo's ``self_check_input`` action, with the config's prompt, through the LangChain model."""
        from nemoguardrails.library.self_check.input_check.actions import self_check_input

        outcome = await self_check_input(llms={}, llm_task_manager=rails.task_manager, llm=self._chat_model(),
                                         config=rails.config, user_message=text)
        return outcome.is_blocked

    def _chat_model(self):
        with self._lock:
            if self._chat is None:
                from langchain.chat_models import init_chat_model
                from nemoguardrails.integrations.langchain.llm_adapter import LangChainLLMAdapter

                self._chat = LangChainLLMAdapter(init_chat_model(self.llm, timeout=self.timeout_s, max_retries=1))
            return self._chat


def _run(coro):
    """Run a NeMo coroutine to completion from sync code, also when called inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _quote(s: str) -> str:
    return " ".join(s.replace('"', "'").replace("\\", " ").split())


def _topic_examples(topics: tuple[str, ...], description: str) -> list[str]:
    out = [ex for t in topics for ex in (t, f"I have a question about {t}.")]
    return out + ([description] if description else [])


_ZERO_WIDTH = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff]")
_SPACED = re.compile(r"\b(?:\w[ .\-_*]){2,}\w\b")  # "i g n o r e", "s.y.s.t.e.m"
_LEET_WORD = re.compile(r"[\w@$!|]*[a-zA-Z][\w@$!|]*")
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s*\n\s*")


def deobfuscate(text: str) -> str:
    """``text`` with letter spacing joined and leetspeak inside words undone ("1gn0r3" -> "ignore")."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)
    return _LEET_WORD.sub(lambda m: m.group().translate(_LEET) if re.search(r"[0-9@$!|]", m.group()) else m.group(), text)


def _segments(text: str) -> list[str]:
    words = text.split()
    out = [" ".join(words)] if len(words) <= WHOLE_TEXT_WORDS else []
    parts = [p for p in _SENTENCE.split(text) if p.strip()]
    if len(parts) > 1 or not out:
        carry: list[str] = []
        for part in parts:
            w = carry + part.split()
            if len(w) < 4:  # a fragment joins the next sentence (or, at the end, the one before)
                carry = w
                continue
            carry = []
            step = WINDOW_WORDS // 2
            out += [" ".join(w)] if len(w) <= WINDOW_WORDS else \
                [" ".join(w[i:i + WINDOW_WORDS]) for i in range(0, len(w) - step, step)]
        if carry:
            # a fragment at the end joins the sentence before it (alone, three words are no evidence)
            if out and len(out[-1].split()) + len(carry) <= WINDOW_WORDS:
                out[-1] = f"{out[-1]} {' '.join(carry)}"
            else:
                out.append(" ".join(carry))
    return out


def text_views(text: str) -> list[str]:
    """What is embedded for ``text``: the whole (when short), its sentences, and the same of its
    de-obfuscated copy when that differs (duplicates removed, order kept)."""
    views = _segments(text)
    plain = deobfuscate(text)
    if plain.casefold() != text.casefold():
        views += _segments(plain)
    return list(dict.fromkeys(v for v in views if v)) or [text]
