"""The composition root: the one place that builds Warden's parts from settings.

The HTTP API (`warden serve`), every CLI command and the Python API get their store, bank
matcher, graph, review service, media store, models and `ModerationService` from here, so an item
meets the same stages whichever door it comes in by::

    import warden
    with warden.open() as app:                      # settings from env / warden.toml
        [decision] = app.moderate([warden.Content(id="post-1", text="...")])

`open_store`, `review_service` and `bank_service` are the pieces commands that need only one
part (`warden review ...`, `warden bank ...`) use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .content import Content
from .decision import Decision
from .errors import WardenError
from .moderator import Moderator
from .observability import TRACING
from .policy.model import Policy, load_policy
from .settings import Settings, get_settings
from .store import Store

if TYPE_CHECKING:
    from .banks.matcher import BankMatcher
    from .banks.service import BankService
    from .graph.service import GraphService
    from .review.service import ReviewService
    from .service import ModerationService


def open_store(settings: Settings) -> Store:
    """The configured database, migrated to the current schema."""
    store = Store(settings.database_url, audit_key=settings.audit.resolve_key())
    store.migrate()
    return store


def review_service(settings: Settings, store: Store, policy: Policy | None = None) -> ReviewService:
    """Human review over `store`, reading and writing media copies in `media.store_dir`."""
    from .media.storage import MediaStore
    from .review.service import ReviewService

    policy = policy or load_policy(settings.policy_path)
    return ReviewService(store, policy, settings, MediaStore(settings.media.store_dir))


def bank_service(
    settings: Settings, store: Store, policy: Policy | None = None, load_index: bool = True
) -> BankService:
    """The bank service over `store`; its matcher's index rebuilt from the store when `load_index`."""
    from .banks.matcher import BankMatcher
    from .banks.service import BankService

    matcher = BankMatcher(settings.banks, settings.limits)
    if load_index:
        matcher.load(store.banks)
    return BankService(store.banks, matcher, policy or load_policy(settings.policy_path))


@dataclass
class Warden:
    """Everything one process runs, built by `build`; `moderate` is the one path for an item."""

    settings: Settings
    moderator: Moderator
    graph: GraphService
    store: Store | None = None
    banks: BankService | None = None
    review: ReviewService | None = None
    service: ModerationService | None = None  # set when decisions are stored
    owns_store: bool = True

    @property
    def matcher(self) -> BankMatcher | None:
        return self.banks.matcher if self.banks is not None else None

    def moderate(self, items: Sequence[Content], actor: str = "python") -> list[Decision]:
        """Decisions for `items`: stored, idempotent by content id and routed to review when this
        app stores decisions; otherwise computed only."""
        if self.service is not None:
            return self.service.moderate(items, actor=actor)
        from .content import check_limits

        check_limits(list(items), self.settings.limits)
        return self.moderator.moderate(list(items))

    def moderate_each(
        self, items: Sequence[Content], actor: str = "python"
    ) -> dict[str, Decision | WardenError]:
        """Per content id, the decision or the error that refused that item; the others are
        decided all the same (undecodable media, an id stored with other content, a bad hash)."""
        from .service import moderate_each

        return moderate_each(lambda batch: self.moderate(batch, actor), items)

    def activate_policy(self, policy: Policy) -> Moderator:
        """Switch every part that reads the policy to `policy` (models, banks and judge shared),
        between two batches: the moderator is built and loaded first, then swapped in at once."""
        fresh = self.moderator.with_policy(policy).load()
        self.moderator = fresh
        if self.service is not None:
            self.service.moderator = fresh
        if self.banks is not None:
            self.banks.policy = policy
        if self.review is not None:
            self.review.policy = policy
        return fresh

    def close(self) -> None:
        if self.store is not None and self.owns_store:
            self.store.close()

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build(
    settings: Settings | None = None,
    *,
    store: Store | bool = True,
    store_decisions: bool = True,
    use_banks: bool = True,
    moderator: Moderator | None = None,
    policy: Policy | None = None,
    load_media: bool = True,
) -> Warden:
    """Build the application from settings.

    store: a Store to use (its owner closes it), True to open `database_url`, False for none (no
    banks from the database, nothing stored). store_decisions: moderate through
    `ModerationService` (idempotency, storing, review routing); False computes decisions only
    (`warden moderate` without `--store`). moderator: already-loaded models to share (tests, an
    app that serves several policies); otherwise loaded from `models_dir`.
    """
    from .graph.service import GraphService
    from .graph.signal import AccountRiskScorer
    from .service import ModerationService

    settings = settings or get_settings()
    if settings.tracing.enabled:
        TRACING.enable()
    st: Store | None = open_store(settings) if store is True else (store or None)
    if isinstance(store, Store):
        store.migrate()
    try:
        base = moderator or Moderator.from_settings(settings, policy).load()
        policy = base.policy
        banks = (
            bank_service(settings, st, policy)
            if st is not None and use_banks and settings.banks.enabled
            else None
        )
        graph = GraphService.from_settings(settings.graph)
        account_risk = AccountRiskScorer(graph, evidence_at=settings.graph.account_risk_review_at)
        mod = base.attach(banks.matcher if banks is not None else None, account_risk)
        if load_media:
            mod.load_media()
        review = review_service(settings, st, policy) if st is not None and settings.review.enabled else None
        shadow = None
        if st is not None and store_decisions and settings.shadow.enabled:
            from .shadow import ShadowRunner

            shadow = ShadowRunner.from_settings(settings, mod, st)
        service = ModerationService(mod, st, review, shadow) if st is not None and store_decisions else None
    except BaseException:
        if st is not None and store is True:
            st.close()
        raise
    return Warden(
        settings=settings,
        moderator=mod,
        graph=graph,
        store=st,
        banks=banks,
        review=review,
        service=service,
        owns_store=store is True,
    )


def open(settings: Settings | None = None, **options: object) -> Warden:  # noqa: A001 - warden.open
    """`build` under the name the Python API uses: `with warden.open() as app: app.moderate(...)`."""
    return build(settings, **options)  # type: ignore[arg-type]
