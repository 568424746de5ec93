"""One Temporal workflow per runbook of the operations guide (``docs/operations.md``, Runbooks)."""
