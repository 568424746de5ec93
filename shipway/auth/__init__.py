"""Who may do what: roles and their actions (``roles``), API keys (``keys``: format and hashing;
``key_store``: the one writer of ``api_keys``)."""
