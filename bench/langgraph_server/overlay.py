"""The overlay venv the LangGraph dev server runs in: its own conflicting packages, the main venv's for the rest.

``langgraph-api`` pins ``jsonschema-rs`` 0.44 while the main venv's schemathesis needs 0.60, so the
server cannot be installed beside Shipway. The overlay is a venv of the same interpreter whose
``site-packages`` holds a ``.pth`` file adding the main venv's ``site-packages`` *after* its own
(``site.addsitedir``, so the main venv's own ``.pth`` files run too and the editable install's
``reference_agents`` resolves). ``pip install -r requirements/bench-langgraph.txt`` then installs only
what is missing or conflicts; pip never touches the main venv (it does not uninstall outside its
own environment).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAY_DIR = REPO_ROOT / ".venv-langgraph"
REQUIREMENTS = REPO_ROOT / "requirements" / "bench-langgraph.txt"
# sorts after the venv's own .pth files (e.g. distutils-precedence.pth), as the last entry of sys.path
PTH_NAME = "zz_shipway_main_venv.pth"
STAMP_NAME = ".installed"


def _requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_overlay(venv_dir: Path = OVERLAY_DIR) -> Path:
    """The overlay venv at ``venv_dir``, created and installed when missing or when
    ``requirements/bench-langgraph.txt`` changed since it was installed (a stamp file keeps its
    SHA-256); reused as is otherwise.

    Must be called from the main venv's interpreter (its ``site-packages`` is what the overlay adds).

    Returns:
        the overlay's ``bin`` directory (holds ``python`` and ``langgraph``).

    Raises:
        subprocess.CalledProcessError: ``venv`` or ``pip install`` failed (pip's output is on stderr).
    """
    bin_dir = venv_dir / "bin"
    stamp = venv_dir / STAMP_NAME
    digest = _requirements_digest()
    if stamp.is_file() and stamp.read_text().strip() == digest and (bin_dir / "langgraph").is_file():
        return bin_dir
    print(f"setting up the LangGraph dev server's overlay venv at {venv_dir} (once; it sees the main venv's "
          f"packages and adds {REQUIREMENTS.relative_to(REPO_ROOT)}, which conflict with them: pip reports "
          f"schemathesis's jsonschema-rs pin as broken, which holds for the overlay only) ...", flush=True)
    if not (bin_dir / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    overlay_purelib = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    main_purelib = sysconfig.get_paths()["purelib"]
    (Path(overlay_purelib) / PTH_NAME).write_text(f"import site; site.addsitedir({main_purelib!r})\n")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(digest + "\n")
    print(f"overlay venv ready: {venv_dir}", flush=True)
    return bin_dir
