"""How the fake API words its refusals: the real API's, and those of the gateways in front of it.

A gateway that rejects a body field says so in its own words, and pinman's classifier must name
the field whatever they are. `WORDINGS` holds one refusal per kind of gateway seen in the wild;
`rejection(wording, key)` builds the status and body the fake answers with. `_PLAIN_ERRORS` are
the refusals that ignore the request (401, 429, 529, a low credit balance, …).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

# mode -> (HTTP status, error type, message): plain errors that ignore the request.
PLAIN_ERRORS: dict[str, tuple[int, str, str]] = {
    "401": (401, "authentication_error", "invalid x-api-key"),
    "403": (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    "429": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit "
        "(https://docs.anthropic.com/en/api/rate-limits); see the response headers for current "
        "usage. Please reduce the prompt length or the maximum tokens requested, or try again "
        "later.",
    ),
    "529": (529, "overloaded_error", "Overloaded"),
    "500": (500, "api_error", "Internal server error"),
    "credit": (
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
        "to upgrade or purchase credits.",
    ),
}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def extra_inputs_message(key: str) -> str:
    return f"{key}: Extra inputs are not permitted"


def unexpected_beta_message(betas: Iterable[str]) -> str:
    names = ", ".join(f"`{b}`" for b in betas)
    return (
        f"Unexpected value(s) {names} for the `anthropic-beta` header. Please consult our "
        "documentation at docs.anthropic.com or try again without the header."
    )


def litellm_wrap(upstream: dict[str, Any], model_group: str) -> dict[str, Any]:
    """How a LiteLLM proxy reports an upstream 400: the upstream JSON as a string in a message."""
    message = (
        f"litellm.BadRequestError: AnthropicException - {json.dumps(upstream)}. "
        f"Received Model Group={model_group}\nAvailable Model Group Fallbacks=None"
    )
    return {"error": {"message": message, "type": None, "param": None, "code": "400"}}


def _plain(key: str, model: str) -> tuple[int, dict[str, Any]]:
    return 400, error_body("invalid_request_error", extra_inputs_message(key))


def _litellm(key: str, model: str) -> tuple[int, dict[str, Any]]:
    return 400, litellm_wrap(error_body("invalid_request_error", extra_inputs_message(key)), model)


def _bedrock(key: str, model: str) -> tuple[int, dict[str, Any]]:
    # A gateway before AWS Bedrock passing its ValidationException on.
    return 400, {"message": f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                            "please reformat your input and try again."}


def _vertex(key: str, model: str) -> tuple[int, dict[str, Any]]:
    said = f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
    return 400, {"error": {"code": 400, "message": said, "status": "INVALID_ARGUMENT",
                           "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                        "fieldViolations": [{"description": said}]}]}}


def _openai(key: str, model: str) -> tuple[int, dict[str, Any]]:
    # OpenAI-compatible proxies (Azure OpenAI's own words).
    return 400, {"error": {"message": f"Unrecognized request argument supplied: {key}",
                           "type": "invalid_request_error", "param": None, "code": None}}


def _pydantic(key: str, model: str) -> tuple[int, dict[str, Any]]:
    # A FastAPI gateway whose request model forbids extra fields: a 422 with pydantic's details.
    return 422, {"detail": [{"type": "extra_forbidden", "loc": ["body", key],
                             "msg": "Extra inputs are not permitted", "input": {}}]}


def _jsonschema(key: str, model: str) -> tuple[int, dict[str, Any]]:
    # A gateway validating bodies against a JSON Schema with additionalProperties false.
    return 400, {"error": {"type": "invalid_request_error",
                           "message": f"Additional properties are not allowed ('{key}' was unexpected)"}}


# wording -> (body key, model) -> (HTTP status, JSON body)
WORDINGS: dict[str, Callable[[str, str], tuple[int, dict[str, Any]]]] = {
    "plain": _plain,
    "litellm": _litellm,
    "bedrock": _bedrock,
    "vertex": _vertex,
    "openai": _openai,
    "pydantic": _pydantic,
    "jsonschema": _jsonschema,
}


def rejection(wording: str, key: str, model: str = "claude") -> tuple[int, dict[str, Any]]:
    """The status and body of a refusal of body key `key`, in the words of `wording`."""
    return WORDINGS[wording](key, model)
