"""The annotation app in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Two annotators work at the same time, one with the mouse and one with the keyboard; the first
reloads and comes back later in a fresh browser; a summary holding ``<script>`` shows as text;
then ``quals annotate export`` gives exactly the counts their answers imply.
"""

from __future__ import annotations

import json
import re
import shutil
import threading

import pytest

from quals.annotate.app import annotator_links, make_server
from quals.annotate.assignment import AssignmentConfig
from quals.annotate.storage import StudyStore
from quals.annotate.study import ATTRIBUTES, Study, StudyItem, write_study
from quals.cli.main import main

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not on PATH (.ci/run installs it with apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra) is not installed")

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
HOSTILE = 'Summary <script>window.__pwned = 1</script><b>bold</b> & "quoted"'
ITEMS = (
    StudyItem("x1", "The council voted on Tuesday to close the bridge for repairs.",
              "The council voted on Friday to demolish the bridge.", "The council voted to close the bridge."),
    StudyItem("x2", "A white kiwi chick hatched at a wildlife centre.", "An albino kiwi hatched.",
              "A white kiwi chick hatched."),
    StudyItem("x3", "Shares rose 8% after record deliveries.", "Shares fell after deliveries.",
              "Shares rose 8% after record deliveries."),
    StudyItem("x4", 'A document with <img src="x" onerror="window.__pwned = 2"> in it.', HOSTILE,
              "A plain summary."),
)
KEYS = {"left": "1", "equal": "e", "right": "ArrowRight"}  # one spelling of each shortcut per side


def plan(annotator: str, item: StudyItem) -> dict[str, str]:
    """What each annotator answers, in study terms (a / equal / b)."""
    if annotator == "annotator-1":
        return {"consistency": "b", "informativeness": "equal", "grammaticality": "a"}
    return {"consistency": "equal" if item.id == "x4" else "b", "informativeness": "b", "grammaticality": "a"}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path):
    study = Study.from_items(ITEMS, "sysname-mle", "sysname-conseq")
    write_study(study, tmp_path / "study.jsonl")
    store = StudyStore.create(tmp_path / "study.sqlite", study, AssignmentConfig(annotators=2, per_item=2, seed=3))
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield tmp_path, {a.name: link for a, link in annotator_links(store, server.base_url)}
    server.shutdown()
    server.server_close()
    thread.join()


def _new_page(browser):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    return page


def _shown_item(page) -> tuple[StudyItem, dict[str, str]]:
    """The item on the page and, for a / b, the side it is shown on; checks blinding and escaping."""
    left = page.text_content("#summary-a")
    item = next(it for it in ITEMS if left in (it.summary_a, it.summary_b))
    right = page.text_content("#summary-b")
    assert {left, right} == {item.summary_a, item.summary_b}
    assert page.text_content("#document") == item.document
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".text b, .text img, .text script").count() == 0
    # the page's links carry the annotator's random token, which may contain an id like "x2" by chance
    content = re.sub(r"/a/[A-Za-z0-9_-]+", "/a/<token>", page.content())
    assert "sysname" not in content and item.id not in content
    a_side, b_side = ("left", "right") if left == item.summary_a else ("right", "left")
    return item, {"a": a_side, "b": b_side, "equal": "equal"}


def _progress(page) -> tuple[str, str]:
    return page.text_content("#position"), page.text_content("#done")


def _answer_with_mouse(page, annotator: str, comment: str = "") -> StudyItem:
    item, sides = _shown_item(page)
    for attribute, choice in plan(annotator, item).items():
        page.click(f"#{attribute} input[value='{sides[choice]}']")
    if comment:
        page.fill("#comment", comment)
    with page.expect_navigation():
        page.click("#save")
    return item


def _choose_with_keys(page, annotator: str, override: dict[str, str] | None = None) -> StudyItem:
    item, sides = _shown_item(page)
    for attribute in ATTRIBUTES:  # each key answers the active question and moves to the next
        page.keyboard.press(KEYS[sides[{**plan(annotator, item), **(override or {})}[attribute]]])
    return item


def _answer_with_keys(page, annotator: str, override: dict[str, str] | None = None) -> StudyItem:
    item = _choose_with_keys(page, annotator, override)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return item


def test_two_annotators_mouse_keyboard_resume_and_export(browser, served):
    root, links = served
    one, two = _new_page(browser), _new_page(browser)
    one.goto(links["annotator-1"])
    two.goto(links["annotator-2"])
    assert _progress(one) == ("Item 1 of 4", "0 of 4 done") == _progress(two)
    assert one.get_attribute("#progress", "value") == "0"

    # Enter with questions unanswered does not save; it points at the first open question.
    two.keyboard.press("1")
    two.keyboard.press("Enter")
    assert "every question" in two.text_content("#hint") and _progress(two)[0] == "Item 1 of 4"
    assert "active" in two.get_attribute("#informativeness", "class")
    two.keyboard.press("ArrowUp")  # back to the first question: the full answer below starts there

    # Annotator 1 with the mouse, annotator 2 with the keyboard (answering grammaticality B first).
    _answer_with_mouse(one, "annotator-1", comment="Summary A invents a date.")
    first_of_two = _answer_with_keys(two, "annotator-2", override={"grammaticality": "b"})
    _answer_with_mouse(one, "annotator-1")
    assert _progress(one) == ("Item 3 of 4", "2 of 4 done")
    assert one.get_attribute("#progress", "value") == "2"

    # Reload resumes at the first open item; so does the link in a fresh browser later.
    one.reload()
    assert _progress(one) == ("Item 3 of 4", "2 of 4 done")
    one.context.close()
    one = _new_page(browser)
    one.goto(links["annotator-1"])
    assert _progress(one) == ("Item 3 of 4", "2 of 4 done")

    # Both submit at the same moment: neither vote is lost.
    _choose_with_keys(one, "annotator-1")
    _choose_with_keys(two, "annotator-2")
    with one.expect_navigation(), two.expect_navigation():  # both posts leave before either is awaited
        one.evaluate("document.getElementById('judgment').requestSubmit()")
        two.evaluate("document.getElementById('judgment').requestSubmit()")
    assert _progress(one) == ("Item 4 of 4", "3 of 4 done") and _progress(two) == ("Item 3 of 4", "2 of 4 done")

    # Annotator 1 finishes with a comment typed after pressing C (Esc leaves the box).
    _choose_with_keys(one, "annotator-1")
    one.keyboard.press("c")
    one.keyboard.type("b and e typed here are text, not shortcuts")
    one.keyboard.press("Escape")
    with one.expect_navigation():
        one.keyboard.press("Enter")
    assert one.text_content("h1") == "All done" and one.text_content("#done") == "4 of 4 done"

    # Annotator 2 finishes, opens item 2 from the list, presses P for item 1 and revises it.
    _answer_with_keys(two, "annotator-2")
    _answer_with_keys(two, "annotator-2")
    assert two.text_content("h1") == "All done"
    with two.expect_navigation():
        two.click("text=Item 2")
    with two.expect_navigation():
        two.keyboard.press("p")
    assert two.is_visible("#saved")
    assert _progress(two)[0] == "Item 1 of 4"
    item, sides = _shown_item(two)
    assert item == first_of_two
    assert two.is_checked(f"#grammaticality input[value='{sides['b']}']")  # the earlier answer is shown
    two.click(f"#grammaticality input[value='{sides['a']}']")
    with two.expect_navigation():
        two.keyboard.press("Enter")
    assert two.text_content("h1") == "All done"

    out = root / "results"
    assert main(["annotate", "export", str(root / "study.jsonl"), "-o", str(out)]) == 0
    results = json.loads((out / "human-eval.json").read_text())
    assert results["complete"] is True and results["n_judgments"] == 8
    consistency, informativeness, grammaticality = results["attributes"]
    assert consistency["judgments"] == {"better": 7, "equal": 1, "worse": 0}
    assert consistency["items"] == {"better": 4, "equal": 0, "worse": 0}
    assert consistency["sign_test_p"] == pytest.approx(0.125) and consistency["krippendorff_alpha"] == pytest.approx(0)
    assert informativeness["judgments"] == {"better": 4, "equal": 4, "worse": 0}
    assert informativeness["krippendorff_alpha"] == pytest.approx(-0.75)
    assert grammaticality["judgments"] == {"better": 0, "equal": 0, "worse": 8}
    assert grammaticality["krippendorff_alpha"] is None
    rows = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and sum(r["revisions"] for r in rows) == 1
    assert {r["comment"] for r in rows} == {"", "Summary A invents a date.",
                                            "b and e typed here are text, not shortcuts"}


def test_hostile_summary_shows_as_text(browser, served):
    _, links = served
    page = _new_page(browser)
    for number in range(1, 5):
        page.goto(f"{links['annotator-1']}/{number}")
        item, sides = _shown_item(page)  # no script ran, no markup became elements
        if item.id == "x4":
            break
    shown = page.text_content("#summary-a" if sides["a"] == "left" else "#summary-b")
    assert shown == HOSTILE
    assert page.get_by_text('<script>window.__pwned = 1</script><b>bold</b> & "quoted"').is_visible()
    assert page.text_content("#document") == ITEMS[3].document
