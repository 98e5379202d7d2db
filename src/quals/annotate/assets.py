"""The stylesheet and script of the annotation page, served from memory.

Kept as Python strings, not package data files, so an installed wheel carries them without any
packaging configuration. The page allows only these two same-origin resources (its
Content-Security-Policy forbids inline scripts), so even text that escaped escaping could not run.
"""

CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1em; flex-wrap: wrap;
         padding: 0.6em 1.2em; background: #fff; border-bottom: 1px solid #ddd; }
header h1 { font-size: 1.15em; margin: 0; }
.progress { display: flex; align-items: center; gap: 0.6em; font-variant-numeric: tabular-nums; }
progress { width: 12em; height: 0.8em; }
main.layout { display: grid; grid-template-columns: minmax(20em, 1fr) minmax(28em, 1.3fr); gap: 1.2em; padding: 1.2em; }
main.single { max-width: 48em; margin: 0 auto; padding: 1.2em; }
h2 { font-size: 1em; margin: 0 0 0.4em; color: #444; }
.text { white-space: pre-wrap; line-height: 1.6; background: #fff; border: 1px solid #ddd; border-radius: 0.3em;
        padding: 0.7em 0.9em; overflow-wrap: anywhere; }
.document .text { max-height: calc(100vh - 8em); overflow-y: auto; }
.summaries { display: grid; grid-template-columns: 1fr 1fr; gap: 0.8em; margin-bottom: 1em; }
.summary .text { font-size: 1.05em; min-height: 5em; }
fieldset.attribute { border: 1px solid #ddd; border-radius: 0.3em; background: #fff; margin: 0 0 0.6em;
                     padding: 0.5em 0.9em; }
fieldset.attribute.active { border-color: #4c78a8; box-shadow: 0 0 0 2px #4c78a833; }
legend { font-weight: 600; padding: 0 0.3em; }
.question { margin: 0 0 0.4em; color: #555; font-size: 0.92em; }
.choices { display: flex; gap: 0.5em; }
.choices label { flex: 1; display: flex; align-items: center; gap: 0.4em; border: 1px solid #ccc; border-radius: 0.3em;
                 padding: 0.35em 0.6em; cursor: pointer; background: #fdfdfd; }
.choices label:has(input:checked) { background: #e3ecf7; border-color: #4c78a8; }
kbd { margin-left: auto; font-size: 0.8em; border: 1px solid #bbb; border-bottom-width: 2px; border-radius: 0.25em;
      padding: 0 0.35em; color: #555; background: #f4f4f4; }
label.comment { display: block; margin: 0.6em 0; font-size: 0.92em; color: #444; }
textarea { width: 100%; font: inherit; margin-top: 0.3em; padding: 0.4em; }
.actions { display: flex; align-items: center; gap: 1em; }
.actions button { font: inherit; font-weight: 600; padding: 0.45em 1.2em; border-radius: 0.3em;
                  border: 1px solid #35608f; background: #4c78a8; color: #fff; cursor: pointer; }
.actions .spacer { flex: 1; }
.saved { color: #35608f; font-size: 0.9em; margin: 0 0 0.6em; }
.hint { color: #a00; font-size: 0.9em; min-height: 1.2em; margin: 0.3em 0; }
.shortcuts { color: #666; font-size: 0.85em; margin-top: 1em; }
.error { color: #a00; }
ol.items { columns: 4; }
@media (max-width: 60em) { main.layout { grid-template-columns: 1fr; } .summaries { grid-template-columns: 1fr; } }
"""

JS = r"""
"use strict";
// Keyboard shortcuts of the annotation page. The active attribute is outlined:
// 1/A/Left = A better, 2/E/= = equal, 3/B/Right = B better, then the next attribute becomes active;
// Up/Down (or K/J) move between attributes, Enter saves, C writes a comment, Esc leaves it,
// P/N open the previous/next item. Keys typed into the comment are text, except Esc and Ctrl+Enter.
(function () {
  const form = document.getElementById("judgment");
  if (!form) { return; }
  const groups = Array.from(form.querySelectorAll("fieldset.attribute"));
  const comment = form.querySelector("textarea");
  const hint = document.getElementById("hint");
  const KEYS = { "1": "left", "a": "left", "ArrowLeft": "left", "2": "equal", "e": "equal", "=": "equal",
                 "3": "right", "b": "right", "ArrowRight": "right" };
  let active = 0;

  function setActive(k) {
    active = Math.max(0, Math.min(groups.length - 1, k));
    groups.forEach(function (g, i) { g.classList.toggle("active", i === active); });
  }
  function firstMissing() {
    return groups.findIndex(function (g) { return !g.querySelector("input:checked"); });
  }
  function afterChoice(k) {
    const missing = firstMissing();
    setActive(k + 1 < groups.length ? k + 1 : (missing === -1 ? k : missing));
    hint.textContent = "";
  }
  function save() {
    const missing = firstMissing();
    if (missing !== -1) {
      setActive(missing);
      hint.textContent = "Choose an answer for every question first.";
      return;
    }
    form.requestSubmit();
  }
  function follow(id) {
    const link = document.getElementById(id);
    if (link) { window.location.href = link.href; }
  }

  groups.forEach(function (g, i) {
    g.addEventListener("change", function () { afterChoice(i); });
    g.addEventListener("click", function () { setActive(i); });
  });
  form.addEventListener("submit", function () { document.getElementById("save").disabled = true; });
  setActive(firstMissing() === -1 ? 0 : firstMissing());

  document.addEventListener("keydown", function (event) {
    if (event.target === comment) {
      if (event.key === "Escape") { comment.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); save(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (KEYS[key] !== undefined) {
      const input = groups[active].querySelector('input[value="' + KEYS[key] + '"]');
      input.checked = true;
      afterChoice(active);
    } else if (key === "ArrowDown" || key === "j") { setActive(active + 1); }
    else if (key === "ArrowUp" || key === "k") { setActive(active - 1); }
    else if (key === "Enter") { save(); }
    else if (key === "c") { comment.focus(); }
    else if (key === "p") { follow("previous"); }
    else if (key === "n") { follow("next"); }
    else { return; }
    event.preventDefault();
  });
})();
"""
