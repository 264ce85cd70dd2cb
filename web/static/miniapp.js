// The directory page: search as you type, cards, "ask to be put in touch".
// Every value is put in the page with textContent, never as HTML.
"use strict";
(function () {
  const tg = window.Telegram && window.Telegram.WebApp;
  const initData = tg ? tg.initData : "";
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  let strings = JSON.parse(document.getElementById("strings").content.textContent || "{}");
  let timer = null;
  let latest = 0;

  function api(path, options) {
    const init = Object.assign({ headers: {} }, options || {});
    init.headers["Authorization"] = "tma " + initData;
    return fetch(base + "/api/" + path, init).then((response) =>
      response.json().then((data) => ({ status: response.status, data: data }))
    );
  }

  function status(text) {
    $("status").textContent = text || "";
  }

  function applyStrings(next, language, dir) {
    strings = next;
    document.documentElement.lang = language;
    document.documentElement.dir = dir;
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      const key = el.getAttribute("data-i18n");
      if (strings[key]) el.textContent = strings[key];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      const key = el.getAttribute("data-i18n-placeholder");
      if (strings[key]) el.setAttribute("placeholder", strings[key]);
    });
  }

  function element(tag, text, className) {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  function askForm(item, li, button) {
    button.hidden = true;
    const form = element("form");
    const label = element("label", strings.note);
    const note = element("textarea");
    note.maxLength = 300;
    note.id = "note-" + item.id;
    label.htmlFor = note.id;
    const send = element("button", strings.send);
    send.type = "submit";
    const cancel = element("button", strings.cancel, "secondary");
    cancel.type = "button";
    cancel.addEventListener("click", () => { form.remove(); button.hidden = false; });
    form.append(label, note, send, cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send.disabled = true;
      api("ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id: item.id, note: note.value }),
      }).then(({ data }) => {
        form.replaceWith(element("p", data.message || data.error || strings.error, "sent"));
      }).catch(() => { send.disabled = false; status(strings.error); });
    });
    li.append(form);
    note.focus();
  }

  function pager(data, q) {
    const nav = $("pages");
    nav.replaceChildren();
    const go = (label, page) => {
      const button = element("button", label, "secondary");
      button.type = "button";
      button.addEventListener("click", () => search(q, page));
      nav.append(button);
    };
    if (data.page > 1) go(strings.previous, data.page - 1);
    if (data.page < data.pages) go(strings.next, data.page + 1);
  }

  function render(data) {
    const list = $("results");
    list.replaceChildren();
    $("summary").textContent = data.summary;
    if (!data.results.length) {
      $("summary").textContent = strings.none;
      return;
    }
    data.results.forEach((item) => {
      const li = element("li", undefined, "card");
      li.dataset.id = String(item.id);
      // Each value keeps its own direction (a Latin name in an Arabic page, and the reverse).
      const title = element("h2");
      const name = element("bdi", item.name || "—");
      title.append(name, " ", element("span", "#" + item.id, "id"));
      const fields = element("dl");
      item.fields.forEach((f) => {
        const dt = element("dt", f.label);
        const dd = element("dd", f.value);
        dd.dir = "auto";
        dd.dataset.field = f.field;
        fields.append(dt, dd);
      });
      li.append(title, fields);
      if (item.can_ask) {
        const button = element("button", strings.ask);
        button.type = "button";
        button.className = "ask";
        button.addEventListener("click", () => askForm(item, li, button));
        li.append(button);
      }
      list.append(li);
    });
  }

  function search(query, page) {
    const q = query || $("q").value.trim();
    if (q.length < 3) return;
    const mine = ++latest;
    $("summary").textContent = strings.loading;
    $("pages").replaceChildren();
    const path = "directory?q=" + encodeURIComponent(q) + "&page=" + (page || 1);
    api(path).then(({ status: code, data }) => {
      if (mine !== latest) return;
      if (code !== 200) { $("summary").textContent = ""; status(data.error || strings.error); return; }
      status("");
      render(data);
      pager(data, q);
    }).catch(() => status(strings.error));
  }

  function start() {
    if (tg) { tg.ready(); tg.expand(); }
    $("search").addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); search(); });
    // As you type, once the typing pauses: each search counts toward the hourly limit.
    $("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(), 800); });
    api("me").then(({ status: code, data }) => {
      if (code !== 200) { status(data.error || strings.error); $("search").hidden = true; return; }
      applyStrings(data.strings, data.language, data.dir);
      document.body.dataset.ready = "1";
    }).catch(() => status(strings.error));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
