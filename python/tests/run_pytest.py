"""ctest's entry to the pytest suite: `python run_pytest.py ARGS` is `python -m pytest ARGS`,
except that it exits 77 (ctest SKIP_RETURN_CODE) when pytest or numpy is not installed."""

import importlib.util
import sys

missing = [m for m in ("pytest", "numpy") if importlib.util.find_spec(m) is None]
if missing:
    print(f"SKIP: {' and '.join(missing)} not installed (python3 -m pip install {' '.join(missing)})")
    sys.exit(77)

import pytest  # noqa: E402

sys.exit(pytest.main(sys.argv[1:]))
