// The profile screen: each detail's level (saved per tap), what others see, my shares with
// Revoke, /mydata's sections and "forget me" with the chat's question.
"use strict";
(function () {
  const imbot = window.imbot;
  const t = (key) => imbot.text("profile", key);
  const element = imbot.element;
  let section = null;
  let nonce = 0;

  function heading(text) {
    return element("h2", text);
  }

  function fields(data) {
    const list = element("ul", undefined, "profile-fields");
    data.fields.forEach((f) => {
      const li = element("li", undefined, "card");
      li.dataset.field = f.field;
      const value = element("p", f.value || t("empty"), "value");
      value.dir = "auto";
      const label = element("strong", f.label);
      label.id = "field-" + f.field;
      const group = element("div", undefined, "segmented");
      group.setAttribute("role", "group");
      group.setAttribute("aria-labelledby", label.id);
      data.levels.forEach((level) => {
        const button = element("button", level.label);
        button.type = "button";
        button.dataset.level = level.level;
        button.setAttribute("aria-pressed", level.level === f.level ? "true" : "false");
        button.addEventListener("click", () => {
          if (button.getAttribute("aria-pressed") === "true") return;
          group.querySelectorAll("button").forEach((b) => { b.disabled = true; });
          // A fresh nonce per tap: setting a level back is a new request, not a replay.
          nonce += 1;
          post("profile/level", { field: f.field, level: level.level, nonce: Date.now() + "-" + nonce });
        });
        group.append(button);
      });
      li.append(label, value, group);
      list.append(li);
    });
    return list;
  }

  function previews(data) {
    const list = element("ul", undefined, "previews");
    data.previews.forEach((p) => {
      const li = element("li", undefined, "card");
      li.dataset.audience = p.audience;
      li.append(element("strong", p.label));
      if (!p.fields.length) li.append(element("p", t("nothing"), "hint"));
      const dl = element("dl");
      p.fields.forEach((f) => {
        const dd = element("dd", f.value);
        dd.dir = "auto";
        dd.dataset.field = f.field;
        dl.append(element("dt", f.label), dd);
      });
      li.append(dl);
      list.append(li);
    });
    return list;
  }

  function shares(data) {
    const list = element("ul", undefined, "shares");
    if (!data.shares.length) list.append(element("li", t("no_shares"), "hint"));
    data.shares.forEach((s) => {
      const li = element("li", undefined, "card");
      li.dataset.grant = String(s.id);
      const who = element("bdi", s.who);
      li.append(who, element("p", s.fields, "hint"));
      const button = element("button", t("revoke"), "revoke");
      button.type = "button";
      button.addEventListener("click", () => {
        button.disabled = true;
        post("profile/revoke", { id: s.id });
      });
      li.append(button);
      list.append(li);
    });
    return list;
  }

  function mydata(data) {
    const box = element("div", undefined, "mydata");
    data.data.forEach((s) => {
      if (s.title) box.append(element("h3", s.title));
      s.lines.forEach((line) => {
        const p = element("p", line);
        p.dir = "auto";
        box.append(p);
      });
    });
    return box;
  }

  function forget() {
    const box = element("div", undefined, "forget");
    const start = element("button", t("forget"), "danger");
    start.type = "button";
    start.id = "forget";
    start.addEventListener("click", () => {
      start.hidden = true;
      const question = element("p", t("confirm"));
      const yes = element("button", t("forget"), "danger");
      yes.type = "button";
      yes.id = "forget-yes";
      const no = element("button", t("keep"), "secondary");
      no.type = "button";
      no.addEventListener("click", () => { box.replaceWith(forget()); });
      yes.addEventListener("click", () => {
        yes.disabled = true;
        post("profile/forget", { confirm: true });
      });
      box.append(question, yes, no);
      yes.focus();
    });
    box.append(start);
    return box;
  }

  function render(data, message) {
    section.replaceChildren();
    section.append(element("h1", t("title")));
    const said = element("p", message || "", "sent");
    said.id = "profile-said";
    said.setAttribute("role", "status");
    section.append(said);
    if (data.notice) section.append(element("p", data.notice, "hint notice"));
    if (data.entry) {
      section.append(heading(t("fields")), fields(data));
      section.append(heading(t("previews")), previews(data));
    }
    section.append(heading(t("shares")), shares(data));
    section.append(heading(t("data")), mydata(data), forget());
    section.dataset.loaded = "1";
  }

  function post(path, body) {
    imbot.post(path, body).then(({ status: code, data }) => {
      if (code !== 200) {
        imbot.status(data.error || imbot.text("error"));
        load();
        return;
      }
      imbot.status("");
      render(data, data.message);
    }).catch(() => imbot.status(imbot.text("error")));
  }

  function load() {
    imbot.api("profile").then(({ status: code, data }) => {
      if (code !== 200) {
        imbot.status(data.error || imbot.text("error"));
        return;
      }
      render(data);
    }).catch(() => imbot.status(imbot.text("error")));
  }

  imbot.register("profile", {
    start: function (el) { section = el; },
    show: function (el) {
      section = el;
      delete section.dataset.loaded;
      load();
    },
  });
})();
