"""Prices of LLM calls: list prices per model (``model_prices.yaml``, US dollars per million tokens)
and the price of one call. The ``model_prices`` table is seeded from the file by ``shipway migrate``;
an operator's own rows there take precedence."""

from __future__ import annotations

from pathlib import Path

import yaml

PRICES_FILE = Path(__file__).with_name("model_prices.yaml")


def load_prices(path: Path = PRICES_FILE) -> dict[str, tuple[float, float]]:
    """Read a price file: ``{provider: {model: {input: usd_per_mtok, output: usd_per_mtok}}}``.

    Returns:
        ``{model: (input_usd_per_million_tokens, output_usd_per_million_tokens)}``.

    Raises:
        OSError: the file cannot be read.
        KeyError, TypeError, ValueError: an entry lacks a numeric ``input`` or ``output``.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        model: (float(entry["input"]), float(entry["output"]))
        for models in raw.values()
        for model, entry in models.items()
    }


DEFAULT_PRICES: dict[str, tuple[float, float]] = load_prices()


def resolve_price_key(model: str, prices: dict[str, tuple[float, float]]) -> str | None:
    """The key of ``prices`` that prices ``model``, or ``None``.

    ``openai:gpt-4o-mini`` is looked up as ``gpt-4o-mini``; a dated snapshot such as
    ``gpt-4o-mini-2024-07-18`` takes the longest key it starts with followed by ``-``
    (so ``gpt-4o-mini-...`` is never priced as ``gpt-4o``).
    """
    name = model.split(":", 1)[1] if ":" in model else model
    for candidate in (model, name):
        if candidate in prices:
            return candidate
    prefixes = [key for key in prices if name.startswith(key + "-")]
    return max(prefixes, key=len) if prefixes else None


def price_usd(model: str, tokens_in: int, tokens_out: int, prices: dict[str, tuple[float, float]]) -> float:
    """Cost of a call in US dollars: ``(tokens_in * input + tokens_out * output) / 1e6``.

    Args:
        model: model name, with or without ``provider:`` prefix or snapshot date suffix.
        tokens_in, tokens_out: token counts (non-negative).
        prices: ``{model: (input_usd_per_million_tokens, output_usd_per_million_tokens)}``.

    Raises:
        KeyError: no price is known for ``model`` (the caller decides whether that is fatal).
        ValueError: a negative token count.
    """
    if tokens_in < 0 or tokens_out < 0:
        raise ValueError(f"token counts must be non-negative, got {tokens_in}, {tokens_out}")
    key = resolve_price_key(model, prices)
    if key is None:
        raise KeyError(f"no price for model {model!r}; known: {', '.join(sorted(prices))}")
    usd_in, usd_out = prices[key]
    return (tokens_in * usd_in + tokens_out * usd_out) / 1_000_000
