"""The VPC: three availability zones, each with a public subnet (ALB, NAT gateway) and a private one
(ECS tasks, RDS); private subnets reach the internet (Temporal Cloud, ECR, the model provider, Jira)
through NAT gateways, and S3 through a gateway endpoint."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .config import ShipwayConfig

AZ_COUNT = 3


@dataclass(frozen=True)
class Network:
    """The VPC and its subnets, in availability-zone order (``public_subnets[i]`` and
    ``private_subnets[i]`` share a zone)."""

    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]

    @property
    def public_subnet_ids(self) -> list[pulumi.Output[str]]:
        """Ids of the public subnets (the ALB's), in zone order."""
        return [s.id for s in self.public_subnets]

    @property
    def private_subnet_ids(self) -> list[pulumi.Output[str]]:
        """Ids of the private subnets (tasks and RDS), in zone order."""
        return [s.id for s in self.private_subnets]


def subnet_cidrs(vpc_cidr: str, count: int = AZ_COUNT) -> tuple[list[str], list[str]]:
    """``(public, private)`` CIDR blocks, ``count`` of each, cut from ``vpc_cidr``.

    The VPC is split into 16 equal blocks (a /16 gives /20s of 4,096 addresses): public subnets
    take the first ``count``, private ones the ``count`` from the middle on, leaving room to add
    zones or subnet tiers without renumbering.
    """
    blocks = [str(b) for b in ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=4)]
    return blocks[:count], blocks[8:8 + count]


def availability_zones(cfg: ShipwayConfig) -> list[str]:
    """The configured zones, or the region's first three available ones."""
    if cfg.availability_zones:
        return list(cfg.availability_zones)
    names = aws.get_availability_zones(state="available").names
    if len(names) < AZ_COUNT:
        raise ValueError(f"region {cfg.region} has {len(names)} available zones; Shipway's layout needs {AZ_COUNT}")
    return names[:AZ_COUNT]


def create_network(cfg: ShipwayConfig) -> Network:
    """Create the VPC, its 3 public and 3 private subnets, the internet gateway, NAT gateways (one per
    zone, or one in all when ``single_nat_gateway``) and the route tables."""
    zones = availability_zones(cfg)
    public_cidrs, private_cidrs = subnet_cidrs(cfg.vpc_cidr)
    vpc = aws.ec2.Vpc(cfg.name, cidr_block=cfg.vpc_cidr, enable_dns_support=True, enable_dns_hostnames=True,
                      tags={"Name": cfg.name})
    igw = aws.ec2.InternetGateway(cfg.name, vpc_id=vpc.id, tags={"Name": cfg.name})

    public_rt = aws.ec2.RouteTable(f"{cfg.name}-public", vpc_id=vpc.id, tags={"Name": f"{cfg.name}-public"})
    aws.ec2.Route(f"{cfg.name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                  gateway_id=igw.id)

    public_subnets, private_subnets, nat_gateways, private_rts = [], [], [], []
    for i, zone in enumerate(zones):
        public = aws.ec2.Subnet(f"{cfg.name}-public-{i}", vpc_id=vpc.id, cidr_block=public_cidrs[i],
                                availability_zone=zone, map_public_ip_on_launch=False,
                                tags={"Name": f"{cfg.name}-public-{zone}", "tier": "public"})
        aws.ec2.RouteTableAssociation(f"{cfg.name}-public-{i}", subnet_id=public.id, route_table_id=public_rt.id)
        public_subnets.append(public)
        private_subnets.append(aws.ec2.Subnet(
            f"{cfg.name}-private-{i}", vpc_id=vpc.id, cidr_block=private_cidrs[i], availability_zone=zone,
            map_public_ip_on_launch=False, tags={"Name": f"{cfg.name}-private-{zone}", "tier": "private"}))

    # One NAT per zone keeps a zone's outage from cutting the others off the internet; a single NAT
    # saves two gateways' hourly cost at the price of that.
    for i in range(1 if cfg.single_nat_gateway else len(zones)):
        eip = aws.ec2.Eip(f"{cfg.name}-nat-{i}", domain="vpc", tags={"Name": f"{cfg.name}-nat-{zones[i]}"})
        nat_gateways.append(aws.ec2.NatGateway(
            f"{cfg.name}-{i}", allocation_id=eip.id, subnet_id=public_subnets[i].id,
            tags={"Name": f"{cfg.name}-{zones[i]}"}, opts=pulumi.ResourceOptions(depends_on=[igw])))

    for i, private in enumerate(private_subnets):
        rt = aws.ec2.RouteTable(f"{cfg.name}-private-{i}", vpc_id=vpc.id, tags={"Name": f"{cfg.name}-private-{zones[i]}"})
        aws.ec2.Route(f"{cfg.name}-private-{i}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                      nat_gateway_id=nat_gateways[min(i, len(nat_gateways) - 1)].id)
        aws.ec2.RouteTableAssociation(f"{cfg.name}-private-{i}", subnet_id=private.id, route_table_id=rt.id)
        private_rts.append(rt)

    # Artifacts go to S3 without crossing (and paying for) the NAT gateways.
    aws.ec2.VpcEndpoint(f"{cfg.name}-s3", vpc_id=vpc.id, service_name=f"com.amazonaws.{cfg.region}.s3",
                        vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts],
                        tags={"Name": f"{cfg.name}-s3"})
    return Network(vpc=vpc, public_subnets=public_subnets, private_subnets=private_subnets)
