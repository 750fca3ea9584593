"""Every context's tables on one MetaData, for Alembic (`migrations/env.py`) and its tests.

Part of the composition root: the one module that gathers the contexts' models, so that
`kinoteka.infra.db` imports no context.
"""

from __future__ import annotations

import kinoteka.analytics.models  # registers the analytics tables
import kinoteka.auth.models  # registers the auth tables
import kinoteka.catalog.audit  # registers the admin audit trail
import kinoteka.catalog.models  # registers the catalog tables
import kinoteka.media.models  # registers the media tables
import kinoteka.notify.models  # noqa: F401 - registers the notify tables
from kinoteka.infra.db.base import Base

metadata = Base.metadata
