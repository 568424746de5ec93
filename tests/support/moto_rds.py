"""An RDS stand-in for the RDS backup and restore tests: moto in server mode (a real HTTP endpoint on
loopback) with a VPC, two subnets, a DB subnet group, a security group and a PostgreSQL instance with
automated backups (retention 7 days)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3

from tests.support.moto_server import REGION, moto_server

INSTANCE_ID = "shipway-db"
SUBNET_GROUP = "shipway-db-subnets"


@dataclass(frozen=True)
class MotoRds:
    """What a test builds on: boto3 client keyword arguments for the moto endpoint (``kw``), the
    instance's id, its DB subnet group's name and its VPC security group's id."""

    kw: dict
    instance_id: str
    subnet_group: str
    security_group: str

    def client(self, service: str = "rds"):
        """A boto3 client of ``service`` on the moto endpoint."""
        return boto3.client(service, **self.kw)

    def create_postgres(self, instance_id: str, backup_retention_days: int = 7) -> dict:
        """Create another PostgreSQL instance in the same subnet and security group; its
        DescribeDBInstances entry."""
        return self.client().create_db_instance(
            DBInstanceIdentifier=instance_id, Engine="postgres", EngineVersion="16.3", DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20, MasterUsername="shipway", MasterUserPassword="not-a-secret-1",
            BackupRetentionPeriod=backup_retention_days, DBSubnetGroupName=self.subnet_group,
            VpcSecurityGroupIds=[self.security_group])["DBInstance"]


@contextmanager
def moto_rds() -> Iterator[MotoRds]:
    """A moto server on a free loopback port with the instance ``shipway-db`` (PostgreSQL, backup
    retention 7 days) in its own subnet group and security group; stopped on exit."""
    with moto_server() as kw:
        ec2, rds = boto3.client("ec2", **kw), boto3.client("rds", **kw)
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for cidr, az in (("10.1.1.0/24", f"{REGION}a"), ("10.1.2.0/24", f"{REGION}b"))]
        rds.create_db_subnet_group(DBSubnetGroupName=SUBNET_GROUP, DBSubnetGroupDescription="shipway database",
                                   SubnetIds=subnets)
        group = ec2.create_security_group(GroupName="shipway-db", Description="shipway database", VpcId=vpc)["GroupId"]
        stand_in = MotoRds(kw=kw, instance_id=INSTANCE_ID, subnet_group=SUBNET_GROUP, security_group=group)
        stand_in.create_postgres(INSTANCE_ID)
        yield stand_in
