"""Every rule of the message-status endpoint, with no I/O.

The sync (requests) and async (aiohttp) clients are thin drivers over this package: they send
``call.request`` and hand what came back to ``call.receive()`` (or a transport failure to
``call.fail()``), which returns the parsed status, or how long to wait before sending again,
or raises the typed error. Nothing here opens a socket or sleeps.

Contract: ``shared/octopods-api`` (the vendor's page and how we read its open points).
"""
