"""Who is calling: the client's address and User-Agent, and the kind of device it tells."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from kinoteka.auth.models import DeviceType

_SMART_TV = re.compile(
    r"smart-?tv|smarttv|googletv|android ?tv|appletv|apple ?tv|\btvos\b|tizen|webos|web0s|"
    r"hbbtv|netcast|viera|bravia|roku|aft[a-z]+ build|crkey|\bvidaa\b",
    re.IGNORECASE,
)
_MOBILE = re.compile(
    r"mobile|iphone|ipod|ipad|android|blackberry|windows phone|opera mini|iemobile|okhttp|"
    r"cfnetwork|dalvik",
    re.IGNORECASE,
)
_WEB = re.compile(r"mozilla/|opera/|chrome/|safari/|edg/|firefox/", re.IGNORECASE)


def device_type_from_user_agent(user_agent: str | None) -> DeviceType:
    """TV before mobile (Android TV says `Android`), mobile before web (phones say `Mozilla`)."""
    if not user_agent:
        return DeviceType.OTHER
    if _SMART_TV.search(user_agent):
        return DeviceType.SMART_TV
    if _MOBILE.search(user_agent):
        return DeviceType.MOBILE
    if _WEB.search(user_agent):
        return DeviceType.WEB
    return DeviceType.OTHER


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling: for rate limits, sessions and the login history.

    `ip` is the connection's peer as the app sees it (`request.client.host`): the proxy's
    address unless the proxy is trusted (`KINOTEKA_TRUSTED_PROXIES`), which makes it the
    address the proxy forwarded.
    """

    ip: str | None = None
    user_agent: str | None = None

    @cached_property
    def device_type(self) -> DeviceType:
        # Read for the session and its history row: the User-Agent is parsed once.
        return device_type_from_user_agent(self.user_agent)

    @property
    def stored_user_agent(self) -> str | None:
        """The User-Agent as sessions and the login history keep it (bounded, None if empty)."""
        return (self.user_agent or "")[:512] or None
