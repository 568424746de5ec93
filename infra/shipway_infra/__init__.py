"""Shipway's Pulumi program for AWS, one module per concern; :func:`shipway_infra.stack.build` wires them."""
