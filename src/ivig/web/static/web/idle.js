// ivig: the idle sign-out, without losing what was typed (issue 16 item 2).
//
// - A countdown in the last minutes before the idle sign-out ("You will be signed out in
//   1:45"), with "Stay signed in", which asks the server for more time (POST data-stay-url).
//   The limit comes from the server (data-idle-seconds on <body>, the IDLE_MINUTES setting);
//   before showing the countdown and at its end the page asks the server how long is left
//   (another tab may have been used), as the page's polling, which is not activity.
// - The entry kept: a form sent is kept in this tab's sessionStorage, keyed by its action,
//   until its answer arrives; at the end of the countdown every form with typed values is kept.
//   The sign-in page marks what is kept "to restore"; after signing in, the page it returns to
//   (next) puts the values back in its form and says so. Kept values are never sent to the
//   server; passwords, hidden fields and files are never kept; signing out clears them all, and
//   a restored entry is removed.
(() => {
  "use strict";
  const PREFIX = "ivig-unsaved:";
  const SKIPPED = new Set(["hidden", "password", "file", "submit", "button", "reset", "image"]);
  const body = document.body;

  // --- the kept entries ------------------------------------------------------------------------

  const store = (() => {
    try {
      return window.sessionStorage;
    } catch {
      return null; // storage refused: nothing is kept
    }
  })();

  const actionOf = (form) => new URL(form.getAttribute("action") || "", window.location.href).pathname;

  const keptKeys = () => {
    const keys = [];
    for (let i = 0; store && i < store.length; i += 1) {
      const key = store.key(i);
      if (key && key.startsWith(PREFIX)) keys.push(key);
    }
    return keys;
  };

  const read = (key) => {
    try {
      return JSON.parse(store.getItem(key));
    } catch {
      return null;
    }
  };

  const fields = (form) =>
    Array.from(form.elements).filter(
      (el) => el.name && !el.disabled && !SKIPPED.has((el.type || "").toLowerCase()),
    );

  const valuesOf = (form) => {
    const values = [];
    for (const el of fields(form)) {
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked) values.push([el.name, el.value]);
      } else if (el.type === "select-multiple") {
        for (const option of el.selectedOptions) values.push([el.name, option.value]);
      } else {
        values.push([el.name, el.value]);
      }
    }
    return values;
  };

  const typedIn = (form) =>
    fields(form).some((el) => {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.options) return Array.from(el.options).some((o) => o.selected !== o.defaultSelected);
      return el.value !== el.defaultValue;
    });

  const isSignOut = (form) => actionOf(form) === new URL(body.dataset.signoutUrl || "/signout/", window.location.href).pathname;
  const kept = (form) =>
    store && form.method.toLowerCase() === "post" && !form.hasAttribute("data-signin") && !isSignOut(form);

  const keep = (form) => {
    if (!kept(form)) return;
    const entry = { page: window.location.pathname, values: valuesOf(form), restore: false };
    try {
      store.setItem(PREFIX + actionOf(form), JSON.stringify(entry));
    } catch {
      // storage full or refused: the entry is not kept
    }
  };

  const forget = (form) => store && store.removeItem(PREFIX + actionOf(form));
  const forgetAll = () => keptKeys().forEach((key) => store.removeItem(key));

  const restore = (form, entry) => {
    const byName = new Map();
    for (const [name, value] of entry.values) {
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push(value);
    }
    for (const el of fields(form)) {
      const values = byName.get(el.name);
      if (!values) continue;
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = values.includes(el.value);
      } else if (el.type === "select-multiple") {
        for (const option of el.options) option.selected = values.includes(option.value);
      } else if (values.length) {
        el.value = values.shift();
      }
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
    const note = document.createElement("p");
    note.className = "restored";
    note.setAttribute("role", "status");
    note.textContent = "Your unsaved entry was restored \u2014 check it and save.";
    form.prepend(note);
    form.scrollIntoView({ block: "center" });
  };

  // A form sent: kept until its answer. Capture: before htmx takes the submit.
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      if (isSignOut(form)) forgetAll();
      else keep(form);
    },
    true,
  );

  // An htmx request answered (before the swap: a form swapped out no longer bubbles events).
  // By the idle sign-out (401): htmx goes to the sign-in page next, so what was typed in this
  // page's forms is kept first. Otherwise the form sent is answered: its entry is dropped.
  document.addEventListener("htmx:beforeOnLoad", (event) => {
    const detail = event.detail || {};
    const status = detail.xhr ? detail.xhr.status : 0;
    if (status === 401) {
      for (const form of document.forms) if (kept(form) && typedIn(form)) keep(form);
      return;
    }
    const form = detail.elt && detail.elt.closest ? detail.elt.closest("form") : null;
    if (form && status) forget(form);
    const headers = (detail.requestConfig && detail.requestConfig.headers) || {};
    if (!headers["X-Ivig-Poll"]) restart(); // the user's request: the idle clock starts again
  });

  // On load: the sign-in page marks the kept entries "to restore"; any other page restores
  // its forms' entries and drops the rest (their form was answered by this page).
  const onLoad = () => {
    const signIn = document.querySelector("form[data-signin]");
    let toRestore = 0;
    for (const key of keptKeys()) {
      const entry = read(key);
      if (!entry) {
        store.removeItem(key);
      } else if (signIn) {
        entry.restore = true;
        store.setItem(key, JSON.stringify(entry));
        toRestore += 1;
      } else {
        const action = key.slice(PREFIX.length);
        const form = entry.restore
          ? Array.from(document.forms).find((f) => kept(f) && actionOf(f) === action)
          : null;
        if (form) restore(form, entry);
        store.removeItem(key);
      }
    }
    const note = document.querySelector("[data-idle-restore]");
    if (note && toRestore) note.hidden = false;
  };

  // --- the countdown -------------------------------------------------------------------------

  const limit = Number(body.dataset.idleSeconds || 0);
  const warn = Number(body.dataset.idleWarnSeconds || 120);
  const stayUrl = body.dataset.stayUrl;
  const signinUrl = body.dataset.signinUrl || "/signin/";
  let deadline = Date.now() + limit * 1000;
  function restart() {
    deadline = Date.now() + limit * 1000;
  }
  let asking = false;
  let banner = null;

  const csrf = () => {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  };

  const clock = (ms) => {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };

  // Signed out: keep what was typed, and go to the sign-in page (back here after it).
  const signedOut = (idle) => {
    for (const form of document.forms) if (kept(form) && typedIn(form)) keep(form);
    const here = window.location.pathname + window.location.search;
    const next = encodeURIComponent(here).replace(/%2F/g, "/"); // as the server writes it
    window.location.assign(`${signinUrl}?next=${next}${idle ? "&idle=1" : ""}`);
  };

  // The server's answer: {signed_in, remaining}; a page instead of JSON: signed out for idling.
  const ask = async (method) => {
    asking = true;
    try {
      const headers = method === "POST" ? { "X-CSRFToken": csrf() } : { "X-Ivig-Poll": "idle" };
      const response = await fetch(stayUrl, { method, headers, credentials: "same-origin" });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.includes("json")) return signedOut(true);
      const state = await response.json();
      if (!state.signed_in) return signedOut(false);
      deadline = Date.now() + state.remaining * 1000;
    } catch {
      // offline for a moment: the next tick asks again
    } finally {
      asking = false;
    }
    return tick();
  };

  const showBanner = (left) => {
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "idle-warning";
      banner.setAttribute("role", "alert");
      const text = document.createElement("p");
      text.append("You will be signed out in ");
      const time = document.createElement("strong");
      time.className = "idle-left";
      text.append(time, " without activity.");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Stay signed in";
      button.addEventListener("click", () => ask("POST"));
      text.append(" ", button);
      banner.append(text);
      body.prepend(banner);
    }
    banner.querySelector(".idle-left").textContent = clock(left);
    banner.hidden = false;
  };

  // Each second: nothing until the warning; then ask the server once (another tab may have
  // been used) and count down; at zero ask again (at most once a second) until it signs out.
  let checked = false;
  let lastAsked = 0;
  const tick = () => {
    if (asking) return;
    const left = deadline - Date.now();
    if (left > warn * 1000) {
      checked = false;
      if (banner) banner.hidden = true;
    } else if (!checked || (left <= 0 && Date.now() - lastAsked > 1000)) {
      checked = true;
      lastAsked = Date.now();
      ask("GET");
    } else {
      showBanner(left);
    }
  };

  onLoad();
  if (limit > 0 && stayUrl) {
    window.setInterval(tick, 1000);
  }
})();
