"""Which kind of device a login comes from, told by its User-Agent."""

from __future__ import annotations

import re

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
