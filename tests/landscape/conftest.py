"""Makes the helpers next to these tests (`landscape_nets`) importable in any import mode."""

import sys
from pathlib import Path

_here = str(Path(__file__).resolve().parent)
if _here not in sys.path:
    sys.path.insert(0, _here)
