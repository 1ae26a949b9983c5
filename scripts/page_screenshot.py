"""Screenshots of the listener page of a running `linernotes serve`, desktop and phone.

Loads the page, asks for a story for one catalog listener in one context, focuses
the story's first citation (so its fact shows) and saves two PNGs::

    uv run linernotes serve generator=template --port 8765 --no-store &
    uv run python scripts/page_screenshot.py --url http://127.0.0.1:8765 \\
        --listener 2 --mood calm --out docs/img/serve-page.png

writes docs/img/serve-page.png (1280x900) and docs/img/serve-page-phone.png (390x844).
Chromium is $LINERNOTES_CHROMIUM, else `chromium` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

SIZES = {"": (1280, 900), "-phone": (390, 844)}
"""File name suffix -> window size (CSS pixels)."""
SCROLL = "e => scrollTo(0, e.getBoundingClientRect().top + scrollY - innerHeight * 0.4)"
"""Scroll the story's top to 40% of the window's height, below the last picks."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="The server's base URL.")
    parser.add_argument("--listener", default="2", help="A catalog listener id.")
    for field in ("mood", "activity", "time"):
        parser.add_argument(f"--{field}", default="", help=f"The context {field} (a listed word).")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/img/serve-page.png"),
        help="The desktop PNG; the phone PNG gets '-phone' before the suffix.",
    )
    args = parser.parse_args()
    executable = os.environ.get("LINERNOTES_CHROMIUM") or shutil.which("chromium")
    if not executable:
        parser.error("no chromium: install it or set LINERNOTES_CHROMIUM")

    from playwright.sync_api import expect, sync_playwright

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        for suffix, (width, height) in SIZES.items():
            page = browser.new_page(
                viewport={"width": width, "height": height}, device_scale_factor=1
            )
            page.goto(args.url.rstrip("/") + "/")
            page.get_by_label("Listener", exact=True).select_option(args.listener)
            for field in ("mood", "activity", "time"):
                if getattr(args, field):
                    page.get_by_label(field.capitalize()).select_option(getattr(args, field))
            page.get_by_role("button", name="Write the liner notes").click()
            citation = page.locator(".story .cite a").first
            expect(citation).to_be_visible(timeout=60_000)
            page.locator(".story").evaluate(SCROLL)
            page.locator(".picks button").last.focus()
            page.keyboard.press("Tab")  # to the first citation, as a keyboard user would
            expect(page.locator(".story .tip").first).to_be_visible()
            page.wait_for_timeout(300)  # the tooltip's fade-in
            path = args.out.with_name(args.out.stem + suffix + args.out.suffix)
            page.screenshot(path=path)
            print(f"wrote {path} ({width}x{height})")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
