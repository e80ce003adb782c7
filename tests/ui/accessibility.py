"""Accessibility checks from Chromium's own accessibility tree (CDP ``Accessibility.getFullAXTree``): what a
screen reader is given, not what the HTML looks like."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

# Roles a user operates: each must have an accessible name.
CONTROLS = {
    "button", "link", "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "slider",
    "spinbutton", "switch", "tab", "menuitem", "option", "progressbar",
}  # fmt: skip
LANDMARKS = {"banner", "navigation", "main", "contentinfo"}


def _value(node: dict[str, Any], key: str) -> str:
    return str((node.get(key) or {}).get("value") or "")


async def accessibility_problems(page: Page) -> list[str]:
    """Controls without a name, missing landmarks, no level-1 heading, skipped heading levels."""
    session = await page.context.new_cdp_session(page)
    try:
        tree = await session.send("Accessibility.getFullAXTree")
    finally:
        await session.detach()
    problems: list[str] = []
    roles: set[str] = set()
    levels: list[int] = []
    for node in tree["nodes"]:
        if node.get("ignored"):
            continue
        role, name = _value(node, "role"), _value(node, "name").strip()
        roles.add(role)
        if role in CONTROLS and not name:
            problems.append(f"a {role} without an accessible name (node {node.get('backendDOMNodeId')})")
        if role == "heading":
            level = next((int(p["value"]["value"]) for p in node.get("properties", []) if p["name"] == "level"), 0)
            levels.append(level)
    for landmark in sorted(LANDMARKS - roles):
        problems.append(f"no {landmark} landmark")
    if levels.count(1) != 1:
        problems.append(f"{levels.count(1)} level-1 headings (one expected)")
    for before, after in zip(levels, levels[1:], strict=False):
        if after > before + 1:
            problems.append(f"heading level {before} followed by level {after}")
    return problems
