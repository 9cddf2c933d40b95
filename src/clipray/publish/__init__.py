"""Publishing to the platforms: one :class:`~clipray.publish.base.PlatformAdapter` per
platform, each speaking that platform's documented upload protocol over HTTP, with every
endpoint in settings (``CLIPRAY_PUBLISH__<PLATFORM>__...``) so that tests point the same code
at a local server that implements the protocol.

The use cases (connect an account, publish, schedule) live in ``services/``; this package is
the edge that talks to the platforms.
"""
