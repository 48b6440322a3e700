import sys
import subprocess


def test_model_and_engine_import_without_ray_or_pymupdf():
    code = (
        "import sys\n"
        "for m in ('ray', 'pymupdf', 'fitz'):\n"
        "    sys.modules[m] = None\n"
        "import raxdoc, raxdoc.model, raxdoc.engine\n"
        "assert 'ray' not in [k for k, v in sys.modules.items() if v is not None]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
