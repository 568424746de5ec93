"""Makes the Pulumi program importable: it imports ``shipway_infra`` as ``pulumi up`` runs it, from
its own directory."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
