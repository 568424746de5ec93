"""``python -m activities.artifact_probe <tree>``: load an artifact tree's graph exactly as a worker
will (isolated import, factory called, graph compiled) and print its input and output JSON Schemas.

Run by the build step in a subprocess, so a project's import-time code never runs inside the worker
that builds it. Prints one JSON object ``{"input_schema", "output_schema"}``; exits 1 with the error
on stderr when the graph cannot be loaded.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from activities.artifact_loader import load_folder


def _schema_or_none(make) -> dict | None:
    # pydantic cannot describe some state types (e.g. typing.TypedDict before Python 3.12): the
    # graph still runs, only without that schema
    try:
        return make()
    except Exception:  # noqa: BLE001 - any schema failure means "no schema", see above
        return None


def schemas(tree: Path) -> dict:
    """The input and output JSON Schemas of ``tree``'s graph (None where pydantic cannot describe one).

    The input schema is the manifest's ``input_model`` when it names one (a pydantic model, with its
    constraints), else the compiled graph's ``get_input_jsonschema()``. The output schema is the
    compiled graph's ``get_output_jsonschema()``, or None when the manifest names an ``output`` function.

    Raises:
        Exception: whatever loading or compiling the graph raises.
    """
    loaded = load_folder(tree)
    graph = loaded.graph()
    compiled = graph.compile() if hasattr(graph, "compile") and not hasattr(graph, "astream") else graph
    manifest = loaded.manifest
    input_schema = (loaded.attr(manifest.input_model).model_json_schema() if manifest.input_model
                    else _schema_or_none(compiled.get_input_jsonschema))
    output_schema = None if manifest.output else _schema_or_none(compiled.get_output_jsonschema)
    return {"input_schema": input_schema or {}, "output_schema": output_schema}


def main(argv: list[str]) -> int:
    """Probe the tree ``argv[0]``; 0 and the schemas on stdout, or 1 and the error on stderr."""
    try:
        print(json.dumps(schemas(Path(argv[0])), default=str))
        return 0
    except Exception:  # any failure of user code is reported, not raised
        traceback.print_exc(limit=-3)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
