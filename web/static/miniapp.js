// The Mini App's core: Telegram's initData on every request, the page's texts, the tabs.
// Each screen's script (web/static/<screen>.js) calls imbot.register(name, {show}); show(section)
// runs each time its tab is opened. Every value is put in the page with textContent, never HTML.
"use strict";
(function () {
  const tg = window.Telegram && window.Telegram.WebApp;
  const initData = tg ? tg.initData : "";
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  const screens = {};
  const imbot = {
    strings: JSON.parse(document.getElementById("strings").content.textContent || "{}"),
    me: null,
    $: $,
    // A text of a screen ("directory", "note") or a shared one ("error").
    text: (screen, key) => imbot.strings[key === undefined ? screen : screen + "." + key] || "",
    api: function (path, options) {
      const init = Object.assign({ headers: {} }, options || {});
      init.headers["Authorization"] = "tma " + initData;
      return fetch(base + "/api/" + path, init).then((response) =>
        response.json().then((data) => ({ status: response.status, data: data }))
      );
    },
    // A JSON POST (every state change is one): the answer's status and data.
    post: (path, body) => imbot.api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
    status: (text) => { $("status").textContent = text || ""; },
    element: function (tag, text, className) {
      const el = document.createElement(tag);
      if (text !== undefined && text !== null) el.textContent = text;
      if (className) el.className = className;
      return el;
    },
    register: (name, screen) => { screens[name] = screen; },
    show: show,
  };
  window.imbot = imbot;

  function applyStrings(next, language, dir) {
    imbot.strings = next;
    document.documentElement.lang = language;
    document.documentElement.dir = dir;
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      const key = el.getAttribute("data-i18n");
      if (next[key]) el.textContent = next[key];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      const key = el.getAttribute("data-i18n-placeholder");
      if (next[key]) el.setAttribute("placeholder", next[key]);
    });
    document.querySelectorAll("[data-i18n-label]").forEach((el) => {
      const key = el.getAttribute("data-i18n-label");
      if (next[key]) el.setAttribute("aria-label", next[key]);
    });
  }

  function show(name) {
    document.body.dataset.screen = name;
    document.querySelectorAll("#tabs [data-screen]").forEach((tab) => {
      tab.setAttribute("aria-selected", tab.dataset.screen === name ? "true" : "false");
    });
    document.querySelectorAll("main > section[data-screen]").forEach((section) => {
      section.hidden = section.dataset.screen !== name;
    });
    imbot.status("");
    const screen = screens[name];
    if (screen && screen.show) screen.show($("screen-" + name));
  }

  function start() {
    if (tg) { tg.ready(); tg.expand(); }
    document.querySelectorAll("#tabs [data-screen]").forEach((tab) => {
      tab.addEventListener("click", () => show(tab.dataset.screen));
    });
    Object.keys(screens).forEach((name) => {
      if (screens[name].start) screens[name].start($("screen-" + name));
    });
    imbot.api("me").then(({ status: code, data }) => {
      if (code !== 200) {
        imbot.status(data.error || imbot.text("error"));
        document.querySelectorAll("main > section, #tabs").forEach((el) => { el.hidden = true; });
        return;
      }
      imbot.me = data;
      applyStrings(data.strings, data.language, data.dir);
      document.querySelectorAll("#tabs [data-moderators]").forEach((tab) => {
        tab.hidden = !data.moderator;
      });
      let first = document.body.dataset.screen;
      const tab = document.querySelector("#tabs [data-screen='" + first + "']");
      if (!tab || tab.hidden) first = "directory";
      show(first);
      document.body.dataset.ready = "1";
    }).catch(() => imbot.status(imbot.text("error")));
  }

  // The screens' scripts run after this one (all deferred, in order), before DOMContentLoaded.
  if (document.readyState !== "complete") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
