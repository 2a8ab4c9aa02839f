"""Imports every model module so ``Base.metadata`` is complete (Alembic, tests)."""

from agency import audit  # noqa: F401
from agency.channels import models as channel_models  # noqa: F401
from agency.content import models as content_models  # noqa: F401
from agency.notifications import models as notification_models  # noqa: F401
from agency.workflow import models as workflow_models  # noqa: F401
from tenants import models as tenant_models  # noqa: F401
