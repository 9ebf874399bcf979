"""GET /healthz (liveness, LLM up|degraded|down) and GET /readyz (can the recommender take a turn).

Both stay open for probes; counts (items, sessions) and why the LLM is down are shown only to a
caller with the API key. The LLM's state comes from asking its server (GET {base_url}/models),
at most once per `ApiLimits.health_probe_seconds`, and from the circuit breaker of the calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from genrec.ui.api.llm_probe import llm_health
from genrec.ui.api.schemas import Health, Ready

if TYPE_CHECKING:
    from genrec.agent import Recommender
    from genrec.ui.api.service import ApiService


async def llm_state(service: ApiService) -> tuple[str, float | None, str | None]:
    """(state, seconds until the next try, why it is down): the probe of the server first
    (down when it does not answer), then the breaker of the calls."""
    state, retry_in = llm_health(getattr(service.rec, "llm", None))
    breaker = getattr(getattr(service.rec, "llm", None), "breaker", None)
    answered = getattr(breaker, "last_success", None)
    probed = (
        await service.llm_probe.state(answered if isinstance(answered, float) else None)
        if state != "none"
        else None
    )
    if probed is not None and not probed[0]:
        return "down", None, probed[1]
    return state, retry_in, None


def health_routes(app: FastAPI, service: ApiService) -> None:
    """Add /healthz and /readyz to `app`."""

    @app.get("/healthz", response_model=Health, response_model_exclude_none=True, tags=["health"])
    async def healthz(request: Request) -> Health:
        """Liveness: 200 while the service can answer, with the LLM's state (its server asked at
        most every few seconds)."""
        rec = service.rec
        llm, retry_in, why = await llm_state(service)
        items = sessions = None
        if service.authorized(request):
            catalog = getattr(rec, "catalog", None)
            items = len(catalog) if catalog is not None else None
            try:
                sessions = await run_in_threadpool(_session_count, rec)
            except Exception:  # noqa: BLE001 - a count is nice to have, not a health failure
                sessions = None
        return Health(llm=llm, llm_retry_in=retry_in,
                      llm_down_because=why if service.authorized(request) else None,
                      backend=str(getattr(rec, "backend_name", "unknown")),
                      dataset=_dataset(service), items=items, sessions=sessions,
                      auth=bool(service.settings.api_key))

    @app.get("/readyz", response_model=Ready, tags=["health"],
             responses={503: {"description": "Not ready: which check failed."}})
    async def readyz() -> Ready | JSONResponse:
        """Readiness: the catalog is loaded and the session store answers (the LLM is optional)."""
        checks: dict[str, str] = {}
        catalog = getattr(service.rec, "catalog", None)
        checks["catalog"] = "ok" if catalog is not None and len(catalog) else "empty"
        try:
            await run_in_threadpool(service.rec.session_exists, "readyz-probe")
            checks["sessions"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["sessions"] = f"failed: {type(exc).__name__}"
        checks["llm"] = (await llm_state(service))[0]
        if checks["catalog"] == checks["sessions"] == "ok":
            return Ready(checks=checks)
        failed = ", ".join(f"{k} {v}" for k, v in checks.items() if k != "llm" and v != "ok")
        return JSONResponse({"error": {"message": f"not ready: {failed}", "type": "not_ready",
                                       "code": 503}, "checks": checks}, status_code=503)


def _dataset(service: ApiService) -> str:
    """The dataset served: the setting, or with `auto` the catalog's name (what auto chose)."""
    named = str(service.settings.dataset)
    if named == "auto":
        return str(getattr(getattr(service.rec, "catalog", None), "name", None) or named)
    return named


def _session_count(rec: Recommender) -> int | None:
    """How many sessions the recommender stores (None when it cannot say)."""
    listing = getattr(rec, "list_sessions", None)
    return len(listing()) if callable(listing) else None
