"""Dependencies the routes share (``Depends``): settings, the Temporal client, the database and the
served versions' input schemas, all owned by the app's lifespan."""

from __future__ import annotations

from fastapi import Request
from temporalio.client import Client

from shipway.db.engine import Database
from shipway.gateway.versions import VersionCache
from shipway.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def get_client(request: Request) -> Client:
    """The Temporal client connected at startup."""
    return request.app.state.client


def get_db(request: Request) -> Database:
    """The gateway's database (reads through :mod:`shipway.queries`)."""
    return request.app.state.db


def get_versions(request: Request) -> VersionCache:
    """What the gateway knows of each served version (its input schema)."""
    return request.app.state.versions
