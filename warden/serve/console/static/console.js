// Warden review console: keyboard shortcuts and media reveal. Vanilla JS, no dependencies; the pages
// work without it (plain forms), the keys only make a reviewer faster.
"use strict";

(function () {
  const page = document.body.dataset.page;

  function typing(event) {
    const el = event.target;
    return el instanceof HTMLElement &&
      (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) && el.type !== "radio" &&
        el.type !== "checkbox");
  }

  function hint(message) {
    const box = document.getElementById("key-hint");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  // -- media: blurred until the reviewer asks to see it ------------------------------------------------

  function setRevealed(item, revealed) {
    item.classList.toggle("blurred", !revealed);
    const button = item.querySelector("button.reveal");
    if (button) {
      button.textContent = revealed ? "Blur" : "Reveal";
      button.setAttribute("aria-pressed", String(revealed));
    }
  }

  function placeRegions(figure) {
    // Boxes arrive as [x, y, w, h] in image pixels, or as fractions when every value is <= 1.
    const img = figure.querySelector("img");
    if (!img || !img.naturalWidth) return;
    figure.querySelectorAll(".region[data-box]").forEach((region) => {
      const box = region.dataset.box.split(",").map(Number);
      if (box.length !== 4 || box.some(Number.isNaN)) return;
      const fractions = box.every((v) => v <= 1);
      const sx = fractions ? 100 : 100 / img.naturalWidth;
      const sy = fractions ? 100 : 100 / img.naturalHeight;
      region.style.left = box[0] * sx + "%";
      region.style.top = box[1] * sy + "%";
      region.style.width = box[2] * sx + "%";
      region.style.height = box[3] * sy + "%";
      region.hidden = false;
    });
  }

  document.querySelectorAll(".media-item").forEach((item) => {
    const button = item.querySelector("button.reveal");
    if (button) button.addEventListener("click", () => setRevealed(item, item.classList.contains("blurred")));
    const img = item.querySelector("img");
    if (img) {
      if (img.complete) placeRegions(item);
      img.addEventListener("load", () => placeRegions(item));
    }
  });

  document.querySelectorAll("button[data-seek]").forEach((button) => {
    button.addEventListener("click", () => {
      const video = document.getElementById(button.dataset.video);
      if (video) {
        video.currentTime = Number(button.dataset.seek);
        setRevealed(video.closest(".media-item"), true);
      }
    });
  });

  // -- the decision form -------------------------------------------------------------------------------

  const decide = document.getElementById("decide");
  if (decide) {
    decide.addEventListener("submit", (event) => {
      const action = decide.querySelector("input[name=action]:checked");
      if (!action) {
        event.preventDefault();
        hint("Choose an action first.");
        return;
      }
      // Mirrors the server's rule so a slip of the key costs no round trip (the server still checks).
      const named = decide.querySelectorAll("input[name=categories]:checked").length;
      const outcome = ["uphold", "reverse"].includes(action.value);
      if (!outcome && action.value === "allow" && named) {
        event.preventDefault();
        hint("Allow takes no categories: untick them, or choose another action.");
        return;
      }
      if (!outcome && action.value !== "allow" && !named && decide.dataset.appeal !== "1") {
        event.preventDefault();
        hint("Name the violated categories (keys 1–0) for " + action.value.replace("_", " ") + ".");
        return;
      }
      // One decision per press: a second Enter while the first is in flight must not post again.
      if (decide.dataset.sent) event.preventDefault();
      decide.dataset.sent = "1";
    });
  }

  function submit(form) {
    if (form && !form.dataset.sent) {
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.submit();
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "?") {
      const legend = document.getElementById("legend");
      if (legend) legend.open = !legend.open;
      event.preventDefault();
      return;
    }
    if (page === "queues" || page === "appeals") {
      if (key === "n") {
        submit(document.querySelector("form[data-take-next]"));
        event.preventDefault();
      }
      return;
    }
    if (page !== "task") return;
    if (key === "i") {
      const items = document.querySelectorAll(".media-item");
      const anyBlurred = Array.from(items).some((item) => item.classList.contains("blurred"));
      items.forEach((item) => setRevealed(item, anyBlurred));
      event.preventDefault();
      return;
    }
    if (key === "s") {
      submit(document.getElementById("release"));
      event.preventDefault();
      return;
    }
    if (!decide) return;
    if (key === "Enter") {
      submit(decide);
      event.preventDefault();
      return;
    }
    const action = decide.querySelector(`input[name=action][data-key="${CSS.escape(key)}"]`);
    if (action) {
      action.checked = true;
      action.focus();
      event.preventDefault();
      return;
    }
    const category = decide.querySelector(`input[name=categories][data-key="${CSS.escape(key)}"]`);
    if (category) {
      category.checked = !category.checked;
      event.preventDefault();
    }
  });
})();
