"""Schema creation and upgrade through Alembic, the same migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from openmyna.card import models as _card_models  # noqa: F401
from openmyna.carduses import models as _carduses_models  # noqa: F401
from openmyna.carduses.tickets import models as _tickets_models  # noqa: F401
from openmyna.core import audit as _audit  # noqa: F401
from openmyna.core import sessions as _sessions  # noqa: F401
from openmyna.core import throttle as _throttle  # noqa: F401
from openmyna.core.db import Base
from openmyna.corporate import models as _corporate_models  # noqa: F401
from openmyna.ekyc import models as _ekyc_models  # noqa: F401
from openmyna.eservice import models as _eservice_models  # noqa: F401
from openmyna.eservice import office_models as _eservice_office_models  # noqa: F401
from openmyna.health import models as _health_models  # noqa: F401
from openmyna.jpki import models as _jpki_models  # noqa: F401
from openmyna.kiosk import models as _kiosk_models  # noqa: F401
from openmyna.koseki import models as _koseki_models  # noqa: F401
from openmyna.localtax import models as _localtax_models  # noqa: F401  (register tables)
from openmyna.network import models as _network_models  # noqa: F401
from openmyna.numbers import models as _numbers_models  # noqa: F401
from openmyna.orgs import models as _orgs_models  # noqa: F401
from openmyna.pension import models as _pension_models  # noqa: F401
from openmyna.portal.auth import models as _portal_auth_models  # noqa: F401
from openmyna.portal.inquiries import models as _portal_inquiries_models  # noqa: F401
from openmyna.portal.notices import models as _portal_notices_models  # noqa: F401
from openmyna.portal.oidc import models as _portal_oidc_models  # noqa: F401
from openmyna.portal.payments import models as _payments_models  # noqa: F401
from openmyna.portal.proxy import models as _portal_proxy_models  # noqa: F401
from openmyna.portal.settings import models as _portal_settings_models  # noqa: F401
from openmyna.registry import models as _registry_models  # noqa: F401

metadata = Base.metadata


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("openmyna").joinpath("migrations")))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revisions; running it again changes nothing.

    Each domain's migrations may form their own branch from the foundation revision, so upgrade
    to every head.
    """
    command.upgrade(alembic_config(engine), "heads")
