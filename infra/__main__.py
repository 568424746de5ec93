"""Shipway on AWS: read the stack's config, create the resources, export what operators and the aws
deployment target need. Everything else lives in ``shipway_infra/``, one module per concern."""

import pulumi

from shipway_infra.config import load_config
from shipway_infra.stack import build

for name, value in build(load_config()).items():
    pulumi.export(name, value)
