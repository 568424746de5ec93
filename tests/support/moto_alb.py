"""An AWS stand-in for the ``aws`` deployment target's tests: moto in server mode (a real HTTP
endpoint on loopback) with a VPC, two subnets, an internal ALB and an HTTP listener."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

from tests.support.moto_server import REGION, moto_server



@dataclass(frozen=True)
class MotoAlb:
    """What a test builds on: boto3 client keyword arguments for the moto endpoint (``kw``), the
    VPC, its two subnets (``us-east-1a``/``b``) and the listener's ARN."""

    kw: dict
    vpc: str
    subnets: list[str]
    listener: str

    def client(self, service: str):
        """A boto3 client of ``service`` on the moto endpoint."""
        return boto3.client(service, **self.kw)


@contextmanager
def moto_alb() -> Iterator[MotoAlb]:
    """A moto server on a free loopback port with a VPC, two subnets, an internal ALB and an HTTP
    listener whose default action answers 404; stopped on exit."""
    with moto_server() as kw:
        ec2, elbv2 = boto3.client("ec2", **kw), boto3.client("elbv2", **kw)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for cidr, az in (("10.0.1.0/24", f"{REGION}a"), ("10.0.2.0/24", f"{REGION}b"))]
        alb = elbv2.create_load_balancer(Name="shipway", Subnets=subnets, Scheme="internal",
                                         Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
        listener = elbv2.create_listener(
            LoadBalancerArn=alb, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]["ListenerArn"]
        yield MotoAlb(kw=kw, vpc=vpc, subnets=subnets, listener=listener)
