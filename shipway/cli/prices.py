"""``shipway prices list|set``: the model price table (an admin's data, edited in the catalog database
directly, audited as ``price.set``)."""

from __future__ import annotations

from datetime import datetime

import typer

from shipway.cli.common import exit_now
from shipway.settings import get_settings

prices_app = typer.Typer(help="LLM model prices per million tokens, with effective dates: list, set.", no_args_is_help=True)
DAY = ["%Y-%m-%d"]


@prices_app.command("list")
def list_prices(at: datetime = typer.Option(None, formats=DAY, help="Only the prices in effect on this day (YYYY-MM-DD).")) -> None:
    """List prices: model, input and output per million tokens, currency, dates, source."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine

    with Session(sync_engine()) as s:
        rows = queries.price_rows(s, at.date() if at else None)
    typer.echo(f"{'MODEL':<22} {'INPUT':>9} {'OUTPUT':>9} {'CUR':<4} {'FROM':<10} {'TO':<10} {'READ':<10} {'BY':<16} SOURCE")
    for r in rows:
        typer.echo(f"{r.model:<22} {r.input_usd_per_mtok:>9g} {r.output_usd_per_mtok:>9g} {r.currency:<4} {r.effective_from}"
                   f" {str(r.effective_to or 'open'):<10} {str(r.source_date or '-'):<10} {r.updated_by:<16} {r.source or '-'}")
    exit_now(0)


@prices_app.command("set")
def set_price(model: str = typer.Argument(..., help="Model name without provider prefix, e.g. gpt-4o-mini."),
              input_price: float = typer.Option(..., "--input", help="Price per million input tokens."),
              output_price: float = typer.Option(..., "--output", help="Price per million output tokens."),
              effective_from: datetime = typer.Option(..., "--from", formats=DAY, help="First day it applies (YYYY-MM-DD, UTC)."),
              source: str = typer.Option(..., help="Where the price was read (URL or contract reference)."),
              currency: str = typer.Option("USD", help="ISO 4217 code; calls are priced from USD prices only."),
              read_on: datetime = typer.Option(None, "--read", formats=DAY, help="Day the price was read (default: today)."),
              as_user: str = typer.Option(None, "--as", help="Who sets it (audited; default: SHIPWAY_OPERATOR).")) -> None:
    """Add a price from a day on. The model's open price is closed the day before; a price that would
    overlap another (one starting that day or later, or a closed range covering it) is refused."""
    from sqlmodel import Session

    from shipway.db.engine import sync_engine
    from shipway.price_book import set_price as write_price
    from shipway.pricing import PRICING_CURRENCY

    try:
        with Session(sync_engine(), expire_on_commit=False) as s:
            change = write_price(s, model, input_price, output_price, effective_from.date(), source,
                                 as_user or get_settings().operator, currency, read_on.date() if read_on else None)
            s.commit()
    except ValueError as exc:  # PriceOverlap included
        typer.echo(f"cannot set the price of {model}: {exc}", err=True)
        exit_now(2)
    if change.closed is not None:
        typer.echo(f"closed {model} {change.closed.input_usd_per_mtok:g}/{change.closed.output_usd_per_mtok:g} "
                   f"{change.closed.currency}: {change.closed.effective_from} to {change.closed.effective_to}")
    added = change.added
    typer.echo(f"set {model} {added.input_usd_per_mtok:g}/{added.output_usd_per_mtok:g} {added.currency} per million tokens "
               f"(input/output) from {added.effective_from}")
    if added.currency != PRICING_CURRENCY:
        typer.echo(f"note: calls are priced in {PRICING_CURRENCY}; {model} has no price for calls from {added.effective_from}",
                   err=True)
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway prices ...``."""
    app.add_typer(prices_app, name="prices")
