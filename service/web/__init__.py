"""The HTTP face: the Flask app (/v1/... endpoints), request and response schemas, the OpenAPI document,
admission, metrics, the waitress server and the service's command line. Named `web`, not `http`, so
that it never shadows the standard library's http. May import every other part of the service."""
