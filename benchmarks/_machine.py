"""The machine a benchmark ran on, recorded beside every result: a thin view of `genrec.provenance`.

`machine()` keeps the keys benchmark results have always had; `provenance()` is the full record.
"""

from __future__ import annotations

from typing import Any

from genrec.provenance import machine as _machine
from genrec.provenance import provenance, versions


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM (GiB), Python and torch versions, platform and the 1-minute load
    average."""
    m, v = _machine(), versions()
    return {"cpu": m["cpu"], "cores": m["cores"], "ram_gib": m["ram_gib"], "python": v["python"],
            "torch": v["torch"], "platform": m["platform"], "load_avg_1m": m["load_avg_1m"]}


__all__ = ["machine", "provenance"]
