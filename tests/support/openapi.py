"""Validate real responses against the service's own /openapi.json (OpenAPI 3.1, JSON Schema 2020-12).

Every status a path answers must be documented with a JSON schema, and the body must match it;
responses that are not JSON (/metrics) must be documented with their content type.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:headgaze:openapi"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApiCheck:
    """Callable on a `requests.Response`: AssertionError when it is not what the document promises."""

    def __init__(self, document: dict):
        self.document = document
        self.registry = Registry().with_resource(BASE, Resource.from_contents(document, default_specification=DRAFT202012))
        self.routes = [(re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", path) + "$"), path)
                       for path in document["paths"]]
        self._validators: dict[tuple[str, str, str], Draft202012Validator] = {}

    @classmethod
    def from_url(cls, base_url: str, headers: dict[str, str] | None = None) -> OpenApiCheck:
        """The check for the document the service at `base_url` serves."""
        resp = requests.get(base_url + "/openapi.json", headers=headers, timeout=30)
        resp.raise_for_status()
        return cls(resp.json())

    def template(self, path: str) -> str | None:
        return next((template for rx, template in self.routes if rx.match(path)), None)

    def __call__(self, resp: requests.Response) -> None:
        path = urlsplit(resp.request.url).path
        method = resp.request.method.lower()
        status = str(resp.status_code)
        template = self.template(path)
        if template is None:  # unknown paths answer the JSON error document
            assert resp.status_code in (404, 405), f"{method.upper()} {path}: {status} for an undocumented path"
            self.validate_error(resp)
            return
        operation = self.document["paths"][template].get(method)
        if operation is None:
            assert resp.status_code == 405, f"{method.upper()} {path}: undocumented method answered {status}"
            self.validate_error(resp)
            return
        answer = operation["responses"].get(status)
        assert answer is not None, f"{method.upper()} {template}: status {status} is not in /openapi.json"
        ctype = resp.headers.get("Content-Type", "").split(";")[0]
        assert ctype in answer.get("content", {}), (
            f"{method.upper()} {template} {status}: Content-Type {ctype!r} is not documented "
            f"({sorted(answer.get('content', {}))})")
        if ctype == "application/json":
            self.validator(template, method, status).validate(resp.json())

    def validator(self, template: str, method: str, status: str) -> Draft202012Validator:
        key = (template, method, status)
        if key not in self._validators:
            ref = f"{BASE}#/{_pointer('paths', template, method, 'responses', status, 'content', 'application/json', 'schema')}"
            self._validators[key] = Draft202012Validator({"$ref": ref}, registry=self.registry)
        return self._validators[key]

    def validate_error(self, resp: requests.Response) -> None:
        assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.text[:200]
        Draft202012Validator({"$ref": f"{BASE}#/components/schemas/Error"}, registry=self.registry).validate(resp.json())
