"""Secrets Manager: one secret per sensitive environment variable (``DATABASE_URL``, built from the RDS
endpoint and the generated password, and each configured secret: checkpoint keys, Temporal API key,
Jira token, ...). The containers get them as ECS ``secrets``, so no value appears in a task definition.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .config import DATABASE_URL_ENV, ShipwayConfig
from .database import Database, database_url


def create_secrets(cfg: ShipwayConfig, db: Database) -> dict[str, aws.secretsmanager.Secret]:
    """Create the secrets and their current values.

    Returns: environment variable name -> its secret (whose ``arn`` the containers reference).
    """
    values: dict[str, pulumi.Input[str]] = {
        DATABASE_URL_ENV: pulumi.Output.secret(pulumi.Output.all(db.password, db.instance.address, db.instance.port)
                                               .apply(lambda a: database_url(a[0], a[1], a[2]))),
        **cfg.secrets,
    }
    secrets = {}
    for env, value in values.items():
        slug = env.lower().replace("_", "-")
        secret = aws.secretsmanager.Secret(f"{cfg.name}-{slug}", description=f"Shipway {env}",
                                           kms_key_id=cfg.secrets_kms_key_arn)
        aws.secretsmanager.SecretVersion(f"{cfg.name}-{slug}", secret_id=secret.id,
                                         secret_string=pulumi.Output.secret(value))
        secrets[env] = secret
    return secrets
