"""`tandem models train [--tenant SLUG]`: train each tenant's predictive lead model
(shared/predictive_models.py) and re-score its leads; nightly from the stack and a CronJob."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from services.admin.progress import STDERR, progress
from services.admin.tenants import TenantError
from shared.db import create_pool
from shared.settings import load_settings

if TYPE_CHECKING:
    from shared.predictive_models import Outcome


async def train_tenants(database_url: str, tenant: str | None, now: datetime) -> list[Outcome]:
    # Imported here: every `tandem` command, the worker's start included, builds the parser
    # this module adds to, and scikit-learn with SciPy and pandas take over a second to load.
    from shared.predictive_models import train_tenant

    pool = await create_pool(database_url, max_size=2)
    try:
        known = [r[0] for r in await pool.fetch("SELECT tandem_known_tenants()")]
        if tenant is not None and tenant not in known:
            raise TenantError(f"no tenant {tenant!r}")
        tenants = sorted(known) if tenant is None else [tenant]
        outcomes = []
        with progress() as bar:
            for tenant_id in tenants:
                outcomes.append(await train_tenant(pool, tenant_id, now, bar))
        return outcomes
    finally:
        await pool.close()


def _train_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        outcomes = asyncio.run(train_tenants(settings.database_url, args.tenant, settings.now()))
    except TenantError as e:
        STDERR.print(str(e))
        return 2
    for o in outcomes:
        if o.status == "READY":
            rules = "n/a" if o.rules_auc is None else f"{o.rules_auc:.3f}"
            model = "n/a" if o.auc is None else f"{o.auc:.3f}"
            print(
                f"{o.tenant_id}: model version {o.version} from {o.labelled} labelled leads"
                f" ({o.positives} customers): AUC {model}, rules AUC {rules}"
            )
        else:
            print(
                f"{o.tenant_id}: not enough outcomes to learn from: {o.labelled} labelled"
                f" leads and {o.positives} customers (at least 200 and 20 needed)"
            )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="predictive lead models").add_subparsers(
        dest="action", required=True
    )
    train_cmd = models.add_parser(
        "train", help="train each tenant's predictive lead model and re-score its leads"
    )
    train_cmd.add_argument("--tenant", help="only this tenant (its slug)")
    train_cmd.set_defaults(fn=_train_cmd)
