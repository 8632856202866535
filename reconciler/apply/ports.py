"""The parts of the API clients that apply uses, as protocols.

:class:`reconciler.clients.aculab.AculabClient` and :class:`reconciler.clients.aql.AqlClient`
satisfy these; the applier is typed against them so that it depends on the calls it makes,
not on a transport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.errors import ConfigError
from reconciler.live.model import LiveNumber, LiveRelayRoute


class DeleteResultLike(Protocol):
    """``tel_delete_numbers``'s answer: ``status`` OK | PARTIAL | FAIL, and the numbers not
    deleted with the API's ``(code, description)``."""

    @property
    def status(self) -> str: ...

    @property
    def failed(self) -> Mapping[str, tuple[str, str]]: ...


class AculabApi(Protocol):
    """The Aculab Cloud calls apply makes."""

    async def list_numbers(
        self,
        country: str | None = None,
        state: str | None = None,
        region: str | None = None,
        did_type: str | None = None,
    ) -> dict[str, LiveNumber]: ...

    async def purchase(
        self, params: Mapping[str, str], *, development: bool = False
    ) -> list[str]: ...

    async def delete_numbers(self, numbers: Sequence[str]) -> DeleteResultLike: ...

    async def service_schema(self, kind: str) -> dict[str, Any]: ...

    async def read_service(self, kind: str, name: str) -> dict[str, Any]: ...

    async def write_service(
        self, kind: str, name: str, body: Mapping[str, Any]
    ) -> tuple[bool, dict[str, Any]]: ...

    async def modify_service(
        self, kind: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    async def delete_service(self, kind: str, name: str) -> None: ...


class AqlApi(Protocol):
    """The aql relay gateway calls apply makes."""

    async def modify(self, number: str, action: str, detail: Sequence[str]) -> LiveRelayRoute: ...


class NoAculabAccount:
    """The Aculab side of a desired state that has no ``aculab:`` section (an aql customer's
    relay routes alone). Its plans never touch Aculab (the planner has nothing of it to manage),
    so no call should reach here; if one does, it fails with a clear error and nothing is
    written, instead of an attribute error halfway through an apply."""

    def _refuse(self) -> ConfigError:
        return ConfigError(
            "this change needs the Aculab account, but the desired state has no `aculab:` section",
            hint="add `aculab: {cloud_id, username, api_key}` to the desired state",
        )

    async def list_numbers(
        self,
        country: str | None = None,
        state: str | None = None,
        region: str | None = None,
        did_type: str | None = None,
    ) -> dict[str, LiveNumber]:
        raise self._refuse()

    async def purchase(self, params: Mapping[str, str], *, development: bool = False) -> list[str]:
        raise self._refuse()

    async def delete_numbers(self, numbers: Sequence[str]) -> DeleteResultLike:
        raise self._refuse()

    async def service_schema(self, kind: str) -> dict[str, Any]:
        raise self._refuse()

    async def read_service(self, kind: str, name: str) -> dict[str, Any]:
        raise self._refuse()

    async def write_service(
        self, kind: str, name: str, body: Mapping[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        raise self._refuse()

    async def modify_service(self, kind: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise self._refuse()

    async def delete_service(self, kind: str, name: str) -> None:
        raise self._refuse()
