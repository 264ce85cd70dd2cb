// The directory screen: search as you type, cards, "ask to be put in touch".
"use strict";
(function () {
  const imbot = window.imbot;
  const $ = imbot.$;
  const t = (key) => imbot.text("directory", key);
  const element = imbot.element;
  let timer = null;
  let latest = 0;

  function askForm(item, li, button) {
    button.hidden = true;
    const form = element("form");
    const label = element("label", t("note"));
    const note = element("textarea");
    note.maxLength = 300;
    note.id = "note-" + item.id;
    label.htmlFor = note.id;
    const send = element("button", t("send"));
    send.type = "submit";
    const cancel = element("button", t("cancel"), "secondary");
    cancel.type = "button";
    cancel.addEventListener("click", () => { form.remove(); button.hidden = false; });
    form.append(label, note, send, cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send.disabled = true;
      imbot.post("ask", { id: item.id, note: note.value }).then(({ data }) => {
        form.replaceWith(element("p", data.message || data.error || imbot.text("error"), "sent"));
      }).catch(() => { send.disabled = false; imbot.status(imbot.text("error")); });
    });
    li.append(form);
    note.focus();
  }

  function pager(data) {
    const nav = $("pages");
    nav.replaceChildren();
    const go = (label, page) => {
      const button = element("button", label, "secondary");
      button.type = "button";
      // Another page of the same search (its lookup): not a new search against the limit.
      button.addEventListener("click", () => turn(data.lookup, page));
      nav.append(button);
    };
    if (data.page > 1) go(t("previous"), data.page - 1);
    if (data.page < data.pages) go(t("next"), data.page + 1);
  }

  function render(data) {
    const list = $("results");
    list.replaceChildren();
    $("summary").textContent = data.summary;
    if (!data.results.length) {
      $("summary").textContent = t("none");
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
        const button = element("button", t("ask"));
        button.type = "button";
        button.className = "ask";
        button.addEventListener("click", () => askForm(item, li, button));
        li.append(button);
      }
      list.append(li);
    });
  }

  function fetchPage(path) {
    const mine = ++latest;
    $("summary").textContent = t("loading");
    $("pages").replaceChildren();
    imbot.api(path).then(({ status: code, data }) => {
      if (mine !== latest) return;
      if (code !== 200) {
        $("summary").textContent = "";
        imbot.status(data.error || imbot.text("error"));
        return;
      }
      imbot.status("");
      render(data);
      pager(data);
    }).catch(() => imbot.status(imbot.text("error")));
  }

  function search() {
    const q = $("q").value.trim();
    if (q.length < 3) return;
    fetchPage("directory?q=" + encodeURIComponent(q));
  }

  function turn(lookup, page) {
    fetchPage("directory?lookup=" + encodeURIComponent(lookup) + "&page=" + page);
  }

  imbot.register("directory", {
    start: function () {
      $("search").addEventListener("submit", (event) => {
        event.preventDefault();
        clearTimeout(timer);
        search();
      });
      // As you type, once the typing pauses: each search counts toward the hourly limit.
      $("q").addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => search(), 800);
      });
    },
  });
})();
