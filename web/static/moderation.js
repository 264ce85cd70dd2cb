// The moderators' screen: the roster (sort, filter, CSV), pending join requests and
// introductions (held newcomers sponsored or removed), the moderation log, who is missing per
// deadline. Values via textContent only.
"use strict";
(function () {
  const imbot = window.imbot;
  const t = (key) => imbot.text("moderation", key);
  const element = imbot.element;
  const COLUMNS = ["name", "category", "organisation", "cluster", "sponsor", "status", "end", "seen"];
  const SORT_KEYS = { end: "end_key", seen: "seen_key" };
  const PARTS = ["roster", "pending", "audit", "missing"];
  const state = { part: "roster", members: [], sort: "name", descending: false, auditPage: 1 };
  const ui = {};

  function button(label, className, onClick) {
    const el = element("button", label, className);
    el.type = "button";
    el.addEventListener("click", onClick);
    return el;
  }

  function select(id, label) {
    const wrap = element("div", undefined, "field");
    const caption = element("label", label);
    const el = element("select");
    el.id = id;
    caption.htmlFor = id;
    wrap.append(caption, el);
    return { wrap: wrap, el: el };
  }

  function options(el, first, values) {
    const kept = el.value;
    el.replaceChildren(element("option", first));
    el.firstChild.value = "";
    values.forEach(([value, label]) => {
      const option = element("option", label);
      option.value = value;
      el.append(option);
    });
    el.value = values.some(([value]) => value === kept) ? kept : "";
  }

  function failed(result) {
    if (result.status === 200) return false;
    imbot.status(result.data.error || imbot.text("error"));
    return true;
  }

  // --- the roster ---------------------------------------------------------------------------
  function buildRoster(panel) {
    const filters = element("form", undefined, "filters");
    filters.addEventListener("submit", (event) => event.preventDefault());
    const label = element("label", t("filter"));
    ui.filter = element("input");
    ui.filter.id = "mod-filter";
    ui.filter.type = "search";
    ui.filter.dir = "auto";
    ui.filter.maxLength = 100;
    ui.filter.placeholder = t("filter_hint");
    label.htmlFor = ui.filter.id;
    const status = select("mod-status", t("status"));
    const category = select("mod-category", t("category"));
    const end = select("mod-end", t("end"));
    const seen = select("mod-seen", t("seen"));
    ui.status = status.el;
    ui.category = category.el;
    ui.end = end.el;
    ui.seen = seen.el;
    options(ui.end, t("any_end"), [["soon", t("ends_soon")], ["ended", t("ended")]]);
    options(ui.seen, t("any_seen"), [
      ["30", t("unseen_30")], ["90", t("unseen_90")], ["never", t("never_seen")],
    ]);
    filters.append(label, ui.filter, status.wrap, category.wrap, end.wrap, seen.wrap);
    [ui.filter, ui.status, ui.category, ui.end, ui.seen]
      .forEach((el) => el.addEventListener("input", drawRoster));
    ui.summary = element("p", "", "hint");
    ui.csv = button(canDownload() ? t("download") : t("csv"), "secondary", sendCsv);
    ui.csv.id = "mod-csv";
    const scroll = element("div", undefined, "scroll");
    ui.table = element("table");
    ui.table.id = "roster";
    scroll.append(ui.table);
    panel.append(filters, ui.summary, ui.csv, scroll);
  }

  function sortKey(row, column) {
    return String(row[SORT_KEYS[column] || column] || "").toLocaleLowerCase();
  }

  // The end date and last-seen filters, from the days the server counted by its own clock.
  const END_FILTERS = {
    soon: (row) => row.ends_in !== null && row.ends_in >= 0 && row.ends_in <= 30,
    ended: (row) => row.ends_in !== null && row.ends_in < 0,
  };
  const SEEN_FILTERS = {
    30: (row) => row.unseen_days >= 30,
    90: (row) => row.unseen_days >= 90,
    never: (row) => row.never_seen,
  };

  function drawRoster() {
    const words = ui.filter.value.trim().toLocaleLowerCase();
    const rows = state.members.filter((row) =>
      (!ui.status.value || row.status === ui.status.value) &&
      (!ui.category.value || row.category === ui.category.value) &&
      (!ui.end.value || END_FILTERS[ui.end.value](row)) &&
      (!ui.seen.value || SEEN_FILTERS[ui.seen.value](row)) &&
      (!words || [row.name, row.username, row.organisation, row.cluster, row.sponsor, row.group]
        .join(" ").toLocaleLowerCase().includes(words)));
    const column = state.sort;
    const way = state.descending ? -1 : 1;
    rows.sort((a, b) => {
      const x = sortKey(a, column), y = sortKey(b, column);
      if (x === y) return a.name.localeCompare(b.name);
      if (!x) return 1; // empty cells last either way
      if (!y) return -1;
      return x.localeCompare(y) * way;
    });
    const head = element("tr");
    COLUMNS.forEach((name) => {
      const th = element("th");
      th.scope = "col";
      th.dataset.column = name;
      if (name === column) th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
      const arrow = name === column ? (state.descending ? " ▾" : " ▴") : "";
      th.append(button(t(name) + arrow, undefined, () => {
        state.descending = state.sort === name ? !state.descending : false;
        state.sort = name;
        drawRoster();
      }));
      head.append(th);
    });
    const thead = element("thead");
    thead.append(head);
    const tbody = element("tbody");
    rows.forEach((row) => {
      const tr = element("tr");
      tr.dataset.id = String(row.id);
      COLUMNS.forEach((name) => {
        const td = element("td", name === "name" && row.group ? row.name + " · " + row.group : row[name]);
        td.dir = "auto";
        tr.append(td);
      });
      tbody.append(tr);
    });
    ui.table.replaceChildren(thead, tbody);
    ui.summary.textContent = rows.length === state.members.length
      ? ui.total : rows.length + " / " + ui.total;
  }

  function loadRoster() {
    return imbot.api("moderation/roster").then((result) => {
      if (failed(result)) return;
      state.members = result.data.members;
      ui.total = result.data.summary;
      const unique = (key) => Array.from(new Set(state.members.map((r) => r[key]).filter(Boolean)))
        .sort().map((v) => [v, v]);
      options(ui.status, t("all_statuses"), unique("status"));
      options(ui.category, t("all_categories"), unique("category"));
      drawRoster();
    });
  }

  // Telegram's own download dialog (Bot API 8.0): the client fetches a single-use link.
  function canDownload() {
    const tg = window.Telegram && window.Telegram.WebApp;
    return Boolean(tg && typeof tg.downloadFile === "function" &&
      typeof tg.isVersionAtLeast === "function" && tg.isVersionAtLeast("8.0"));
  }

  // One file after the other (one per group): each waits for the dialog before it.
  function downloadAll(files) {
    if (!files.length) { ui.csv.disabled = false; return; }
    const file = files[0];
    // An address without a host is under the page's own (/app/download/…).
    const here = window.location.origin + window.location.pathname.replace(/\/+$/, "") + "/";
    const url = new URL(file.url, here).href;
    try {
      window.Telegram.WebApp.downloadFile({ url: url, file_name: file.file_name },
        () => downloadAll(files.slice(1)));
    } catch (error) {
      ui.csv.disabled = false;
      imbot.status(imbot.text("error"));
    }
  }

  // Else, as /members csv: the file sent to the moderator's private chat.
  function sendCsv() {
    ui.csv.disabled = true;
    if (canDownload()) {
      imbot.post("moderation/csv-link", {}).then(({ status, data }) => {
        if (status !== 200) {
          ui.csv.disabled = false;
          imbot.status(data.error || imbot.text("error"));
          return;
        }
        downloadAll(data.files);
      }).catch(() => { ui.csv.disabled = false; imbot.status(imbot.text("error")); });
      return;
    }
    imbot.post("moderation/csv", {}).then(({ data }) => {
      ui.csv.disabled = false;
      imbot.status(data.message || data.error || imbot.text("error"));
    }).catch(() => { ui.csv.disabled = false; imbot.status(imbot.text("error")); });
  }

  // --- pending ------------------------------------------------------------------------------
  function buildPending(panel) {
    ui.requests = element("ul");
    ui.requests.id = "join-requests";
    ui.intros = element("ul");
    ui.intros.id = "introductions";
    panel.append(element("h2", t("join_requests")), ui.requests,
      element("h2", t("introductions")), ui.intros);
  }

  function item(entry, detail) {
    const li = element("li", undefined, "card");
    li.dataset.id = String(entry.id);
    const title = element("h3");
    title.append(element("bdi", entry.name));
    if (entry.group) title.append(" · ", element("bdi", entry.group));
    li.append(title, element("p", detail));
    return li;
  }

  function decide(entry, li, decision) {
    li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    imbot.post("moderation/decide", { id: entry.id, decision: decision }).then(({ data }) => {
      li.replaceChildren(element("p", entry.name + ": " + (data.message || data.error || imbot.text("error")), "sent"));
      // Sponsored: the introduction opens in the chat, as after the chat's button.
      const tg = window.Telegram && window.Telegram.WebApp;
      if (data.link && tg && tg.openTelegramLink) tg.openTelegramLink(data.link);
    }).catch(() => imbot.status(imbot.text("error")));
  }

  // A held newcomer: sponsored (their introduction opens in the chat) or removed, then the
  // lists are read again.
  function decideHeld(entry, li, decision) {
    li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    imbot.post("moderation/held", { id: entry.id, decision: decision }).then(({ data }) => {
      imbot.status(entry.name + ": " + (data.message || data.error || imbot.text("error")));
      const tg = window.Telegram && window.Telegram.WebApp;
      if (data.link && tg && tg.openTelegramLink) tg.openTelegramLink(data.link);
      return loadPending();
    }).catch(() => imbot.status(imbot.text("error")));
  }

  function loadPending() {
    return imbot.api("moderation/pending").then((result) => {
      if (failed(result)) return;
      ui.requests.replaceChildren();
      ui.intros.replaceChildren();
      result.data.join_requests.forEach((entry) => {
        const li = item(entry, entry.state + " · " + entry.waited);
        if (!entry.sponsored) {
          li.append(button(t("sponsor_held"), "sponsor", () => decide(entry, li, "sponsor")), " ");
        }
        li.append(button(t("approve"), "approve", () => decide(entry, li, "approve")), " ",
          button(t("decline"), "secondary decline", () => decide(entry, li, "decline")));
        ui.requests.append(li);
      });
      result.data.introductions.forEach((entry) => {
        const li = item(entry, entry.needs + " · " + entry.waited);
        if (entry.held) {
          li.append(button(t("sponsor_held"), "sponsor", () => decideHeld(entry, li, "sponsor")), " ",
            button(t("remove_held"), "secondary remove", () => decideHeld(entry, li, "remove")));
        }
        ui.intros.append(li);
      });
      if (!result.data.join_requests.length) ui.requests.append(element("li", t("none"), "hint"));
      if (!result.data.introductions.length) ui.intros.append(element("li", t("none"), "hint"));
    });
  }

  // --- the moderation log -------------------------------------------------------------------
  function buildAudit(panel) {
    const form = element("form", undefined, "filters");
    const label = element("label", t("who"));
    ui.who = element("input");
    ui.who.id = "audit-who";
    ui.who.type = "search";
    ui.who.dir = "auto";
    ui.who.maxLength = 100;
    label.htmlFor = ui.who.id;
    const action = select("audit-action", t("action"));
    ui.action = action.el;
    const show = element("button", t("show"));
    show.type = "submit";
    form.append(label, ui.who, action.wrap, show);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      state.auditPage = 1;
      loadAudit();
    });
    ui.auditSummary = element("p", "", "hint");
    ui.entries = element("ul");
    ui.entries.id = "audit-entries";
    ui.auditPages = element("nav");
    panel.append(form, ui.auditSummary, ui.entries, ui.auditPages);
  }

  function loadAudit() {
    const query = "who=" + encodeURIComponent(ui.who.value.trim()) +
      "&action=" + encodeURIComponent(ui.action.value) + "&page=" + state.auditPage;
    return imbot.api("moderation/audit?" + query).then((result) => {
      if (failed(result)) return;
      const data = result.data;
      if (ui.action.options.length <= 1) {
        options(ui.action, t("all_actions"), data.actions.map((a) => [a.kind, a.label]));
      }
      ui.auditSummary.textContent = data.summary;
      ui.entries.replaceChildren();
      data.entries.forEach((entry) => {
        const li = element("li", undefined, "card");
        const head = element("p", undefined, "hint");
        head.append(element("bdi", entry.at));
        if (entry.group) head.append(" · ", element("bdi", entry.group));
        const line = element("p");
        line.append(element("bdi", entry.actor), " ", entry.did, " ", element("bdi", entry.target));
        li.append(head, line);
        [entry.reason, entry.detail].filter(Boolean).forEach((text) => {
          const p = element("p", text);
          p.dir = "auto";
          li.append(p);
        });
        ui.entries.append(li);
      });
      ui.auditPages.replaceChildren();
      if (data.page > 1) {
        ui.auditPages.append(button(t("newer"), "secondary", () => { state.auditPage--; loadAudit(); }));
      }
      if (data.more) {
        ui.auditPages.append(button(t("older"), "secondary", () => { state.auditPage++; loadAudit(); }));
      }
    });
  }

  // --- missing per deadline -----------------------------------------------------------------
  function buildMissing(panel) {
    const choice = select("missing-deadline", t("deadline"));
    ui.deadline = choice.el;
    ui.deadline.addEventListener("change", loadMissing);
    ui.report = element("div");
    ui.report.id = "missing-report";
    panel.append(choice.wrap, ui.report);
  }

  function loadDeadlines() {
    return imbot.api("moderation/deadlines").then((result) => {
      if (failed(result)) return;
      options(ui.deadline, t("choose"), result.data.deadlines.map((d) => [d.id, d.title + " (" + d.id + ")"]));
      if (ui.deadline.value) loadMissing();
    });
  }

  function loadMissing() {
    ui.report.replaceChildren();
    if (!ui.deadline.value) return;
    imbot.api("moderation/missing?id=" + encodeURIComponent(ui.deadline.value)).then((result) => {
      if (failed(result)) return;
      const data = result.data;
      ui.report.append(element("h2", data.title));
      if (data.over) { ui.report.append(element("p", data.over)); return; }
      ui.report.append(element("p", data.summary, "hint"));
      if (!data.missing.length) { ui.report.append(element("p", data.nobody)); return; }
      const list = element("ul");
      data.missing.forEach((unit) => {
        const li = element("li", undefined, "card");
        li.append(element("h3", unit.unit));
        const people = unit.people.map((p) => p.name + (p.unreachable ? " (" + data.unreachable + ")" : ""));
        const p = element("p", people.length ? people.join(", ") : data.no_partner);
        p.dir = "auto";
        li.append(p);
        list.append(li);
      });
      ui.report.append(list);
    });
  }

  // --- the screen ---------------------------------------------------------------------------
  const LOAD = { roster: loadRoster, pending: loadPending, audit: loadAudit, missing: loadDeadlines };

  function open(part) {
    state.part = part;
    ui.parts.querySelectorAll("button").forEach((b) => {
      b.setAttribute("aria-pressed", b.dataset.part === part ? "true" : "false");
    });
    PARTS.forEach((name) => { ui[name + "Panel"].hidden = name !== part; });
    imbot.status("");
    LOAD[part]().catch(() => imbot.status(imbot.text("error")));
  }

  imbot.register("moderation", {
    start: function (section) {
      const title = element("h1", t("title"));
      ui.parts = element("div", undefined, "segmented");
      ui.parts.id = "moderation-parts";
      section.append(title, ui.parts);
      const builders = { roster: buildRoster, pending: buildPending, audit: buildAudit, missing: buildMissing };
      PARTS.forEach((name) => {
        const b = button(t(name), undefined, () => open(name));
        b.dataset.part = name;
        ui.parts.append(b);
        const panel = element("div");
        panel.id = "moderation-" + name;
        ui[name + "Panel"] = panel;
        builders[name](panel);
        section.append(panel);
      });
    },
    // The tab opened: the texts may have changed language since start; read everything again.
    show: function (section) {
      section.replaceChildren();
      this.start(section);
      open(state.part);
    },
  });
})();
