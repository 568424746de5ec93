"""The catalog database: RDS PostgreSQL 16, Multi-AZ, encrypted, private.

pgvector needs no ``shared_preload_libraries``: Shipway's first migration runs ``CREATE EXTENSION IF
NOT EXISTS vector`` as the master user (an ``rds_superuser``), so the parameter group only makes TLS
mandatory.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .config import ShipwayConfig
from .security_groups import POSTGRES_PORT

DB_NAME = "shipway"
DB_USERNAME = "shipway"
BACKUP_RETENTION_DAYS = 7


@dataclass(frozen=True)
class Database:
    """The RDS instance and its master password (a Pulumi secret)."""

    instance: aws.rds.Instance
    password: pulumi.Output[str]


def parameter_group_family(engine_version: str) -> str:
    """RDS parameter group family of a PostgreSQL engine version: ``"16"`` or ``"16.4"`` -> ``"postgres16"``."""
    return f"postgres{engine_version.split('.')[0]}"


def database_url(password: str, address: str, port: int) -> str:
    """``postgresql://`` URL Shipway reads from ``DATABASE_URL``; ``sslmode=require`` matches the
    parameter group's ``rds.force_ssl``."""
    return f"postgresql://{DB_USERNAME}:{quote(password, safe='')}@{address}:{port}/{DB_NAME}?sslmode=require"


def create_database(cfg: ShipwayConfig, private_subnet_ids: list[pulumi.Input[str]],
                    security_group: aws.ec2.SecurityGroup) -> Database:
    """Create the subnet group (the private subnets), the parameter group and the instance."""
    # Only characters RDS accepts in a password and a URL carries unescaped.
    password = random.RandomPassword(f"{cfg.name}-db", length=32, special=True, override_special="-_~")
    subnet_group = aws.rds.SubnetGroup(f"{cfg.name}-db", subnet_ids=private_subnet_ids,
                                       description="Shipway RDS: private subnets of the three zones")
    parameters = aws.rds.ParameterGroup(
        f"{cfg.name}-pg", family=parameter_group_family(cfg.db_engine_version),
        description="Shipway PostgreSQL (pgvector via CREATE EXTENSION in the migrations)",
        parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")])
    instance = aws.rds.Instance(
        f"{cfg.name}-db",
        engine="postgres",
        engine_version=cfg.db_engine_version,
        instance_class=cfg.db_instance_class,
        allocated_storage=cfg.db_allocated_storage_gb,
        max_allocated_storage=cfg.db_max_allocated_storage_gb,
        storage_type="gp3",
        storage_encrypted=True,
        multi_az=True,
        publicly_accessible=False,
        db_subnet_group_name=subnet_group.name,
        vpc_security_group_ids=[security_group.id],
        parameter_group_name=parameters.name,
        db_name=DB_NAME,
        username=DB_USERNAME,
        password=password.result,
        port=POSTGRES_PORT,
        backup_retention_period=BACKUP_RETENTION_DAYS,
        backup_window="02:00-03:00",
        maintenance_window="sun:03:30-sun:04:30",
        copy_tags_to_snapshot=True,
        auto_minor_version_upgrade=True,
        enabled_cloudwatch_logs_exports=["postgresql"],
        deletion_protection=cfg.deletion_protection,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{cfg.name}-final",
    )
    return Database(instance=instance, password=password.result)
