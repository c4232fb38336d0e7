/*
 * zabota operator console: the handoff queue (left) and one handoff's summary, transcript, notes and actions
 * (right). Plain JavaScript, no dependencies, served as a static file by the gateway.
 *
 * Nothing from the server is ever parsed as HTML: every customer, operator or bot string reaches the page
 * through textContent / text nodes only.
 */
(() => {
  "use strict";

  const API = "/api/v1/operator";
  const KEY_TOKEN = "zabota.operator_token";
  const KEY_LANG = "zabota.operator_lang";
  const PING_MS = 25000;
  const BACKOFF_MAX_MS = 15000;
  const POLL_MS = 10000;
  const TICK_MS = 15000;
  const PRIORITY_RANK = { p1: 1, p2: 2, p3: 3, p4: 4 };
  const ACTIVE_STATES = new Set(["queued", "claimed"]);
  const AUTH_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403]);

  const STRINGS = {
    ru: {
      appTitle: "Консоль оператора",
      docTitle: "Консоль оператора — Служба заботы",
      loginTitle: "Вход для операторов",
      loginHint: "Введите персональный токен оператора.",
      token: "Токен",
      login: "Войти",
      logout: "Выйти",
      invalidToken: "Неверный токен",
      sessionExpired: "Сессия истекла: войдите снова",
      unreachable: "Сервер недоступен",
      lang: "EN",
      langLabel: "Switch to English",
      online: "Онлайн",
      connecting: "Подключение…",
      offline: "Нет связи, переподключаемся…",
      enableNotifications: "Включить уведомления",
      queue: "Очередь",
      queueEmpty: "Очередь пуста",
      selectHint: "Выберите обращение в очереди слева",
      loading: "Загрузка…",
      open: "Открыть",
      dismiss: "Скрыть",
      urgent: "Срочное обращение",
      urgentAlert: "Срочное обращение {priority}: {intent} ({channel})",
      leftMin: "осталось {t}",
      overdueBy: "просрочено на {t}",
      minutes: "{n} мин",
      hours: "{h} ч {m} мин",
      seconds: "<1 мин",
      assignee: "Взял: {name}",
      mine: "Моё",
      unassigned: "Не взято",
      sensitive: "Чувствительное",
      state_queued: "В очереди",
      state_claimed: "В работе",
      state_closed: "Закрыто",
      state_handed_back: "Возвращено боту",
      summary: "Сводка",
      priority: "Приоритет",
      due: "Срок",
      reasons: "Причины передачи",
      intents: "Намерения",
      problem: "Проблема",
      botTried: "Бот пробовал",
      sentiment: "Тональность",
      churnRisk: "Риск ухода",
      nextStep: "Следующий шаг",
      entities: "Данные",
      customer: "Клиент",
      segment: "Сегмент",
      language: "Язык",
      channel: "Канал",
      contacts: "Контакты",
      ageBand: "Возраст",
      region: "Регион",
      tags: "Метки",
      phones: "Телефоны",
      emails: "Почта",
      accounts: "Лицевые счета",
      optedOut: "Отписан от",
      recentContacts: "Последние обращения",
      channels: "Каналы",
      created: "Создано",
      transcript: "Переписка",
      transcriptEmpty: "Сообщений нет",
      notes: "Заметки",
      notesEmpty: "Заметок нет",
      actions: "Действия",
      claim: "Взять в работу",
      handback: "Вернуть боту",
      close: "Закрыть",
      resolution: "Итог (необязательно)",
      resolutionDone: "Итог",
      reply: "Ответ клиенту… (Ctrl+Enter — отправить)",
      send: "Отправить",
      note: "Внутренняя заметка (клиент её не видит)",
      addNote: "Добавить заметку",
      notMine: "Ответить, вернуть боту и закрыть можно после того, как вы возьмёте обращение в работу.",
      claimedByOther: "Обращение ведёт {name}.",
      closedHint: "Обращение больше не активно.",
      role_customer: "Клиент",
      role_bot: "Бот",
      role_operator: "Оператор",
      role_system: "Система",
      buttons: "Кнопки: {list}",
      image: "Изображение: {url}",
      roleLead: "старший",
      roleOperator: "оператор",
      error: "Ошибка: {detail}",
      yes: "да",
      no: "нет",
    },
    en: {
      appTitle: "Operator console",
      docTitle: "Operator console — Customer care",
      loginTitle: "Operator sign-in",
      loginHint: "Enter your personal operator token.",
      token: "Token",
      login: "Sign in",
      logout: "Sign out",
      invalidToken: "invalid token",
      sessionExpired: "Session expired: sign in again",
      unreachable: "The server cannot be reached",
      lang: "RU",
      langLabel: "Переключить на русский",
      online: "Online",
      connecting: "Connecting…",
      offline: "Disconnected, reconnecting…",
      enableNotifications: "Enable notifications",
      queue: "Queue",
      queueEmpty: "The queue is empty",
      selectHint: "Select a handoff in the queue",
      loading: "Loading…",
      open: "Open",
      dismiss: "Dismiss",
      urgent: "Urgent handoff",
      urgentAlert: "Urgent handoff {priority}: {intent} ({channel})",
      leftMin: "{t} left",
      overdueBy: "overdue by {t}",
      minutes: "{n} min",
      hours: "{h} h {m} min",
      seconds: "<1 min",
      assignee: "Taken by {name}",
      mine: "Mine",
      unassigned: "Unassigned",
      sensitive: "Sensitive",
      state_queued: "Queued",
      state_claimed: "In progress",
      state_closed: "Closed",
      state_handed_back: "Handed back",
      summary: "Summary",
      priority: "Priority",
      due: "Due",
      reasons: "Handoff reasons",
      intents: "Intents",
      problem: "Problem",
      botTried: "Bot tried",
      sentiment: "Sentiment",
      churnRisk: "Churn risk",
      nextStep: "Next step",
      entities: "Entities",
      customer: "Customer",
      segment: "Segment",
      language: "Language",
      channel: "Channel",
      contacts: "Contacts",
      ageBand: "Age band",
      region: "Region",
      tags: "Tags",
      phones: "Phones",
      emails: "Emails",
      accounts: "Accounts",
      optedOut: "Opted out of",
      recentContacts: "Last contacts",
      channels: "Channels",
      created: "Created",
      transcript: "Transcript",
      transcriptEmpty: "No messages",
      notes: "Notes",
      notesEmpty: "No notes",
      actions: "Actions",
      claim: "Claim",
      handback: "Hand back to bot",
      close: "Close",
      resolution: "Resolution (optional)",
      resolutionDone: "Resolution",
      reply: "Reply to the customer… (Ctrl+Enter to send)",
      send: "Send",
      note: "Internal note (the customer does not see it)",
      addNote: "Add note",
      notMine: "Claim the handoff to reply, hand it back or close it.",
      claimedByOther: "{name} is handling this handoff.",
      closedHint: "This handoff is no longer active.",
      role_customer: "Customer",
      role_bot: "Bot",
      role_operator: "Operator",
      role_system: "System",
      buttons: "Buttons: {list}",
      image: "Image: {url}",
      roleLead: "lead",
      roleOperator: "operator",
      error: "Error: {detail}",
      yes: "yes",
      no: "no",
    },
  };

  // ---------------------------------------------------------------- helpers

  const storage = safeStorage(() => window.localStorage);
  const session = safeStorage(() => window.sessionStorage);

  function safeStorage(get) {
    const memory = new Map();
    let store = null;
    try {
      store = get();
      store.setItem("zabota.probe", "1");
      store.removeItem("zabota.probe");
    } catch (_) {
      store = null;
    }
    return {
      get: (k) => (store ? store.getItem(k) : memory.has(k) ? memory.get(k) : null),
      set: (k, v) => (store ? store.setItem(k, v) : memory.set(k, v)),
      remove: (k) => (store ? store.removeItem(k) : memory.delete(k)),
    };
  }

  let lang = storage.get(KEY_LANG) === "en" ? "en" : "ru";

  function t(key, vars) {
    let s = (STRINGS[lang] && STRINGS[lang][key]) ?? STRINGS.ru[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
    return s;
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = String(v);
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  const str = (v) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v));

  function fmtTime(ts) {
    if (typeof ts !== "number" || !isFinite(ts)) return "";
    const d = new Date(ts * 1000);
    const now = new Date();
    const locale = lang === "ru" ? "ru-RU" : "en-GB";
    const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === now.toDateString()) return time;
    return `${d.toLocaleDateString(locale, { day: "2-digit", month: "2-digit" })} ${time}`;
  }

  function fmtSpan(seconds) {
    const s = Math.abs(seconds);
    if (s < 60) return t("seconds");
    const totalMin = Math.floor(s / 60);
    if (totalMin < 60) return t("minutes", { n: totalMin });
    return t("hours", { h: Math.floor(totalMin / 60), m: totalMin % 60 });
  }

  function dueLabel(item) {
    if (typeof item.due_at !== "number") return { text: "", overdue: Boolean(item.overdue) };
    const left = item.due_at - Date.now() / 1000;
    const overdue = left < 0 || Boolean(item.overdue);
    return { text: left < 0 ? t("overdueBy", { t: fmtSpan(left) }) : t("leftMin", { t: fmtSpan(left) }), overdue };
  }

  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }

  /** {"error":{"code","detail"}}, {"error":"code","detail":"..."} or FastAPI's {"detail": ...}. */
  function parseError(body, status) {
    let code = null;
    let detail = null;
    if (body && typeof body === "object") {
      const e = body.error;
      if (e && typeof e === "object") {
        code = e.code ?? null;
        detail = e.detail ?? null;
      } else if (typeof e === "string") {
        code = e;
      }
      if (!detail && typeof body.detail === "string") detail = body.detail;
      if (!detail && Array.isArray(body.detail)) detail = body.detail.map((x) => (x && x.msg) || str(x)).join("; ");
    }
    return new ApiError(status, code, str(detail || code || `HTTP ${status}`));
  }

  async function api(method, path, body, tokenOverride) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${tokenOverride ?? state.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (_) {
      throw new ApiError(0, "network", t("unreachable"));
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw parseError(data, response.status);
    return data;
  }

  // ---------------------------------------------------------------- state

  const state = {
    token: session.get(KEY_TOKEN),
    me: null,
    items: new Map(),
    unread: new Set(),
    flash: new Set(),
    selectedId: null,
    detail: null, // {handoff, history, profile}
    detailError: null,
    wsState: "connecting",
    alerts: [], // [{id, handoffId, text}]
    drafts: { reply: "", note: "", resolution: "" },
    actionError: null,
    busy: false,
    loginError: null,
  };

  let ws = null;
  let attempt = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let pollTimer = null;
  let tickTimer = null;
  let blinkTimer = null;
  let detailSeq = 0;
  const baseTitle = () => t("docTitle");

  const appRoot = document.getElementById("app") || document.body.appendChild(el("div", { id: "app", class: "op-app" }));
  const ui = {};

  // ---------------------------------------------------------------- login

  function renderLogin() {
    stopLive();
    document.title = baseTitle();
    document.documentElement.lang = lang;
    const input = el("input", {
      id: "op-token",
      type: "password",
      autocomplete: "current-password",
      "data-testid": "op-token-input",
      required: true,
    });
    const error = el("p", { class: "op-error", "data-testid": "op-login-error", role: "alert", text: state.loginError || "" });
    error.hidden = !state.loginError;
    const submit = el("button", { type: "submit", class: "btn btn-primary", "data-testid": "op-login", text: t("login") });
    const form = el(
      "form",
      { class: "op-login", "data-testid": "op-login-form" },
      el("h1", { text: t("loginTitle") }),
      el("p", { text: t("loginHint") }),
      el("label", { for: "op-token", text: t("token") }),
      input,
      error,
      el(
        "div",
        { class: "row" },
        submit,
        el("button", {
          type: "button",
          class: "btn btn-ghost",
          "data-testid": "op-lang",
          "aria-label": t("langLabel"),
          text: t("lang"),
          onclick: () => toggleLang(),
        }),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      submit.disabled = true;
      await login(token);
      submit.disabled = false;
    });
    appRoot.replaceChildren(form);
    input.focus();
  }

  async function login(token) {
    try {
      const me = await api("GET", `${API}/me`, undefined, token);
      state.token = token;
      state.me = me;
      state.loginError = null;
      session.set(KEY_TOKEN, token);
      startApp();
    } catch (err) {
      state.token = null;
      session.remove(KEY_TOKEN);
      state.loginError = err.status === 401 || err.status === 403 ? t("invalidToken") : err.detail;
      renderLogin();
    }
  }

  function logout(message) {
    state.token = null;
    state.me = null;
    state.items.clear();
    state.unread.clear();
    state.selectedId = null;
    state.detail = null;
    state.alerts = [];
    state.drafts = { reply: "", note: "", resolution: "" };
    state.loginError = message || null;
    session.remove(KEY_TOKEN);
    renderLogin();
  }

  function toggleLang() {
    lang = lang === "ru" ? "en" : "ru";
    storage.set(KEY_LANG, lang);
    if (state.me) renderApp();
    else renderLogin();
  }

  // ---------------------------------------------------------------- the app shell

  function startApp() {
    renderApp();
    loadQueue();
    connect();
    clearInterval(tickTimer);
    tickTimer = setInterval(tick, TICK_MS);
  }

  function stopLive() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    clearInterval(pingTimer);
    clearInterval(pollTimer);
    pollTimer = null;
    clearInterval(tickTimer);
    stopBlink();
    if (ws) {
      const old = ws;
      ws = null;
      try {
        old.close(1000);
      } catch (_) {
        /* already closed */
      }
    }
  }

  function renderApp() {
    document.title = baseTitle();
    document.documentElement.lang = lang;
    const me = state.me || {};
    ui.status = el("span", { class: "op-status", "data-testid": "op-status", role: "status" });
    ui.notify = el("button", {
      type: "button",
      class: "btn btn-small",
      "data-testid": "op-notify",
      text: t("enableNotifications"),
      onclick: async () => {
        try {
          await Notification.requestPermission();
        } catch (_) {
          /* unsupported */
        }
        updateNotifyButton();
      },
    });
    const top = el(
      "header",
      { class: "op-top" },
      el("h1", { text: t("appTitle") }),
      ui.status,
      el("span", {
        class: "op-me",
        "data-testid": "op-me",
        text: `${str(me.name)} · ${me.role === "lead" ? t("roleLead") : t("roleOperator")}`,
      }),
      ui.notify,
      el("button", {
        type: "button",
        class: "btn btn-small",
        "data-testid": "op-lang",
        "aria-label": t("langLabel"),
        text: t("lang"),
        onclick: () => toggleLang(),
      }),
      el("button", { type: "button", class: "btn btn-small", "data-testid": "op-logout", text: t("logout"), onclick: () => logout() }),
    );
    ui.alerts = el("div", { class: "op-alerts", "data-testid": "op-alerts", role: "alert" });
    ui.notice = el("p", { class: "op-notice", "data-testid": "op-notice", role: "status", hidden: true });
    ui.count = el("span", { class: "count" });
    ui.list = el("ul", { class: "op-list", "data-testid": "op-queue", "aria-label": t("queue") });
    ui.detail = el("section", { class: "op-detail", "data-testid": "op-detail", "aria-live": "off" });
    appRoot.replaceChildren(
      top,
      ui.alerts,
      ui.notice,
      el(
        "main",
        { class: "op-main" },
        el("nav", { class: "op-queue" }, el("h2", {}, el("span", { text: t("queue") }), ui.count), ui.list),
        ui.detail,
      ),
    );
    setWsState(state.wsState);
    updateNotifyButton();
    renderAlerts();
    renderQueue();
    buildDetail();
  }

  function updateNotifyButton() {
    if (!ui.notify) return;
    ui.notify.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  function setWsState(next) {
    state.wsState = next;
    if (!ui.status) return;
    ui.status.dataset.state = next;
    ui.status.textContent = t(next === "online" ? "online" : next === "offline" ? "offline" : "connecting");
  }

  let noticeTimer = null;
  function showNotice(text) {
    if (!ui.notice) return;
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (ui.notice.hidden = true), 10000);
  }

  // ---------------------------------------------------------------- queue

  function sortedItems() {
    return Array.from(state.items.values())
      .filter((it) => ACTIVE_STATES.has(it.state))
      .sort(
        (a, b) =>
          (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) ||
          (a.due_at ?? Infinity) - (b.due_at ?? Infinity) ||
          (a.created_at ?? 0) - (b.created_at ?? 0),
      );
  }

  function renderQueue() {
    if (!ui.list) return;
    const items = sortedItems();
    ui.count.textContent = String(items.length);
    const nodes = items.map((item) => el("li", {}, queueItem(item)));
    if (!nodes.length) nodes.push(el("li", { class: "op-empty", "data-testid": "op-queue-empty", text: t("queueEmpty") }));
    ui.list.replaceChildren(...nodes);
  }

  function queueItem(item) {
    const id = str(item.handoff_id);
    const due = dueLabel(item);
    const mine = state.me && item.assignee && item.assignee === state.me.id;
    const who = item.assignee
      ? mine
        ? t("mine")
        : t("assignee", { name: item.assignee_name || item.assignee })
      : t("unassigned");
    const btn = el(
      "button",
      {
        type: "button",
        class: "op-item",
        "data-testid": "op-item",
        "data-handoff-id": id,
        "data-customer-id": str(item.customer_id),
        "data-priority": str(item.priority),
        "data-state": str(item.state),
        "data-overdue": String(due.overdue),
        "data-unread": String(state.unread.has(id)),
        "data-flash": state.flash.has(id) ? "true" : null,
        "aria-current": state.selectedId === id ? "true" : null,
        onclick: () => select(id),
      },
      el(
        "div",
        { class: "line1" },
        el("span", { class: `badge badge-${str(item.priority)}`, "data-testid": "op-priority", text: str(item.priority) }),
        el("span", { class: "intent", "data-testid": "op-intent", text: str(item.intent) }),
        item.sensitive ? el("span", { class: "badge badge-sensitive", text: t("sensitive") }) : null,
        state.unread.has(id) ? el("span", { class: "unread", "data-testid": "op-unread", title: "unread" }) : null,
      ),
      el(
        "div",
        { class: "line2" },
        el("span", { "data-testid": "op-channel", text: str(item.channel) }),
        item.language ? el("span", { text: str(item.language) }) : null,
        el("span", {
          class: "due",
          "data-testid": "op-due",
          "data-due": item.due_at ?? null,
          "data-overdue": String(due.overdue),
          text: due.text,
        }),
        el("span", { "data-testid": "op-assignee", text: who }),
      ),
      item.preview ? el("div", { class: "preview", "data-testid": "op-preview", text: str(item.preview) }) : null,
    );
    return btn;
  }

  function tick() {
    if (!ui.list) return;
    for (const node of ui.list.querySelectorAll('[data-testid="op-item"]')) {
      const item = state.items.get(node.dataset.handoffId);
      if (!item) continue;
      const due = dueLabel(item);
      node.dataset.overdue = String(due.overdue);
      const span = node.querySelector('[data-testid="op-due"]');
      if (span) {
        span.textContent = due.text;
        span.dataset.overdue = String(due.overdue);
      }
    }
    if (ui.headDue && state.detail) {
      const due = dueLabel(state.detail.handoff);
      ui.headDue.textContent = due.text;
      ui.headDue.dataset.overdue = String(due.overdue);
    }
  }

  function setItems(items) {
    state.items.clear();
    for (const it of Array.isArray(items) ? items : []) if (it && it.handoff_id) state.items.set(String(it.handoff_id), it);
    renderQueue();
  }

  function upsert(item) {
    if (!item || !item.handoff_id) return;
    const id = String(item.handoff_id);
    state.items.set(id, { ...(state.items.get(id) || {}), ...item });
    renderQueue();
    if (state.selectedId === id && state.detail) {
      state.detail.handoff = { ...state.detail.handoff, ...item };
      renderDetailHead();
      updateActions();
    }
  }

  async function loadQueue() {
    try {
      const data = await api("GET", `${API}/queue`);
      setItems(data && data.items);
    } catch (err) {
      if (err.status === 401) return logout(t("sessionExpired"));
      showNotice(t("error", { detail: err.detail }));
    }
  }

  // ---------------------------------------------------------------- alerts

  function addAlert(item) {
    const id = String(item.handoff_id);
    if (state.alerts.some((a) => a.handoffId === id)) return;
    const text = t("urgentAlert", {
      priority: str(item.priority).toUpperCase(),
      intent: str(item.intent),
      channel: str(item.channel),
    });
    state.alerts.push({ handoffId: id, text });
    renderAlerts();
    startBlink();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        // Priority, intent and channel only: no customer text leaves the page.
        const n = new Notification(t("urgent"), { body: text, tag: `zabota-${id}`, requireInteraction: true });
        n.onclick = () => {
          window.focus();
          select(id);
          n.close();
        };
      } catch (_) {
        /* e.g. a browser that wants a service worker for notifications */
      }
    }
  }

  function dismissAlert(handoffId) {
    state.alerts = state.alerts.filter((a) => a.handoffId !== handoffId);
    renderAlerts();
    if (!state.alerts.length) stopBlink();
  }

  function renderAlerts() {
    if (!ui.alerts) return;
    ui.alerts.replaceChildren(
      ...state.alerts.map((a) =>
        el(
          "div",
          { class: "op-alert", "data-testid": "op-alert", "data-handoff-id": a.handoffId },
          el("span", { class: "text", text: a.text }),
          el("button", {
            type: "button",
            class: "btn btn-small",
            "data-testid": "op-alert-open",
            text: t("open"),
            onclick: () => {
              dismissAlert(a.handoffId);
              select(a.handoffId);
            },
          }),
          el("button", {
            type: "button",
            class: "btn btn-small btn-ghost",
            "data-testid": "op-alert-dismiss",
            "aria-label": t("dismiss"),
            text: "✕",
            onclick: () => dismissAlert(a.handoffId),
          }),
        ),
      ),
    );
  }

  function startBlink() {
    if (blinkTimer) return;
    let on = false;
    blinkTimer = setInterval(() => {
      on = !on;
      document.title = on ? `⚠ ${t("urgent")}` : baseTitle();
    }, 1000);
  }

  function stopBlink() {
    clearInterval(blinkTimer);
    blinkTimer = null;
    document.title = baseTitle();
  }

  // ---------------------------------------------------------------- WebSocket

  function wsUrl() {
    const u = new URL(`${API}/ws`, location.href);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  }

  function connect() {
    reconnectTimer = null;
    if (!state.token) return;
    if (state.wsState !== "offline") setWsState("connecting");
    let socket;
    try {
      socket = new WebSocket(wsUrl());
    } catch (_) {
      onClosed(null, {});
      return;
    }
    ws = socket;
    socket.addEventListener("open", () => {
      if (ws !== socket) return;
      socket.send(JSON.stringify({ type: "auth", token: state.token }));
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    });
    socket.addEventListener("message", (ev) => {
      if (ws !== socket) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (ev) => onClosed(socket, ev));
  }

  function onClosed(socket, ev) {
    if (socket && ws !== socket) return;
    ws = null;
    clearInterval(pingTimer);
    if (!state.token) return;
    if (ev && AUTH_CLOSE_CODES.has(ev.code)) {
      // The server refused the token (revoked, expired): check it once over HTTP before giving up.
      api("GET", `${API}/me`)
        .then(() => scheduleReconnect())
        .catch((err) => (err.status === 401 || err.status === 403 ? logout(t("sessionExpired")) : scheduleReconnect()));
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    setWsState("offline");
    if (!pollTimer) {
      pollTimer = setInterval(() => {
        loadQueue();
        if (state.selectedId) refreshDetail();
      }, POLL_MS);
    }
    const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** attempt);
    attempt += 1;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  function onFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "ready":
        attempt = 0;
        setWsState("online");
        clearInterval(pollTimer);
        pollTimer = null;
        if (frame.operator && typeof frame.operator === "object") state.me = { ...state.me, ...frame.operator };
        if (state.selectedId) refreshDetail(); // catch up on what happened while disconnected
        break;
      case "queue":
        setItems(frame.items);
        break;
      case "handoff_new":
        if (frame.item) {
          upsert(frame.item);
          const p = frame.item.priority;
          const urgent = typeof frame.urgent === "boolean" ? frame.urgent : p === "p1" || p === "p2";
          if (urgent) addAlert(frame.item);
        }
        break;
      case "handoff_updated":
        if (frame.item) {
          upsert(frame.item);
          if (!ACTIVE_STATES.has(frame.item.state)) dismissAlert(String(frame.item.handoff_id));
          if (state.selectedId === String(frame.item.handoff_id)) refreshDetail();
        }
        break;
      case "customer_message": {
        const id = str(frame.handoff_id);
        if (state.selectedId === id && state.detail) {
          appendTranscript(frame.entry);
        } else if (id) {
          state.unread.add(id);
          renderQueue();
        }
        break;
      }
      case "reminder":
        if (frame.item) {
          const id = String(frame.item.handoff_id);
          state.flash.add(id);
          upsert({ ...frame.item, overdue: true });
          setTimeout(() => {
            state.flash.delete(id);
            const node = ui.list && ui.list.querySelector(`[data-handoff-id="${CSS.escape(id)}"]`);
            if (node) delete node.dataset.flash;
          }, 4000);
        }
        break;
      case "error":
        showNotice(t("error", { detail: str(frame.detail || frame.code || "error") }));
        break;
      default:
        break; // pong and anything newer than this console
    }
  }

  // ---------------------------------------------------------------- detail

  function select(id) {
    if (!id) return;
    if (state.selectedId !== id) {
      state.drafts = { reply: "", note: "", resolution: "" };
      state.actionError = null;
      state.detail = null;
      state.detailError = null;
    }
    state.selectedId = id;
    state.unread.delete(id);
    dismissAlert(id);
    renderQueue();
    buildDetail();
    refreshDetail();
  }

  async function refreshDetail() {
    const id = state.selectedId;
    if (!id) return;
    const seq = ++detailSeq;
    try {
      const data = await api("GET", `${API}/handoffs/${encodeURIComponent(id)}`);
      if (seq !== detailSeq || state.selectedId !== id) return;
      const first = !state.detail;
      state.detail = {
        handoff: (data && data.handoff) || {},
        history: Array.isArray(data && data.history) ? data.history : [],
        profile: (data && data.profile) || null,
      };
      state.detailError = null;
      if (first || !ui.summary) buildDetail();
      else renderDetailParts();
    } catch (err) {
      if (seq !== detailSeq) return;
      if (err.status === 401) return logout(t("sessionExpired"));
      state.detailError = err.detail;
      if (!state.detail) buildDetail();
      else showNotice(t("error", { detail: err.detail }));
    }
  }

  /** The whole right side; drafts survive because they live in state. */
  function buildDetail() {
    if (!ui.detail) return;
    ui.summary = ui.transcript = ui.notes = ui.headDue = null;
    if (!state.selectedId) {
      ui.detail.replaceChildren(el("p", { class: "op-placeholder", text: t("selectHint") }));
      return;
    }
    if (!state.detail) {
      ui.detail.replaceChildren(
        el("p", {
          class: state.detailError ? "op-action-error" : "op-placeholder",
          "data-testid": state.detailError ? "op-detail-error" : null,
          text: state.detailError ? t("error", { detail: state.detailError }) : t("loading"),
        }),
      );
      return;
    }

    ui.head = el("div", { class: "op-head", "data-testid": "op-detail-head" });
    ui.summary = el("section", { class: "card op-summary", "data-testid": "op-summary" });

    ui.claim = el("button", { type: "button", class: "btn btn-primary", "data-testid": "op-claim", text: t("claim"), onclick: () => act("claim") });
    ui.handback = el("button", { type: "button", class: "btn", "data-testid": "op-handback", text: t("handback"), onclick: () => act("handback") });
    ui.resolution = el("input", {
      type: "text",
      "data-testid": "op-resolution-input",
      placeholder: t("resolution"),
      "aria-label": t("resolution"),
      maxlength: "500",
    });
    ui.resolution.value = state.drafts.resolution;
    ui.resolution.addEventListener("input", () => (state.drafts.resolution = ui.resolution.value));
    ui.close = el("button", { type: "button", class: "btn btn-danger", "data-testid": "op-close", text: t("close"), onclick: () => act("close") });
    ui.actionHint = el("p", { class: "op-hint", "data-testid": "op-action-hint" });
    ui.actionError = el("p", { class: "op-action-error", "data-testid": "op-error", role: "alert", hidden: true });

    ui.transcript = el("div", { class: "op-transcript", "data-testid": "op-transcript", role: "log", "aria-live": "polite" });
    ui.replyInput = el("textarea", {
      "data-testid": "op-reply-input",
      placeholder: t("reply"),
      "aria-label": t("reply"),
      rows: "3",
      maxlength: "4000",
    });
    ui.replyInput.value = state.drafts.reply;
    ui.replyInput.addEventListener("input", () => {
      state.drafts.reply = ui.replyInput.value;
      updateActions();
    });
    ui.replyInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        act("reply");
      }
    });
    ui.replySend = el("button", { type: "button", class: "btn btn-primary", "data-testid": "op-reply-send", text: t("send"), onclick: () => act("reply") });

    ui.notes = el("ul", { class: "op-notes", "data-testid": "op-notes" });
    ui.noteInput = el("textarea", {
      "data-testid": "op-note-input",
      placeholder: t("note"),
      "aria-label": t("note"),
      rows: "2",
      maxlength: "4000",
    });
    ui.noteInput.value = state.drafts.note;
    ui.noteInput.addEventListener("input", () => {
      state.drafts.note = ui.noteInput.value;
      updateActions();
    });
    ui.noteSend = el("button", { type: "button", class: "btn", "data-testid": "op-note-send", text: t("addNote"), onclick: () => act("note") });

    ui.detail.replaceChildren(
      ui.head,
      el(
        "section",
        { class: "card", "data-testid": "op-actions" },
        el("h3", { text: t("actions") }),
        el("div", { class: "op-actions" }, ui.claim, ui.handback, ui.resolution, ui.close),
        ui.actionHint,
        ui.actionError,
      ),
      ui.summary,
      el(
        "section",
        { class: "card" },
        el("h3", { text: t("transcript") }),
        ui.transcript,
        el("div", { class: "op-compose" }, ui.replyInput, ui.replySend),
      ),
      el(
        "section",
        { class: "card" },
        el("h3", { text: t("notes") }),
        ui.notes,
        el("div", { class: "op-compose" }, ui.noteInput, ui.noteSend),
      ),
    );
    renderDetailParts();
  }

  function renderDetailParts() {
    renderDetailHead();
    renderSummary();
    renderTranscript();
    renderNotes();
    updateActions();
  }

  function renderDetailHead() {
    if (!ui.head || !state.detail) return;
    const h = state.detail.handoff;
    const summaryCustomer = (h.summary && h.summary.customer) || {};
    const profile = state.detail.profile || {};
    const name = profile.name || summaryCustomer.name || h.customer_id || "";
    const due = dueLabel(h);
    ui.headDue = el("span", { class: "due meta", "data-testid": "op-detail-due", "data-overdue": String(due.overdue), text: due.text });
    const parts = [
      el("h2", { "data-testid": "op-detail-customer", text: str(name) }),
      el("span", { class: `badge badge-${str(h.priority)}`, "data-testid": "op-detail-priority", text: str(h.priority) }),
      el("span", { class: "badge badge-state", "data-testid": "op-detail-state", "data-state": str(h.state), text: t(`state_${h.state}`) }),
      h.sensitive ? el("span", { class: "badge badge-sensitive", text: t("sensitive") }) : null,
      el("span", { class: "meta", text: [str(h.intent), str(h.channel), str(h.language)].filter(Boolean).join(" · ") }),
      ACTIVE_STATES.has(h.state) ? ui.headDue : null,
      el("span", {
        class: "meta",
        "data-testid": "op-detail-assignee",
        text: h.assignee ? t("assignee", { name: h.assignee_name || h.assignee }) : t("unassigned"),
      }),
    ];
    ui.head.replaceChildren(...parts.filter(Boolean));
  }

  function row(dl, label, value) {
    if (value === null || value === undefined || value === "") return;
    if (Array.isArray(value) && !value.length) return;
    dl.append(el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : str(value)));
  }

  function list(values, render) {
    return el("ul", {}, ...values.map((v) => el("li", {}, ...[].concat(render(v)))));
  }

  function keyValues(obj) {
    if (!obj || typeof obj !== "object") return null;
    const entries = Object.entries(obj).filter(([, v]) => v !== null && v !== undefined && v !== "");
    if (!entries.length) return null;
    return list(entries, ([k, v]) => `${k}: ${Array.isArray(v) ? v.map(str).join(", ") : str(v)}`);
  }

  function renderSummary() {
    if (!ui.summary || !state.detail) return;
    const h = state.detail.handoff;
    const s = h.summary && typeof h.summary === "object" ? h.summary : {};
    const profile = state.detail.profile && typeof state.detail.profile === "object" ? state.detail.profile : {};
    const customer = { ...(s.customer || {}), ...profile };
    const dl = el("dl");

    const priority = s.priority || h.priority;
    const due = typeof (s.due_at ?? h.due_at) === "number" ? fmtTime(s.due_at ?? h.due_at) : "";
    row(dl, t("priority"), el("span", {}, el("span", { class: `badge badge-${str(priority)}`, text: str(priority) }), due ? ` · ${t("due")} ${due}` : ""));

    const reasons = Array.isArray(s.reasons) && s.reasons.length ? s.reasons : Array.isArray(h.reasons) ? h.reasons : [];
    if (reasons.length) {
      row(
        dl,
        t("reasons"),
        el(
          "ul",
          { "data-testid": "op-reasons" },
          ...reasons.map((r) =>
            el(
              "li",
              { "data-testid": "op-reason", "data-code": str(r && r.code) },
              el("span", { class: "op-reason-code", text: str(r && r.code) }),
              r && r.detail ? ` ${str(r.detail)}` : "",
            ),
          ),
        ),
      );
    }

    const intents = Array.isArray(s.intents) ? s.intents : [];
    if (intents.length) {
      row(
        dl,
        t("intents"),
        list(intents, (i) => {
          const conf = typeof i.confidence === "number" ? ` — ${Math.round(i.confidence * 100)}%` : "";
          return `${str(i.name)}${conf}`;
        }),
      );
    } else if (s.intent || h.intent) {
      row(dl, t("intents"), str(s.intent || h.intent));
    }

    const problem = Array.isArray(s.problem) ? s.problem : s.problem ? [s.problem] : [];
    // Lines of the conversation ({role, text, timestamp, channel}) or plain strings.
    const problemText = (p) => (p && typeof p === "object" && !Array.isArray(p) ? str(p.text) : str(p));
    if (problem.length) row(dl, t("problem"), list(problem, problemText));

    const tried = Array.isArray(s.bot_tried) ? s.bot_tried : [];
    if (tried.length) row(dl, t("botTried"), list(tried, (b) => (b && b.detail ? `${str(b.kind)}: ${str(b.detail)}` : str(b && b.kind))));

    row(dl, t("sentiment"), s.sentiment ? str(s.sentiment) : "");
    // why the customer's history puts them at risk of leaving; the priority is already raised for it
    const churn = Array.isArray(s.churn_risk) ? s.churn_risk : [];
    if (churn.length) row(dl, t("churnRisk"), el("div", { class: "op-churn", "data-testid": "op-churn-risk" }, list(churn, str)));
    if (s.next_step) row(dl, t("nextStep"), el("div", { class: "op-next", "data-testid": "op-next-step", text: str(s.next_step) }));
    row(dl, t("entities"), keyValues(s.entities));

    const who = [customer.name, customer.customer_id || h.customer_id].filter(Boolean).map(str);
    row(dl, t("customer"), who.join(" · "));
    row(dl, t("segment"), str(customer.segment));
    row(dl, t("language"), str(customer.language || s.language || h.language));
    row(dl, t("channel"), str(s.channel || h.channel));
    row(dl, t("channels"), Array.isArray(customer.channels) ? customer.channels.map(str).join(", ") : "");
    row(dl, t("contacts"), keyValues(customer.contacts));
    // from the system of record: the profile and the last contacts in every channel
    const joined = (v) => (Array.isArray(v) ? v.map(str).join(", ") : "");
    row(dl, t("ageBand"), str(customer.age_band));
    row(dl, t("region"), [customer.region, customer.timezone].filter(Boolean).map(str).join(" · "));
    row(dl, t("tags"), joined(customer.tags));
    row(dl, t("phones"), joined(customer.phones));
    row(dl, t("emails"), joined(customer.emails));
    row(dl, t("accounts"), joined(customer.accounts));
    row(dl, t("optedOut"), joined(customer.opted_out));
    const recent = Array.isArray(customer.recent_contacts) ? customer.recent_contacts : [];
    if (recent.length) {
      const describe = (c) =>
        [fmtTime(c.started_at), str(c.channel), joined(c.intents), c.handoff_outcome ? str(c.handoff_outcome) : ""]
          .filter(Boolean)
          .join(" · ");
      row(dl, t("recentContacts"), el("div", { "data-testid": "op-contacts" }, list(recent, describe)));
    }
    row(dl, t("created"), fmtTime(s.created_at ?? h.created_at));
    row(dl, t("sensitive"), s.sensitive || h.sensitive ? t("yes") : "");
    row(dl, t("resolutionDone"), h.resolution ? str(h.resolution) : "");

    ui.summary.replaceChildren(el("h3", { text: t("summary") }), dl);
  }

  function transcriptEntries() {
    const d = state.detail;
    if (d.history.length) return d.history;
    const s = d.handoff.summary;
    return s && Array.isArray(s.transcript) ? s.transcript : [];
  }

  function lineKey(e) {
    return `${str(e.role)}|${str(e.message_id)}|${str(e.timestamp)}|${str(e.text)}`;
  }

  function renderLine(e) {
    const role = ["customer", "bot", "operator", "system"].includes(e && e.role) ? e.role : "system";
    const label = role === "operator" && e.author ? `${t("role_operator")} ${str(e.author)}` : t(`role_${role}`);
    const extras = [];
    if (Array.isArray(e.buttons) && e.buttons.length) {
      extras.push(el("div", { class: "btns", text: t("buttons", { list: e.buttons.map((b) => str(b && b.title)).join(" | ") }) }));
    }
    if (e.image) extras.push(el("div", { class: "btns", text: t("image", { url: str(e.image) }) }));
    return el(
      "div",
      { class: "op-line", "data-testid": "op-line", "data-role": role, "data-key": lineKey(e) },
      el(
        "div",
        { class: "who" },
        el("span", { text: label }),
        el("span", { text: fmtTime(e.timestamp) }),
        e.channel ? el("span", { text: str(e.channel) }) : null,
      ),
      el("div", { class: "text", "data-testid": "op-line-text", text: str(e.text) }),
      ...extras,
    );
  }

  function renderTranscript() {
    if (!ui.transcript || !state.detail) return;
    const stick = ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 60;
    const entries = transcriptEntries();
    ui.transcript.replaceChildren(
      ...(entries.length ? entries.map(renderLine) : [el("p", { class: "op-placeholder", text: t("transcriptEmpty") })]),
    );
    if (stick || !ui.transcript.dataset.rendered) ui.transcript.scrollTop = ui.transcript.scrollHeight;
    ui.transcript.dataset.rendered = "1";
  }

  function appendTranscript(entry) {
    if (!entry || typeof entry !== "object" || !state.detail) return;
    const key = lineKey(entry);
    const dup = state.detail.history.some(
      (e) => lineKey(e) === key || (entry.message_id && e.message_id === entry.message_id && e.role === entry.role && e.text === entry.text),
    );
    if (dup) return;
    state.detail.history.push(entry);
    renderTranscript();
  }

  function renderNotes() {
    if (!ui.notes || !state.detail) return;
    const notes = Array.isArray(state.detail.handoff.notes) ? state.detail.handoff.notes : [];
    if (!notes.length) {
      ui.notes.replaceChildren(el("li", { class: "op-placeholder", text: t("notesEmpty") }));
      return;
    }
    ui.notes.replaceChildren(
      ...notes.map((n) =>
        el(
          "li",
          { class: "op-note", "data-testid": "op-note" },
          el("div", { class: "who", text: `${noteAuthor(n)} · ${fmtTime(n.timestamp)}` }),
          el("div", { class: "text", text: str(n.text) }),
        ),
      ),
    );
  }

  function noteAuthor(n) {
    if (n.author) return str(n.author);
    if (n.operator_name) return str(n.operator_name);
    if (state.me && n.operator_id && n.operator_id === state.me.id && state.me.name) return str(state.me.name);
    return str(n.operator_id);
  }

  function permissions() {
    const h = (state.detail && state.detail.handoff) || {};
    const me = state.me || {};
    const lead = me.role === "lead";
    const active = ACTIVE_STATES.has(h.state);
    const mine = Boolean(h.assignee) && h.assignee === me.id;
    return {
      claim: h.state === "queued" || (h.state === "claimed" && !mine && lead),
      work: active && ((h.state === "claimed" && mine) || lead),
      note: Boolean(state.detail),
      h,
      mine,
    };
  }

  function updateActions() {
    if (!ui.claim || !state.detail) return;
    const p = permissions();
    const busy = state.busy;
    ui.claim.disabled = busy || !p.claim;
    ui.handback.disabled = busy || !p.work;
    ui.close.disabled = busy || !p.work;
    ui.resolution.disabled = busy || !p.work;
    ui.replyInput.disabled = !p.work;
    ui.replySend.disabled = busy || !p.work || !ui.replyInput.value.trim();
    ui.noteSend.disabled = busy || !p.note || !ui.noteInput.value.trim();
    let hint = "";
    if (!ACTIVE_STATES.has(p.h.state)) hint = t("closedHint");
    else if (p.h.state === "claimed" && !p.mine) hint = t("claimedByOther", { name: p.h.assignee_name || p.h.assignee || "?" });
    else if (!p.work) hint = t("notMine");
    ui.actionHint.textContent = hint;
    ui.actionHint.hidden = !hint;
    ui.actionError.textContent = state.actionError || "";
    ui.actionError.hidden = !state.actionError;
  }

  async function act(kind) {
    const id = state.selectedId;
    if (!id || state.busy) return;
    let body;
    if (kind === "reply") {
      const text = ui.replyInput.value.trim();
      if (!text) return;
      body = { text };
    } else if (kind === "note") {
      const text = ui.noteInput.value.trim();
      if (!text) return;
      body = { text };
    } else if (kind === "close") {
      body = { resolution: ui.resolution.value.trim() || null };
    }
    state.busy = true;
    state.actionError = null;
    updateActions();
    try {
      const data = await api("POST", `${API}/handoffs/${encodeURIComponent(id)}/${kind}`, body);
      if (state.selectedId !== id) return;
      if (kind === "reply") {
        state.drafts.reply = "";
        ui.replyInput.value = "";
        if (data && data.entry) appendTranscript(data.entry);
      } else if (kind === "note") {
        state.drafts.note = "";
        ui.noteInput.value = "";
      } else if (kind === "close") {
        state.drafts.resolution = "";
        ui.resolution.value = "";
      }
      if (data && data.handoff) upsert(data.handoff);
      refreshDetail();
    } catch (err) {
      if (err.status === 401) return logout(t("sessionExpired"));
      state.actionError = t("error", { detail: err.detail });
      if (err.status === 409) refreshDetail(); // someone else got there first: show what is true now
    } finally {
      state.busy = false;
      updateActions();
    }
  }

  // ---------------------------------------------------------------- start

  window.addEventListener("focus", () => {
    if (!state.alerts.length) stopBlink();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && blinkTimer && !state.alerts.length) stopBlink();
  });

  if (state.token) {
    // Restore the session after a reload; an expired token lands on the login form with a message.
    const token = state.token;
    appRoot.replaceChildren(el("p", { class: "op-placeholder", text: t("loading") }));
    login(token);
  } else {
    renderLogin();
  }
})();
