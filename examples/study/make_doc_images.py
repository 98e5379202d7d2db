"""Make the two images of docs/human-eval.md from this example study (needs chromium + Playwright).

    python examples/study/make_doc_images.py

Creates a throwaway database (3 annotators, 3 per item), enters scripted judgments (a fixed
"truth" per item with 20% noise, seeded; not a real study), photographs annotator-1's page in
headless Chromium, then exports the study and keeps its chart.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from quals.annotate import AssignmentConfig, StudyStore, export_study, read_study
from quals.annotate.app import annotator_links, make_server
from quals.annotate.storage import page_side

HERE = Path(__file__).parent
IMAGES = HERE.parents[1] / "docs" / "images"
# Which summary a careful reader prefers (a: mle, b: conseq), per item and attribute.
TRUTH = {
    "n1": ("b", "b", "equal"), "n2": ("b", "equal", "equal"), "n3": ("equal", "a", "equal"),
    "n4": ("equal", "equal", "a"), "n5": ("b", "b", "equal"), "n6": ("b", "b", "equal"),
}
ATTRIBUTES = ("consistency", "informativeness", "grammaticality")


def scripted_sides(store: StudyStore, annotator: int, position: int, rng: random.Random) -> dict[str, str]:
    task = store.task(annotator, position)
    item_id = next(item.id for item in read_study(HERE / "study.jsonl").items if item.document == task.document)
    b_on_left = task.left != next(it.summary_a for it in read_study(HERE / "study.jsonl").items if it.id == item_id)
    choices = [c if rng.random() > 0.2 else rng.choice(("a", "equal", "b")) for c in TRUTH[item_id]]
    return {a: page_side(c, b_on_left) for a, c in zip(ATTRIBUTES, choices, strict=True)}


def main() -> None:
    workdir = Path(tempfile.mkdtemp())
    store = StudyStore.create(workdir / "study.sqlite", read_study(HERE / "study.jsonl"),
                              AssignmentConfig(annotators=3, per_item=3, seed=0))
    rng = random.Random(0)
    for annotator in store.annotators():
        for position in range(2 if annotator.index == 0 else annotator.assigned):
            store.save(annotator.index, position, scripted_sides(store, annotator.index, position, rng))
    server = make_server(store, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    link = annotator_links(store, server.base_url)[0][1]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(link)
        page.keyboard.press("3")  # answer the first question by keyboard: the second one becomes active
        page.screenshot(path=IMAGES / "human-eval-page.png")
        browser.close()
    server.shutdown()
    for position in range(2, store.annotators()[0].assigned):
        store.save(0, position, scripted_sides(store, 0, position, rng))
    paths = export_study(store, workdir / "results")
    shutil.copyfile(paths[2], IMAGES / "human-eval-chart.png")
    print((workdir / "results" / "human-eval.md").read_text())
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
