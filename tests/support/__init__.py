"""Shared test support: paths and environment, free ports and a WSGI server thread, the one
`headgaze service` launcher, a restartable redis-server, deadline waits, and the OpenAPI check.

Import as ``tests.support.<module>``; run the tests with ``python -m pytest`` from the repository
root (or after ``make setup``, which installs the project into .venv).
"""
