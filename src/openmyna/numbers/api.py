"""Public number checks: no number is stored or logged by them."""

from __future__ import annotations

from fastapi import APIRouter

from openmyna.core.web import UnitOfWorkRoute
from openmyna.numbers import formats
from openmyna.numbers.schemas import NumberCheckRequest, NumberCheckResult

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/api/numbers", tags=["numbers"])

_CHECKERS = {
    "auto": formats.check_any,
    "my_number": formats.check_my_number,
    "corporate_number": formats.check_corporate_number,
    "local_government_code": formats.check_local_government_code,
    "resident_code": formats.check_resident_code,
}


@router.post("/check", response_model=NumberCheckResult)
def check_number(body: NumberCheckRequest) -> NumberCheckResult:
    """Validate a number's format and check digit, saying why it fails (POST so it stays out of URLs)."""
    result = _CHECKERS[body.kind](body.number)
    formatted = result.formatted
    if result.kind == "my_number" and result.valid:
        formatted = formats.mask_my_number(result.number)
    return NumberCheckResult(kind=result.kind, valid=result.valid, reason=result.reason, formatted=formatted)
