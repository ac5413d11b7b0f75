"""PageHooks: what higher apps add to a lower app's page."""

from catalog.hooks import PageHooks


def test_entries_are_shown_in_order_replaced_by_key_and_hidden_by_none_or_empty():
    hooks = PageHooks("url")
    hooks.register(key="b", fn=lambda obj, user: f"/b/{obj}", order=20, label="B")
    hooks.register(key="a", fn=lambda obj, user: f"/a/{obj}", order=20, label="A")
    hooks.register(key="first", fn=lambda obj, user: "/first/", order=10, label="F")
    hooks.register(key="none", fn=lambda obj, user: None)
    hooks.register(key="empty", fn=lambda obj, user: "")
    assert [e["key"] for e in hooks.shown(7, None)] == ["first", "a", "b"]
    assert hooks.shown(7, None)[1] == {"key": "a", "label": "A", "url": "/a/7"}
    hooks.register(key="a", fn=lambda obj, user: "/a2/", order=5, label="A2")
    assert hooks.shown(7, None)[0] == {"key": "a", "label": "A2", "url": "/a2/"}
    hooks.unregister("a")
    assert [e["key"] for e in hooks.shown(7, None)] == ["first", "b"]


def test_an_empty_context_still_shows_the_panel():
    hooks = PageHooks("context")
    hooks.register(key="p", fn=lambda obj, user: {}, template="x.html")
    assert hooks.shown(1, None) == [{"key": "p", "template": "x.html", "context": {}}]
