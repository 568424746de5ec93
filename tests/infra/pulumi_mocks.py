"""Runs the Pulumi program under Pulumi's mocks: no CLI, no provider plugin, no AWS account.

Every resource the program registers is recorded with its inputs as the engine would receive them
(Outputs resolved, camelCase property names), and the mocks answer with made-up ids, ARNs and
endpoints. The program runs in a thread of its own with its own event loop: Pulumi drives asyncio
itself (``run_until_complete`` on the current loop), which must not touch the session loop
pytest-asyncio keeps in the main thread for the rest of the suite.

A module of its own rather than conftest.py: tests/integration has a conftest.py too, both would be
the top-level module ``conftest``, and which one an import got would depend on collection order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d"]


def _kind(type_: str) -> str:
    """``aws:ecs/service:Service`` -> ``Service``."""
    return type_.rsplit(":", 1)[-1]


class RecordingMocks(pulumi.runtime.Mocks):
    """Records each registered resource; returns its inputs plus the outputs the program reads."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        name, kind, inputs = args.name, _kind(args.typ), args.inputs
        # every resource gets an ARN, and a name the way Pulumi auto-names one left unnamed
        out: dict[str, Any] = {"arn": f"arn:aws:mock:{REGION}:{ACCOUNT}:{kind.lower()}/{name}",
                               "name": inputs.get("name", f"{name}-a1b2c3d")}
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            out |= {"dnsName": f"{name}-1234.{REGION}.elb.amazonaws.com", "arnSuffix": f"app/{name}/50dc6c495c0c9188"}
        elif args.typ == "aws:lb/targetGroup:TargetGroup":
            out |= {"arnSuffix": f"targetgroup/{name}/73e2d6bc24d8a067"}
        elif args.typ == "aws:rds/instance:Instance":
            address = f"{name}.abcdefghij.{REGION}.rds.amazonaws.com"
            out |= {"address": address, "endpoint": f"{address}:{int(inputs['port'])}", "identifier": name}
        elif args.typ == "aws:secretsmanager/secret:Secret":
            out |= {"arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"}
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            out |= {"arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{inputs['name']}"}
        elif args.typ == "aws:s3/bucket:Bucket":
            out |= {"bucket": f"{inputs['bucketPrefix']}20260101", "arn": f"arn:aws:s3:::{inputs['bucketPrefix']}20260101"}
        elif args.typ == "random:index/randomPassword:RandomPassword":
            out |= {"result": "mock-password-0123456789abcdef"}
        return f"{name}-id", {**inputs, **out}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ZONES, "zoneIds": [f"euw1-az{i}" for i in range(1, len(ZONES) + 1)], "id": REGION}
        return {}


@dataclass
class BuiltStack:
    """What one run of the program registered, and its resolved exports."""

    resources: list[pulumi.runtime.MockResourceArgs]
    exports: dict[str, Any]

    def of(self, type_: str) -> list[pulumi.runtime.MockResourceArgs]:
        """Resources of a type token, e.g. ``aws:ecs/service:Service``, in registration order."""
        return [r for r in self.resources if r.typ == type_]

    def named(self, type_: str, name: str) -> dict[str, Any]:
        """Inputs of the one resource of ``type_`` named ``name``."""
        (found,) = [r for r in self.of(type_) if r.name == name]
        return found.inputs

    def id_of(self, type_: str, name: str) -> str:
        """The mock id of that resource (what other resources' inputs hold when they reference it)."""
        self.named(type_, name)
        return f"{name}-id"


def run_program(program: Callable[[], dict[str, Any] | None], config: dict[str, str] | None = None,
                secret_keys: list[str] | None = None) -> BuiltStack:
    """Run ``program`` under :class:`RecordingMocks` with stack config ``config`` (full keys such as
    ``shipway:image``; values as `pulumi config` stores them, strings or JSON); ``program`` returns the
    exports (or None when it calls ``pulumi.export``, whose values are then not collected)."""

    def in_thread() -> BuiltStack:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            mocks = RecordingMocks()
            pulumi.runtime.set_all_config(config or {}, secret_keys or [])
            pulumi.runtime.set_mocks(mocks, project="shipway", stack="test", preview=False)
            exports: dict[str, Any] = {}

            @pulumi.runtime.test
            def run() -> pulumi.Output:
                return pulumi.Output.from_input(program() or {}).apply(exports.update)

            run()
            return BuiltStack(resources=mocks.resources, exports=exports)
        finally:
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result()
