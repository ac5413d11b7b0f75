"""What apps higher in the layers add to a page of an app below them (panels on the
ticket and alert pages, dashboard buttons, links in a recall's or an issue's header).

The lower app owns a `PageHooks` and says what its entries return; higher apps register
into it from their AppConfig.ready, so no import ever points upward."""

from __future__ import annotations

from collections.abc import Callable


class PageHooks:
    """Entries by key (registering a key again replaces it: ready() may run twice in
    tests), shown in `order`. Each entry has fixed fields (a template, a label, an icon)
    and a function of the page's objects returning its variable part under `result` (a
    context dict, a URL); None or "" hides the entry for that page and user."""

    def __init__(self, result: str):
        self.result = result
        self._entries: dict[str, tuple[int, Callable, dict]] = {}

    def register(self, *, key: str, fn: Callable, order: int = 100, **fields) -> None:
        self._entries[key] = (order, fn, fields)

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)

    def shown(self, *args) -> list[dict]:
        out = []
        for key, (_order, fn, fields) in sorted(self._entries.items(), key=lambda item: (item[1][0], item[0])):
            value = fn(*args)
            if value is not None and value != "":
                out.append({"key": key, **fields, self.result: value})
        return out
