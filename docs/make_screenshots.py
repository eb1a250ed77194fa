"""Screenshots of graphrun serve's page for the README: ``python docs/make_screenshots.py``.

Needs Playwright for Python and a Chromium (Debian: apt-get install chromium), as the
browser tests do; each example is served on a free port and photographed at 1280 px.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
sys.path.insert(0, str(ROOT / "tests"))


def serve(path: Path, **settings):
    from graphdsl.serve.follow import FollowedFile
    from graphdsl.serve.httpd import PageServer
    from graphdsl.serve.session import Session

    server = PageServer(Session(FollowedFile(str(path.relative_to(ROOT))), **settings), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shoot(context, example: str, out: str, prepare=None, **settings) -> None:
    from browser import Page

    server = serve(ROOT / "examples" / f"{example}.graph", **settings)
    try:
        page = Page(context, server.url)
        if prepare:
            prepare(page, server)
        page.page.screenshot(path=str(FIGURES / out), full_page=True)
        page.close()
        print(f"wrote docs/figures/{out}")
    finally:
        server.shutdown()
        server.server_close()


def step(index):
    return lambda page, server: page.page.click(f'[data-step="{index}"]')


def quiz_answers(page, server):
    from serving import post

    grads = post(server, "/api/run", {})[1]["node_grads"]
    for i, node in enumerate(list(grads)[::-1][:6]):  # the first answers of the backward pass
        page.page.fill(f'[data-answer="{node}"]', f"{grads[node] * (1.2 if i == 4 else 1):.4g}")
    page.click("check", settle=False)


def main() -> int:
    import browser

    if browser.missing():
        print(f"make_screenshots: {browser.missing()}", file=sys.stderr)
        return 1
    with browser.launched(viewport={"width": 1280, "height": 760}) as context:
        shoot(context, "mul_add", "serve_mul_add.png", step(3))
        shoot(context, "sin_product", "serve_sin_product.png", step(4))
        shoot(context, "sigmoid_neuron", "serve_quiz.png", quiz_answers, quiz=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
