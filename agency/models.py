"""Imports every model module so ``Base.metadata`` is complete (Alembic, tests)."""

from agency import audit  # noqa: F401
from agency.channels import models as channel_models  # noqa: F401
from agency.content import models as content_models  # noqa: F401
from agency.notifications import models as notification_models  # noqa: F401
from agency.publishing import models as publishing_models  # noqa: F401
from agency.workflow import models as workflow_models  # noqa: F401
from billing import models as billing_models  # noqa: F401
from billing import stripe_models as billing_stripe  # noqa: F401
from billing import usage as billing_usage  # noqa: F401
from tenants import models as tenant_models  # noqa: F401
