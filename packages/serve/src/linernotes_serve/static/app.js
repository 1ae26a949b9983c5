// The linernotes listener page: ask POST /v1/recommend, show the picks and the cited
// story, and send feedback to POST /v1/feedback. Plain JavaScript, no dependencies.
"use strict";

(() => {
  const KEY = "linernotes.apiKey"; // sessionStorage: the API key, for this tab only
  const CITATION = /\[(\d+)\]/g;
  const SVG = "http://www.w3.org/2000/svg";
  const THUMB =
    "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3";
  const $ = (id) => document.getElementById(id);

  const form = $("ask");
  const go = $("go");
  const results = $("results");
  const formError = $("form-error");
  const keyForm = $("key-form");

  let retry = null; // what to run again once an API key is given
  let shown = null; // the result on screen: {result, at, impressed}

  /** An element with attributes and children (strings become text, never HTML). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value == null) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    el.append(...children.flat().filter((c) => c != null));
    return el;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Call the API; resolve to its JSON, or throw an ApiError with the server's detail. */
  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    const key = sessionStorage.getItem(KEY);
    if (key) headers["x-api-key"] = key;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "The server cannot be reached. Is it running?");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
      throw new ApiError(response.status, `${detail || "error"} (${response.status})`);
    }
    return data;
  }

  /** Show an API error with ``say``; on 401, ask for an API key and then run ``again``. */
  function failed(error, again, say) {
    if (error.status === 401) {
      retry = again;
      keyForm.hidden = false;
      $("api-key").focus();
      say(`This server needs an API key: enter it above and choose “Use key”. ${error.message}`);
    } else {
      say(error.message);
    }
  }

  function showError(message) {
    formError.textContent = message;
    formError.hidden = !message;
  }

  // -- the form ---------------------------------------------------------------------------

  async function loadChoices() {
    try {
      const [people, contexts] = await Promise.all([
        api("GET", "/v1/listeners?limit=24"),
        api("GET", "/v1/contexts"),
      ]);
      $("listener").replaceChildren(
        ...people.listeners.map((l) => h("option", { value: l.id }, `${l.id}: ${l.label}`)),
      );
      for (const field of ["mood", "activity", "time"]) {
        const select = $(field);
        select.replaceChildren(
          select.options[0],
          ...contexts[field].map((word) => h("option", { value: word }, word)),
        );
      }
      showError("");
    } catch (error) {
      failed(error, loadChoices, showError);
    }
  }

  function who() {
    return form.elements.who.value;
  }

  function toggleWho() {
    const artists = who() === "artists";
    $("artists-field").hidden = !artists;
    $("listener-field").hidden = artists;
  }

  /** The body of POST /v1/recommend for the form, or null (with a message) if incomplete. */
  function requestBody() {
    const context = {};
    for (const field of ["mood", "activity", "time"]) {
      if ($(field).value) context[field] = $(field).value;
    }
    const body = { context }; // k: the server's, as stories made ahead of time use
    if (who() === "artists") {
      const names = $("artists")
        .value.split(",")
        .map((name) => name.trim())
        .filter(Boolean);
      if (!names.length) {
        showError("Name at least one artist (separate names with commas).");
        $("artists").focus();
        return null;
      }
      body.history = names;
    } else {
      if (!$("listener").value) {
        showError("Choose a listener first.");
        $("listener").focus();
        return null;
      }
      body.listener = $("listener").value;
    }
    return body;
  }

  function setBusy(busy) {
    results.setAttribute("aria-busy", String(busy));
    go.setAttribute("aria-disabled", String(busy));
    go.textContent = busy ? "Writing…" : "Write the liner notes";
  }

  async function ask() {
    if (go.getAttribute("aria-disabled") === "true") return;
    const body = requestBody();
    if (!body) return;
    showError("");
    setBusy(true);
    results.replaceChildren(
      h("div", { class: "empty loading" }, h("p", { class: "empty-title" }, "Writing your liner notes")),
    );
    try {
      render(await api("POST", "/v1/recommend", body));
    } catch (error) {
      results.replaceChildren(
        h("div", { class: "empty" }, h("p", { class: "empty-title" }, "No liner notes this time.")),
      );
      failed(error, ask, showError);
    } finally {
      setBusy(false);
    }
  }

  // -- the result -------------------------------------------------------------------------

  function moment(context) {
    return [context.mood, context.activity, context.time].filter(Boolean).join(" · ");
  }

  function render(result) {
    shown = { result, at: new Date().toISOString(), impressed: false };
    const request = result.request;
    const story = result.story;
    const title = request.listener.id
      ? `Picks for listener ${request.listener.id}`
      : "Picks for your artists";
    const when = moment(request.context);
    results.replaceChildren(
      h(
        "article",
        { class: "notes", "aria-labelledby": "notes-title" },
        h("p", { class: "eyebrow" }, when ? `Liner notes · ${when}` : "Liner notes"),
        h("h2", { id: "notes-title" }, title),
        request.notes.map((note) => h("p", { class: "notice" }, note)),
        h("h3", {}, "The picks"),
        h("ol", { class: "picks" }, result.picks.map((pick) => pickRow(pick, story))),
        h("h3", {}, "The story"),
        story ? storyBody(story, result.facts.facts) : h("p", {}, "No story passed the checks for these picks."),
        story ? feedbackBar() : null,
        story ? sources(story, result.facts.facts) : null,
        story
          ? h(
              "p",
              { class: "meta" },
              `Written by the ${story.generator} generator${story.fallback ? " (the verified fallback)" : ""}; story ${story.id}.`,
            )
          : null,
      ),
    );
  }

  function pickRow(pick, story) {
    const item = pick.item;
    return h(
      "li",
      { class: "pick" },
      h(
        "span",
        { class: "pick-text" },
        h("span", { class: "pick-name" }, item.name),
        h("span", { class: "pick-meta" }, `${item.listeners.toLocaleString("en")} listeners`),
      ),
      story
        ? h(
            "button",
            {
              type: "button",
              class: "chip",
              "aria-pressed": "false",
              "aria-label": `Played ${item.name}`,
              onclick: (e) => send("play", e.currentTarget, `Noted: you played ${item.name}.`, item.id),
            },
            "Played",
          )
        : null,
    );
  }

  /** The fact text a citation number points to. */
  function factText(story, facts, n) {
    const id = story.citations[n];
    const fact = facts.find((f) => f.id === id) || facts[n - 1];
    return fact ? fact.text : "";
  }

  /** The story as prose, each [n] a link to its source with the fact in a tooltip. */
  function storyBody(story, facts) {
    const parts = [];
    let last = 0;
    let count = 0;
    for (const match of story.text.matchAll(CITATION)) {
      parts.push(story.text.slice(last, match.index));
      const n = match[1];
      const tip = `tip-${count++}`;
      parts.push(
        h(
          "span",
          { class: "cite", onmouseenter: place, onmouseleave: undismiss },
          h(
            "a",
            {
              href: `#source-${n}`,
              "aria-label": `Fact ${n}`,
              "aria-describedby": tip,
              onfocus: place,
              onblur: undismiss,
              onkeydown: dismiss,
            },
            `[${n}]`,
          ),
          h("span", { class: "tip", role: "tooltip", id: tip }, factText(story, facts, n)),
        ),
      );
      last = match.index + match[0].length;
    }
    parts.push(story.text.slice(last));
    return h("div", { class: "story" }, h("p", {}, parts));
  }

  /** Keep a tooltip over the notes and inside the window: below its citation when there
   * is no room above. */
  function place(event) {
    const cite = event.currentTarget.closest(".cite");
    const tip = cite.querySelector(".tip");
    const margin = 12;
    tip.style.setProperty("--shift", "0px");
    cite.classList.toggle("below", cite.getBoundingClientRect().top - tip.offsetHeight < 2 * margin);
    const box = tip.getBoundingClientRect();
    const notes = cite.closest(".notes").getBoundingClientRect();
    const left = Math.max(margin, notes.left + margin);
    const right = Math.min(document.documentElement.clientWidth, notes.right) - margin;
    const shift = box.left < left ? left - box.left : box.right > right ? right - box.right : 0;
    tip.style.setProperty("--shift", `${shift}px`);
  }

  function dismiss(event) {
    if (event.key === "Escape") event.currentTarget.closest(".cite").classList.add("dismissed");
  }

  function undismiss(event) {
    event.currentTarget.closest(".cite").classList.remove("dismissed");
  }

  function sources(story, facts) {
    const numbers = Object.keys(story.citations)
      .map(Number)
      .sort((a, b) => a - b);
    return [
      h("h3", { id: "sources-title" }, "Sources"),
      h(
        "ol",
        { class: "sources", "aria-labelledby": "sources-title" },
        numbers.map((n) =>
          h(
            "li",
            { id: `source-${n}`, value: String(n) },
            h("span", { class: "source-num" }, `[${n}]`),
            h("span", {}, factText(story, facts, n)),
          ),
        ),
      ),
    ];
  }

  /** A thumb icon (after Feather's thumbs-up, MIT), pointing down when ``down``. */
  function thumbIcon(down) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", THUMB);
    if (down) path.setAttribute("transform", "rotate(180 12 12)");
    svg.append(path);
    return svg;
  }

  function feedbackBar() {
    const thumb = (kind, label) =>
      h(
        "button",
        {
          type: "button",
          class: "chip",
          "aria-pressed": "false",
          "data-kind": kind,
          onclick: (e) => send(kind, e.currentTarget, `Thanks, your ${label} is saved.`),
        },
        thumbIcon(kind === "thumbs_down"),
        `${label[0].toUpperCase()}${label.slice(1)}`,
      );
    return [
      h(
        "div",
        { class: "feedback", role: "group", "aria-label": "Feedback on this story" },
        h("span", { class: "feedback-label" }, "How was this?"),
        thumb("thumbs_up", "thumbs up"),
        thumb("thumbs_down", "thumbs down"),
      ),
      h("p", { id: "feedback-status", class: "status", role: "status", "aria-live": "polite" }),
    ];
  }

  // -- feedback -------------------------------------------------------------------------

  /** Send one feedback event (with the story's impression, the first time); say ``done``. */
  async function send(kind, button, done, item) {
    if (!shown || button.getAttribute("aria-pressed") === "true") return;
    const { result } = shown;
    const story = result.story;
    // feedback on an inline history is keyed by the request id, as impressions are
    const base = { listener: result.request.listener.id || result.request.id, story_id: story.id };
    const events = [];
    if (!shown.impressed) {
      events.push({
        event: "impression",
        ts: shown.at,
        ...base,
        context: result.request.context,
        story: story.text,
        pack: result.facts,
      });
    }
    events.push({ event: kind, ts: new Date().toISOString(), ...base, ...(item ? { item } : {}) });
    const status = $("feedback-status");
    const say = (message, ok) => {
      status.textContent = message;
      status.classList.toggle("failed", !ok);
    };
    try {
      await api("POST", "/v1/feedback", events);
      shown.impressed = true;
      button.setAttribute("aria-pressed", "true");
      if (kind === "play") button.textContent = "Played ✓";
      if (kind.startsWith("thumbs")) {
        for (const other of document.querySelectorAll(".feedback [data-kind]")) {
          if (other !== button) other.setAttribute("aria-pressed", "false");
        }
      }
      say(done, true);
    } catch (error) {
      failed(error, () => send(kind, button, done, item), (message) => say(message, false));
    }
  }

  // -- wiring ---------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });
  for (const radio of form.elements.who) radio.addEventListener("change", toggleWho);
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    showError("");
    const again = retry;
    retry = null;
    if (again) again();
  });
  if (sessionStorage.getItem(KEY)) {
    keyForm.hidden = false;
    $("api-key").value = sessionStorage.getItem(KEY);
  }
  toggleWho();
  loadChoices();
})();
