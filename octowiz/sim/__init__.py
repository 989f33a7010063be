"""A simulated Octopus Server (self-hosted) and Octopus Cloud instance.

The simulator answers the Octopus REST API in the shapes of real Octopus responses, in-process
(an ASGI app behind ``httpx.ASGITransport``) and over real HTTP on loopback (``octowiz sim``).
It never imports Textual.
"""
