"""HTML of the annotation app. Every piece of study text goes through :func:`html.escape`.

The item page is blinded: it names the summaries "A" (left) and "B" (right) only, never the
systems or the item id, and which system is on the left comes from the assignment.
"""

from __future__ import annotations

from html import escape

from quals.annotate.storage import MAX_COMMENT_CHARS, Annotator, Task
from quals.annotate.study import ATTRIBUTE_LABELS, ATTRIBUTE_QUESTIONS, ATTRIBUTES

_CHOICES = (("left", "A better", "1"), ("equal", "Equal", "2"), ("right", "B better", "3"))


def item_url(token: str, position: int | None = None) -> str:
    """Path of an annotator's next item (``position`` None) or of item ``position`` (from 0)."""
    return f"/a/{token}" if position is None else f"/a/{token}/{position + 1}"


def render_task(task: Task, annotator: Annotator) -> str:
    """The page of one item: document, the two summaries side by side, three questions, a comment."""
    number = task.position + 1
    fieldsets = "\n".join(_fieldset(attribute, task.answers.get(attribute)) for attribute in ATTRIBUTES)
    previous = (f'<a id="previous" href="{item_url(annotator.token, task.position - 1)}">&larr; Previous</a>'
                if task.position > 0 else "")
    following = (f'<a id="next" href="{item_url(annotator.token, task.position + 1)}">Next &rarr;</a>'
                 if number < task.total else "")
    saved = ('<p class="saved" id="saved">You have judged this item; saving again replaces your answer.</p>'
             if task.answers else "")
    body = f"""<header><h1>Which summary is better?</h1>
<div class="progress"><span id="position">Item {number} of {task.total}</span>
<progress id="progress" max="{task.total}" value="{task.done}"></progress>
<span id="done">{task.done} of {task.total} done</span></div></header>
<main class="layout">
<section class="document"><h2>Document</h2><div class="text" id="document">{escape(task.document)}</div></section>
<section>
<div class="summaries">
<article class="summary"><h2>Summary A</h2><div class="text" id="summary-a">{escape(task.left)}</div></article>
<article class="summary"><h2>Summary B</h2><div class="text" id="summary-b">{escape(task.right)}</div></article>
</div>
{saved}
<form id="judgment" method="post" action="{item_url(annotator.token, task.position)}">
{fieldsets}
<label class="comment">Comment (optional)
<textarea name="comment" id="comment" rows="2" maxlength="{MAX_COMMENT_CHARS}">{escape(task.comment)}</textarea></label>
<p class="hint" id="hint"></p>
<div class="actions">{previous}<span class="spacer"></span>
<button type="submit" id="save">Save and continue</button><span class="spacer"></span>{following}</div>
</form>
<p class="shortcuts">Keys: <kbd>1</kbd>/<kbd>A</kbd>/<kbd>&larr;</kbd> A better, <kbd>2</kbd>/<kbd>E</kbd> equal,
<kbd>3</kbd>/<kbd>B</kbd>/<kbd>&rarr;</kbd> B better (then the next question);
<kbd>&uarr;</kbd>/<kbd>&darr;</kbd> change question; <kbd>Enter</kbd> save; <kbd>C</kbd> comment
(<kbd>Esc</kbd> to leave it); <kbd>P</kbd>/<kbd>N</kbd> previous/next item. You can stop at any time:
your link brings you back to the first item you have not judged.</p>
</section>
</main>"""
    return _page(f"Item {number} of {task.total}", body)


def render_done(annotator: Annotator) -> str:
    """Shown when every assigned item is judged: thanks, and links to revise any item."""
    links = "\n".join(f'<li><a href="{item_url(annotator.token, k)}">Item {k + 1}</a></li>'
                      for k in range(annotator.assigned))
    body = f"""<header><h1>All done</h1>
<div class="progress"><progress id="progress" max="{annotator.assigned}" value="{annotator.done}"></progress>
<span id="done">{annotator.done} of {annotator.assigned} done</span></div></header>
<main class="single"><p id="thanks">You have judged all {annotator.assigned} items. Thank you! You can close this
page. To change an answer, open its item:</p>
<ol class="items">{links}</ol></main>"""
    return _page("All done", body)


def render_message(title: str, message: str) -> str:
    """A short page for the index and for errors."""
    return _page(title, f'<header><h1>{escape(title)}</h1></header>\n'
                        f'<main class="single"><p class="message">{escape(message)}</p></main>')


def _fieldset(attribute: str, answer: str | None) -> str:
    options = "\n".join(
        f'<label><input type="radio" name="{attribute}" value="{value}" required'
        f'{" checked" if answer == value else ""}> <span>{label}</span> <kbd>{key}</kbd></label>'
        for value, label, key in _CHOICES)
    return (f'<fieldset class="attribute" id="{attribute}" data-attribute="{attribute}">'
            f"<legend>{ATTRIBUTE_LABELS[attribute]}</legend>\n"
            f'<p class="question">{ATTRIBUTE_QUESTIONS[attribute]}</p>\n<div class="choices">\n{options}\n</div>'
            "</fieldset>")


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)} &middot; pairwise judgment</title>
<link rel="stylesheet" href="/static/annotate.css">
<script src="/static/annotate.js" defer></script>
</head>
<body>
{body}
</body>
</html>
"""
