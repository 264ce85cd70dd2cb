// The deadline board: upcoming dates in the deadline's time zone, the reader's status, the
// reminder buttons' answers, and the calendar subscription link.
"use strict";
(function () {
  const imbot = window.imbot;
  const t = (key) => imbot.text("deadlines", key);
  const element = imbot.element;
  let section = null;

  function occurrenceItem(deadline, occurrence) {
    const li = element("li", undefined, "occurrence");
    li.dataset.at = occurrence.at;
    li.append(element("span", occurrence.due, "due"));
    if (occurrence.status) {
      const state = element("span", occurrence.status_text, "state");
      state.dataset.status = occurrence.status;
      li.append(" ", state);
    }
    (occurrence.actions || []).forEach((choice) => {
      const button = element("button", choice.label, choice.action === "submitted" ? "" : "secondary");
      button.type = "button";
      button.dataset.action = choice.action;
      button.addEventListener("click", () => {
        li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
        imbot.post("deadlines/answer", {
          deadline: deadline.id, occurrence: occurrence.at, action: choice.action,
        }).then(({ status: code, data }) => {
          imbot.status(code === 200 ? "" : data.error || imbot.text("error"));
          return load(code === 200 ? data.message : null);
        }).catch(() => imbot.status(imbot.text("error")));
      });
      li.append(button);
    });
    return li;
  }

  function deadlineCard(deadline) {
    const li = element("li", undefined, "card deadline");
    li.dataset.id = deadline.id;
    const title = element("h2");
    title.append(element("bdi", deadline.title), " ", element("span", deadline.id, "id"));
    li.append(title, element("p", deadline.rule, "hint"));
    if (deadline.mine) li.append(element("p", t("mine") + ": " + deadline.unit, "mine"));
    const dates = element("ul", undefined, "occurrences");
    deadline.occurrences.forEach((o) => dates.append(occurrenceItem(deadline, o)));
    li.append(dates);
    return li;
  }

  function feedBlock(feed) {
    const block = element("div", undefined, "feed");
    block.id = "feed";
    block.append(element("h2", t("calendar")), element("p", feed.text, "hint"));
    if (feed.url) {
      const url = element("code", feed.url, "feed-url");
      url.dir = "ltr";
      block.append(url);
    }
    const act = (label, action, className) => {
      const button = element("button", label, className);
      button.type = "button";
      button.dataset.action = action;
      button.addEventListener("click", () => {
        button.disabled = true;
        imbot.post("deadlines/calendar", { action: action }).then(({ status: code, data }) => {
          if (code !== 200) {
            imbot.status(data.error || imbot.text("error"));
            button.disabled = false;
            return;
          }
          imbot.status("");
          block.replaceWith(feedBlock(data.calendar));
        }).catch(() => imbot.status(imbot.text("error")));
      });
      block.append(button);
    };
    if (feed.can_new) act(t("new_link"), "new", "");
    if (feed.can_stop) act(t("stop_link"), "stop", "secondary");
    return block;
  }

  function render(data, message) {
    const parts = [element("h1", t("title"))];
    if (message) parts.push(element("p", message, "sent"));
    parts.push(element("p", data.partner || data.subscribe, "hint partner"));
    const list = element("ul", undefined, "deadlines");
    data.deadlines.forEach((d) => list.append(deadlineCard(d)));
    if (!data.deadlines.length) parts.push(element("p", t("none"), "hint"));
    parts.push(list, feedBlock(data.calendar));
    section.replaceChildren(...parts);
    section.dataset.loaded = "1";
  }

  function load(message) {
    delete section.dataset.loaded;
    return imbot.api("deadlines").then(({ status: code, data }) => {
      if (code !== 200) {
        imbot.status(data.error || imbot.text("error"));
        return;
      }
      render(data, message);
    }).catch(() => imbot.status(imbot.text("error")));
  }

  imbot.register("deadlines", {
    start: function (element_) { section = element_; },
    show: function () {
      if (!section.childElementCount) section.append(element("p", t("loading"), "hint"));
      load(null);
    },
  });
})();
