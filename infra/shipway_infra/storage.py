"""The artifact bucket: ``SHIPWAY_ARTIFACT_STORE=s3://<bucket>/artifacts`` (content-addressed objects
``artifacts/<sha256>``), encrypted, versioned, private, TLS only."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .config import ShipwayConfig

ARTIFACT_PREFIX = "artifacts"


@dataclass(frozen=True)
class ArtifactBucket:
    """The bucket and the key prefix Shipway writes under."""

    bucket: aws.s3.Bucket
    prefix: str = ARTIFACT_PREFIX

    @property
    def store_url(self) -> pulumi.Output[str]:
        """``s3://bucket/prefix``, the value of ``SHIPWAY_ARTIFACT_STORE``."""
        return pulumi.Output.concat("s3://", self.bucket.bucket, "/", self.prefix)


def tls_only_policy(bucket_arn: str) -> dict:
    """Bucket policy document refusing any request not made over TLS."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def create_artifact_bucket(cfg: ShipwayConfig) -> ArtifactBucket:
    """Create the bucket with SSE-S3 encryption (no KMS key the tasks would need rights on),
    versioning, all public access blocked, ACLs disabled and a TLS-only policy."""
    bucket = aws.s3.Bucket(f"{cfg.name}-artifacts", bucket_prefix=f"{cfg.name}-artifacts-", force_destroy=False)
    aws.s3.BucketOwnershipControls(f"{cfg.name}-artifacts", bucket=bucket.id,
                                   rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"))
    block = aws.s3.BucketPublicAccessBlock(f"{cfg.name}-artifacts", bucket=bucket.id, block_public_acls=True,
                                           block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{cfg.name}-artifacts", bucket=bucket.id,
        rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"))])
    aws.s3.BucketVersioning(f"{cfg.name}-artifacts", bucket=bucket.id,
                            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"))
    # One change at a time: S3 aborts a policy write racing the access block's on the same bucket.
    aws.s3.BucketPolicy(f"{cfg.name}-artifacts", bucket=bucket.id,
                        policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn))),
                        opts=pulumi.ResourceOptions(depends_on=[block]))
    return ArtifactBucket(bucket=bucket)
