/*
 * zabota website chat widget. Embed with one tag:
 *
 *   <script src="https://<gateway>/webchat/widget.js" data-lang="ru" async></script>
 *
 * data-lang      "ru" | "en"; default from navigator.language (a choice made with the RU/EN toggle wins)
 * data-gateway   base URL of the gateway; default: the origin this script was loaded from
 * data-identity  the customer's signed site identity, when they are logged in on the page's site (the token
 *                the site's server signs, zabota/site_identity.py); or window.zabotaIdentity, a string or a
 *                function returning one (asked before each connect and send, so the page can renew it)
 *
 * Plain JavaScript, no dependencies. Everything lives in an open shadow root, so the host page's CSS cannot
 * break the widget and the widget's CSS cannot leak into the page. Text from the server is only ever put
 * into the page as text nodes (never parsed as HTML); http(s) links become <a> elements built by hand.
 *
 * Transport: a WebSocket (history on connect, then live messages); while it is down, HTTP (POST to send,
 * poll the history every 3 s) until a reconnect with backoff succeeds.
 */
(() => {
  "use strict";

  if (window.ZabotaChat) return; // the tag was included twice

  const MAX_CHARS = 4000;
  const COUNTER_FROM = 3500;
  const PING_MS = 25000;
  const POLL_MS = 3000;
  const BACKOFF_MAX_MS = 15000;
  const TYPING_SAFETY_MS = 30000;
  const HISTORY_LIMIT = 100;
  const KEY_SENDER = "zabota.sender_id";
  const KEY_LANG = "zabota.lang";
  const KEY_OPEN = "zabota.panel_open";
  const KEY_SUBJECT = "zabota.identity_subject";
  // What the gateway answers a token it cannot use with: the widget then chats without it (an anonymous
  // visitor) rather than leave the customer unable to write; the page's developer sees a console warning.
  const IDENTITY_REFUSALS = new Set([
    "identity_not_configured",
    "identity_invalid",
    "identity_expired",
    "unknown_customer",
  ]);

  const STRINGS = {
    ru: {
      title: "Служба заботы",
      launcher: "Открыть чат со службой заботы",
      close: "Свернуть чат",
      placeholder: "Напишите сообщение…",
      send: "Отправить",
      typing: "Печатает…",
      online: "На связи",
      connecting: "Подключаемся…",
      offline: "Связь потеряна, переподключаемся…",
      operatorJoined: "Вам отвечает оператор {name}",
      operatorJoinedAnon: "К чату подключился оператор",
      operator: "Оператор",
      bot: "Ассистент",
      empty: "Здравствуйте! Напишите вопрос — ответим здесь же.",
      tooLong: "Слишком длинное сообщение: {n} из {max} символов",
      notDelivered: "Не отправлено",
      retry: "Повторить",
      sendFailed: "Сообщение не отправлено: {detail}",
      networkError: "нет связи с сервером",
      langToggle: "EN",
      langToggleLabel: "Switch to English",
      image: "Изображение",
      messages: "Сообщения чата",
    },
    en: {
      title: "Customer care",
      launcher: "Open the customer care chat",
      close: "Minimise the chat",
      placeholder: "Type a message…",
      send: "Send",
      typing: "Typing…",
      online: "Online",
      connecting: "Connecting…",
      offline: "Connection lost, reconnecting…",
      operatorJoined: "Operator {name} joined the chat",
      operatorJoinedAnon: "An operator joined the chat",
      operator: "Operator",
      bot: "Assistant",
      empty: "Hello! Ask your question and we will answer right here.",
      tooLong: "The message is too long: {n} of {max} characters",
      notDelivered: "Not sent",
      retry: "Retry",
      sendFailed: "The message was not sent: {detail}",
      networkError: "the server cannot be reached",
      langToggle: "RU",
      langToggleLabel: "Переключить на русский",
      image: "Image",
      messages: "Chat messages",
    },
  };

  // ---------------------------------------------------------------- configuration

  const script =
    document.currentScript ||
    Array.from(document.getElementsByTagName("script")).find((s) => /\/webchat\/widget\.js(\?|#|$)/.test(s.src)) ||
    null;

  const gatewayBase = (() => {
    const explicit = script && script.dataset.gateway;
    try {
      if (explicit) return new URL(explicit, location.href).href.replace(/\/+$/, "");
      if (script && script.src) return new URL(script.src, location.href).origin;
    } catch (_) {
      /* fall through */
    }
    return location.origin;
  })();

  const storage = safeStorage(() => window.localStorage);
  const session = safeStorage(() => window.sessionStorage);

  function safeStorage(get) {
    const memory = new Map();
    let store = null;
    try {
      store = get();
      const probe = "zabota.probe";
      store.setItem(probe, "1");
      store.removeItem(probe);
    } catch (_) {
      store = null; // disabled cookies, private mode, sandboxed iframe: keep it for this page only
    }
    return {
      get: (k) => (store ? store.getItem(k) : memory.has(k) ? memory.get(k) : null),
      set: (k, v) => (store ? store.setItem(k, v) : memory.set(k, v)),
      remove: (k) => (store ? store.removeItem(k) : memory.delete(k)),
    };
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // crypto.randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---------------------------------------------------------------- signed site identity

  // Off for the rest of the page once the gateway refused a token: a renewed one (a function) is tried only
  // until then, so a site that keeps signing unusable tokens cannot make the widget reconnect in a loop.
  let identityOff = false;

  function currentIdentity() {
    let token = null;
    try {
      const source = window.zabotaIdentity;
      token = typeof source === "function" ? source() : source;
    } catch (_) {
      token = null;
    }
    if (typeof token !== "string" || !token) token = (script && script.dataset.identity) || null;
    return token && !identityOff ? token : null;
  }

  function refuseIdentity(code) {
    identityOff = true;
    console.warn(`zabota: the gateway refused the site identity (${code}); chatting without it`);
  }

  /** "v1.<external_id>.<expires>.<mac>": who the site says is logged in (the id may hold dots). */
  function identitySubject(token) {
    const parts = token ? token.split(".") : [];
    return parts.length >= 4 ? parts.slice(1, -2).join(".") : "";
  }

  // The visitor id is the key to the conversation. When the customer who was logged in is not any more (logged
  // out, or someone else logged in on this browser), a new visitor id: their conversation must not show to
  // whoever uses this browser next. From anonymous to logged in, the visitor id stays.
  const subject = identitySubject(currentIdentity());
  const lastSubject = storage.get(KEY_SUBJECT) || "";
  if (lastSubject && lastSubject !== subject) storage.remove(KEY_SENDER);
  if (subject !== lastSubject) storage.set(KEY_SUBJECT, subject);

  const hadConversation = storage.get(KEY_SENDER) !== null;
  const senderId = (() => {
    let id = storage.get(KEY_SENDER);
    if (!id || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) {
      id = "w-" + uuid();
      storage.set(KEY_SENDER, id);
    }
    return id;
  })();

  function pickLang() {
    const chosen = storage.get(KEY_LANG);
    if (chosen === "ru" || chosen === "en") return chosen;
    const declared = script && (script.dataset.lang || "").toLowerCase();
    if (declared === "ru" || declared === "en") return declared;
    const nav = (navigator.language || "ru").toLowerCase();
    return nav.startsWith("en") ? "en" : "ru";
  }

  let lang = pickLang();
  const t = (key, vars) => {
    let s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.ru[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
    return s;
  };

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const URL_RE = /\bhttps?:\/\/[^\s<>"'«»]+/gi;
  const TRAILING = /[.,;:!?)\]}'"»]+$/;

  /** Text as text nodes, with http(s) URLs as links; nothing is ever parsed as HTML. */
  function linkified(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const m of text.matchAll(URL_RE)) {
      let raw = m[0];
      const trail = raw.match(TRAILING);
      if (trail) raw = raw.slice(0, -trail[0].length);
      let href = null;
      try {
        const u = new URL(raw);
        if (u.protocol === "http:" || u.protocol === "https:") href = u.href;
      } catch (_) {
        href = null;
      }
      if (!href || !raw) continue;
      if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
      frag.append(el("a", { href, target: "_blank", rel: "noopener noreferrer", text: raw }));
      last = m.index + raw.length;
    }
    if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
    return frag;
  }

  function httpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const u = new URL(value, gatewayBase + "/");
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  function clock(ts) {
    const d = typeof ts === "number" && isFinite(ts) ? new Date(ts * 1000) : new Date();
    try {
      return d.toLocaleTimeString(lang === "ru" ? "ru-RU" : "en-GB", { hour: "2-digit", minute: "2-digit" });
    } catch (_) {
      return d.toTimeString().slice(0, 5);
    }
  }

  const charCount = (s) => Array.from(s).length; // code points, as the gateway counts them

  // ---------------------------------------------------------------- styles

  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.zb { --zb-accent: #0f766e; --zb-accent-dark: #115e59; --zb-bg: #ffffff; --zb-soft: #f1f5f9; --zb-text: #0f172a;
  --zb-muted: #64748b; --zb-operator: #fff7e6; --zb-operator-edge: #f59e0b; --zb-danger: #b91c1c;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--zb-text); }
.zb-launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px; height: 60px;
  border-radius: 50%; border: 0; background: var(--zb-accent); color: #fff; cursor: pointer;
  box-shadow: 0 6px 20px rgba(15, 23, 42, .25); display: flex; align-items: center; justify-content: center; }
.zb-launcher:hover { background: var(--zb-accent-dark); }
.zb-launcher:focus-visible, .zb button:focus-visible, .zb textarea:focus-visible, .zb a:focus-visible {
  outline: 3px solid #fbbf24; outline-offset: 2px; }
.zb-launcher svg { width: 28px; height: 28px; fill: currentColor; }
.zb-badge { position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: var(--zb-danger); color: #fff; font-size: 12px; font-weight: 700;
  line-height: 22px; text-align: center; }
.zb-panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483000; width: 370px; max-width: calc(100vw - 24px);
  height: 560px; max-height: calc(100vh - 120px); display: flex; flex-direction: column; background: var(--zb-bg);
  border-radius: 14px; overflow: hidden; box-shadow: 0 12px 40px rgba(15, 23, 42, .28); }
.zb-header { display: flex; align-items: center; gap: 8px; padding: 12px 12px 10px 16px; background: var(--zb-accent);
  color: #fff; }
.zb-heading { flex: 1; min-width: 0; }
.zb-title { margin: 0; font-size: 16px; font-weight: 650; }
.zb-status { display: flex; align-items: center; gap: 6px; font-size: 12px; opacity: .92; }
.zb-status::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #fbbf24; flex: none; }
.zb-status[data-state="online"]::before { background: #4ade80; }
.zb-status[data-state="offline"]::before { background: #f87171; }
.zb-agent { font-size: 12px; opacity: .92; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.zb-hbtn { border: 1px solid rgba(255,255,255,.55); background: transparent; color: #fff; border-radius: 8px;
  height: 30px; min-width: 34px; padding: 0 8px; cursor: pointer; font: inherit; font-size: 12px; font-weight: 600; }
.zb-hbtn:hover { background: rgba(255,255,255,.15); }
.zb-messages { flex: 1; overflow-y: auto; padding: 14px 12px; display: flex; flex-direction: column; gap: 8px;
  background: var(--zb-soft); }
.zb-empty { margin: auto; color: var(--zb-muted); text-align: center; padding: 0 20px; }
.zb-msg { display: flex; flex-direction: column; max-width: 84%; }
.zb-msg--customer { align-self: flex-end; align-items: flex-end; }
.zb-msg--bot, .zb-msg--operator { align-self: flex-start; align-items: flex-start; }
.zb-msg--system { align-self: center; max-width: 92%; align-items: center; }
.zb-author { font-size: 12px; font-weight: 600; color: #92400e; margin: 0 4px 2px; }
.zb-bubble { padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
.zb-msg--customer .zb-bubble { background: var(--zb-accent); color: #fff; border-bottom-right-radius: 4px; }
.zb-msg--customer .zb-bubble a { color: #fff; }
.zb-msg--bot .zb-bubble { background: #fff; border: 1px solid #e2e8f0; border-bottom-left-radius: 4px; }
.zb-msg--operator .zb-bubble { background: var(--zb-operator); border: 1px solid #fcd34d;
  border-left: 4px solid var(--zb-operator-edge); border-bottom-left-radius: 4px; }
.zb-msg--system .zb-bubble { background: transparent; color: var(--zb-muted); font-size: 12px; text-align: center; padding: 2px 8px; }
.zb-bubble a { color: var(--zb-accent-dark); text-decoration: underline; }
.zb-img { display: block; max-width: 100%; max-height: 240px; margin-top: 6px; border-radius: 8px; }
.zb-meta { font-size: 11px; color: var(--zb-muted); margin: 2px 6px 0; display: flex; gap: 6px; align-items: center; }
.zb-msg[data-pending="true"] .zb-bubble { opacity: .7; }
.zb-msg[data-failed="true"] .zb-bubble { opacity: 1; background: #fee2e2; color: var(--zb-danger); }
.zb-failed { color: var(--zb-danger); }
.zb-retry { border: 0; background: none; padding: 0; color: var(--zb-danger); font: inherit; font-weight: 600;
  text-decoration: underline; cursor: pointer; }
.zb-buttons { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.zb-button { border: 1px solid var(--zb-accent); color: var(--zb-accent-dark); background: #fff; border-radius: 16px;
  padding: 6px 12px; font: inherit; font-size: 13px; cursor: pointer; text-align: left; }
.zb-button:hover:not(:disabled) { background: #ccfbf1; }
.zb-button:disabled { cursor: default; opacity: .5; }
.zb-button[data-chosen="true"] { background: var(--zb-accent); color: #fff; opacity: .8; }
.zb-typing { padding: 4px 16px 6px; font-size: 12px; color: var(--zb-muted); background: var(--zb-soft);
  display: flex; align-items: center; gap: 6px; }
.zb-dots { display: inline-flex; gap: 3px; }
.zb-dots i { width: 5px; height: 5px; border-radius: 50%; background: var(--zb-muted); animation: zb-blink 1.2s infinite; }
.zb-dots i:nth-child(2) { animation-delay: .2s; }
.zb-dots i:nth-child(3) { animation-delay: .4s; }
@keyframes zb-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .zb-dots i { animation: none; } }
.zb-notice { margin: 0; padding: 6px 14px; font-size: 12px; color: var(--zb-danger); background: #fef2f2;
  border-top: 1px solid #fecaca; }
.zb-form { display: flex; gap: 8px; align-items: flex-end; padding: 10px; border-top: 1px solid #e2e8f0; background: #fff; }
.zb-field { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.zb-input { width: 100%; resize: none; min-height: 40px; max-height: 120px; padding: 9px 12px; border: 1px solid #cbd5e1;
  border-radius: 10px; font: inherit; color: inherit; background: #fff; }
.zb .zb-input:focus-visible { outline: none; border-color: var(--zb-accent); box-shadow: 0 0 0 3px rgba(15, 118, 110, .22); }
.zb-input[aria-invalid="true"] { border-color: var(--zb-danger); }
.zb-counter { font-size: 11px; color: var(--zb-muted); text-align: right; margin-top: 2px; }
.zb-counter[data-over="true"] { color: var(--zb-danger); font-weight: 600; }
.zb-send { height: 40px; padding: 0 14px; border: 0; border-radius: 10px; background: var(--zb-accent); color: #fff;
  font: inherit; font-weight: 600; cursor: pointer; }
.zb-send:disabled { background: #94a3b8; cursor: not-allowed; }
.zb-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 480px) {
  .zb-panel { right: 0; bottom: 0; width: 100vw; max-width: 100vw; height: 100%; max-height: 100%; border-radius: 0; }
  .zb-launcher { right: 14px; bottom: 14px; }
}
`;

  // ---------------------------------------------------------------- build the UI

  const host = el("div", { id: "zabota-webchat", "data-zabota": "webchat" });
  const root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  function chatIcon() {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(NS, "path");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z",
    );
    svg.append(path);
    return svg;
  }

  const ui = {};
  ui.badge = el("span", { class: "zb-badge", hidden: true, "aria-hidden": "true" });
  ui.launcher = el(
    "button",
    { type: "button", class: "zb-launcher", "data-testid": "zabota-launcher", "aria-expanded": "false", onclick: toggle },
    chatIcon(),
    ui.badge,
  );
  ui.title = el("h2", { class: "zb-title", id: "zb-title" });
  ui.status = el("div", { class: "zb-status", "data-testid": "zabota-status", "data-state": "idle", role: "status" });
  ui.agent = el("div", { class: "zb-agent", "data-testid": "zabota-agent", hidden: true });
  ui.langBtn = el("button", { type: "button", class: "zb-hbtn", "data-testid": "zabota-lang", onclick: toggleLang });
  ui.closeBtn = el("button", { type: "button", class: "zb-hbtn", "data-testid": "zabota-close", text: "✕", onclick: close });
  ui.messages = el("div", {
    class: "zb-messages",
    "data-testid": "zabota-messages",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
  });
  ui.empty = el("p", { class: "zb-empty" });
  ui.typingText = el("span");
  ui.typing = el(
    "div",
    { class: "zb-typing", "data-testid": "zabota-typing", hidden: true, "aria-live": "polite" },
    el("span", { class: "zb-dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")),
    ui.typingText,
  );
  ui.notice = el("p", { class: "zb-notice", "data-testid": "zabota-notice", role: "alert", hidden: true });
  ui.inputLabel = el("label", { class: "zb-sr", for: "zb-input" });
  ui.input = el("textarea", {
    id: "zb-input",
    class: "zb-input",
    "data-testid": "zabota-input",
    rows: "1",
    autocomplete: "off",
  });
  ui.counter = el("div", { class: "zb-counter", "data-testid": "zabota-counter", hidden: true, "aria-live": "polite" });
  ui.send = el("button", { type: "submit", class: "zb-send", "data-testid": "zabota-send", disabled: true });
  ui.form = el(
    "form",
    { class: "zb-form", novalidate: true },
    el("div", { class: "zb-field" }, ui.inputLabel, ui.input, ui.counter),
    ui.send,
  );
  ui.panel = el(
    "section",
    { class: "zb-panel", "data-testid": "zabota-panel", role: "dialog", "aria-labelledby": "zb-title", hidden: true },
    el(
      "header",
      { class: "zb-header" },
      el("div", { class: "zb-heading" }, ui.title, ui.status, ui.agent),
      ui.langBtn,
      ui.closeBtn,
    ),
    ui.messages,
    ui.typing,
    ui.notice,
    ui.form,
  );
  // A constructed stylesheet is not an inline <style>, so a host page's strict style-src CSP does not block it.
  let adopted = false;
  try {
    if (root !== host && "adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
      adopted = true;
    }
  } catch (_) {
    adopted = false;
  }
  if (!adopted) {
    const style = el("style");
    style.textContent = CSS;
    root.append(style);
  }
  root.append(el("div", { class: "zb", lang }, ui.launcher, ui.panel));

  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitInput();
  });
  ui.input.addEventListener("input", () => {
    autosize();
    updateComposer();
  });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitInput();
    } else if (e.key === "Escape") {
      close();
    }
  });

  // ---------------------------------------------------------------- state

  let isOpen = false;
  let unread = 0;
  let status = "idle"; // idle | connecting | online | offline
  let ws = null;
  let wsWanted = false;
  let attempt = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let pollTimer = null;
  let pollBusy = false;
  let typingTimer = null;
  let noticeTimer = null;
  let lastHistorySig = null;
  /** Optimistically shown customer messages: {clientId, text, display, node, state, via, sentAt, resent}. */
  let pending = [];

  function applyStrings() {
    root.querySelector(".zb").setAttribute("lang", lang);
    ui.launcher.setAttribute("aria-label", t("launcher"));
    ui.launcher.title = t("launcher");
    ui.title.textContent = t("title");
    ui.langBtn.textContent = t("langToggle");
    ui.langBtn.setAttribute("aria-label", t("langToggleLabel"));
    ui.langBtn.title = t("langToggleLabel");
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.closeBtn.title = t("close");
    ui.messages.setAttribute("aria-label", t("messages"));
    ui.empty.textContent = t("empty");
    ui.typingText.textContent = t("typing");
    ui.inputLabel.textContent = t("placeholder");
    ui.input.placeholder = t("placeholder");
    ui.send.textContent = t("send");
    for (const n of ui.messages.querySelectorAll("[data-label]")) n.textContent = t(n.dataset.label);
    for (const n of ui.messages.querySelectorAll(".zb-time[data-ts]")) n.textContent = clock(Number(n.dataset.ts));
    setStatus(status);
    updateAgent();
    updateComposer();
  }

  function toggleLang() {
    lang = lang === "ru" ? "en" : "ru";
    storage.set(KEY_LANG, lang);
    applyStrings();
  }

  function setStatus(next) {
    status = next;
    ui.status.dataset.state = next;
    ui.status.textContent = next === "online" ? t("online") : next === "offline" ? t("offline") : t("connecting");
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (ui.notice.hidden = true), 8000);
  }

  function setTyping(on) {
    ui.typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => (ui.typing.hidden = true), TYPING_SAFETY_MS);
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 120) + "px";
  }

  function updateComposer() {
    const n = charCount(ui.input.value);
    const over = n > MAX_CHARS;
    ui.counter.hidden = n < COUNTER_FROM;
    ui.counter.dataset.over = String(over);
    ui.counter.textContent = over ? t("tooLong", { n, max: MAX_CHARS }) : `${n} / ${MAX_CHARS}`;
    ui.input.setAttribute("aria-invalid", String(over));
    ui.send.disabled = over || ui.input.value.trim() === "";
  }

  function setUnread(n) {
    unread = n;
    ui.badge.hidden = n === 0;
    ui.badge.textContent = n > 9 ? "9+" : String(n);
  }

  // ---------------------------------------------------------------- open / close

  function open() {
    if (isOpen) return;
    isOpen = true;
    session.set(KEY_OPEN, "1");
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    ensureConnected();
    scrollToEnd(true);
    ui.input.focus();
  }

  function close() {
    if (!isOpen) return;
    isOpen = false;
    session.remove(KEY_OPEN);
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  function toggle() {
    if (isOpen) close();
    else open();
  }

  // ---------------------------------------------------------------- rendering

  function nearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force || nearBottom()) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function messageNodes() {
    return Array.from(ui.messages.querySelectorAll(':scope > [data-testid="zabota-msg"]'));
  }

  function renderEntry(entry) {
    const role = ["customer", "bot", "operator", "system"].includes(entry.role) ? entry.role : "bot";
    const node = el("div", {
      class: `zb-msg zb-msg--${role}`,
      "data-testid": "zabota-msg",
      "data-role": role,
    });
    if (entry.message_id != null) node.dataset.messageId = String(entry.message_id);
    if (role === "operator") {
      const author = typeof entry.author === "string" && entry.author.trim() ? entry.author : null;
      node.append(
        author
          ? el("div", { class: "zb-author", "data-testid": "zabota-author", text: author })
          : el("div", { class: "zb-author", "data-testid": "zabota-author", "data-label": "operator", text: t("operator") }),
      );
    }
    const bubble = el("div", { class: "zb-bubble", "data-testid": "zabota-text" });
    const text = typeof entry.text === "string" ? entry.text : "";
    if (text) bubble.append(role === "customer" ? document.createTextNode(text) : linkified(text));
    const img = httpUrl(entry.image);
    if (img) bubble.append(el("img", { class: "zb-img", src: img, alt: t("image"), loading: "lazy", referrerpolicy: "no-referrer" }));
    if (!text && !img) return null; // nothing to show (e.g. a custom payload only)
    node.append(bubble);
    const buttons = Array.isArray(entry.buttons) ? entry.buttons.filter((b) => b && typeof b.title === "string") : [];
    if (buttons.length && (role === "bot" || role === "operator")) {
      const group = el("div", { class: "zb-buttons", role: "group", "data-testid": "zabota-buttons" });
      for (const b of buttons) {
        const payload = typeof b.payload === "string" && b.payload ? b.payload : b.title;
        group.append(
          el("button", {
            type: "button",
            class: "zb-button",
            "data-testid": "zabota-button",
            text: b.title,
            onclick: (e) => pressButton(group, e.currentTarget, payload, b.title),
          }),
        );
      }
      node.append(group);
    }
    const meta = el("div", { class: "zb-meta" });
    if (typeof entry.timestamp === "number") meta.append(el("span", { class: "zb-time", "data-ts": entry.timestamp, text: clock(entry.timestamp) }));
    node.append(meta);
    return node;
  }

  function appendNode(node) {
    if (!node) return;
    ui.empty.remove();
    ui.messages.append(node);
  }

  /** Button groups answer only the latest question: a group is live until a customer message follows it. */
  function refreshButtons() {
    let live = true;
    for (const node of messageNodes().reverse()) {
      if (node.dataset.role === "customer") live = false;
      const group = node.querySelector(".zb-buttons");
      if (!group) continue;
      const enabled = live && group.dataset.used !== "true";
      for (const b of group.querySelectorAll("button")) b.disabled = !enabled;
    }
  }

  function updateAgent() {
    const ops = messageNodes().filter((n) => n.dataset.role === "operator");
    const lastRoles = messageNodes()
      .filter((n) => n.dataset.role === "bot" || n.dataset.role === "operator")
      .map((n) => n.dataset.role);
    const operatorActive = lastRoles.length > 0 && lastRoles[lastRoles.length - 1] === "operator";
    if (!operatorActive || ops.length === 0) {
      ui.agent.hidden = true;
      ui.agent.textContent = "";
      return;
    }
    const authorNode = ops[ops.length - 1].querySelector('[data-testid="zabota-author"]:not([data-label])');
    const name = authorNode ? authorNode.textContent : "";
    ui.agent.textContent = name ? t("operatorJoined", { name }) : t("operatorJoinedAnon");
    ui.agent.hidden = false;
  }

  function afterChange(forceScroll) {
    refreshButtons();
    updateAgent();
    scrollToEnd(forceScroll);
  }

  function renderHistory(messages) {
    const list = Array.isArray(messages) ? messages : [];
    const stick = nearBottom();
    for (const node of messageNodes()) node.remove();
    // A button press is stored as its payload ("/pay_card"); show it as the button's title, as it was shown.
    const titles = new Map();
    for (const entry of list) {
      if (!entry || typeof entry !== "object") continue;
      if (Array.isArray(entry.buttons)) {
        for (const b of entry.buttons) if (b && typeof b.payload === "string" && b.payload) titles.set(b.payload, b.title);
      }
      const shown =
        entry.role === "customer" && typeof entry.text === "string" && titles.has(entry.text)
          ? { ...entry, text: titles.get(entry.text) }
          : entry;
      appendNode(renderEntry(shown));
    }
    // Optimistic messages the history does not have yet stay at the end.
    const customer = list.filter((e) => e && e.role === "customer");
    pending = pending.filter((p) => {
      const found = customer.some((e) => matches(p, e) && (e.timestamp || 0) >= p.sentAt / 1000 - 60);
      if (found) return false;
      appendNode(p.node);
      return true;
    });
    if (!messageNodes().length) ui.messages.append(ui.empty);
    afterChange(stick);
  }

  function matches(p, entry, clientId) {
    if (clientId) return clientId === p.clientId; // the gateway names the client_id beside the entry
    if (entry.client_id && entry.client_id === p.clientId) return true;
    if (entry.custom && typeof entry.custom === "object" && entry.custom.client_id === p.clientId) return true;
    return typeof entry.text === "string" && (entry.text === p.display || entry.text === p.text);
  }

  function onEntry(entry, { live, clientId }) {
    if (!entry || typeof entry !== "object") return;
    if (entry.role === "customer") {
      const i = pending.findIndex((p) => matches(p, entry, clientId));
      if (i >= 0) {
        confirmPending(pending[i], entry.message_id, entry.timestamp);
        pending.splice(i, 1);
        afterChange(false);
        return;
      }
      if (entry.message_id != null && messageNodes().some((n) => n.dataset.role === "customer" && n.dataset.messageId === String(entry.message_id))) return;
    } else {
      if (entry.role === "bot" || entry.role === "operator") setTyping(false);
      // An answer arrived, so anything sent before it over the socket got there even if no echo came.
      for (const p of pending.filter((q) => q.via === "ws" && q.state === "sending")) {
        confirmPending(p, null, null);
      }
      pending = pending.filter((q) => !(q.via === "ws" && q.state === "confirmed"));
    }
    lastHistorySig = null;
    const stick = nearBottom() || entry.role === "customer";
    appendNode(renderEntry(entry));
    afterChange(stick);
    if (live && !isOpen && entry.role !== "customer") setUnread(unread + 1);
  }

  function confirmPending(p, messageId, ts) {
    p.state = "confirmed";
    const n = p.node;
    delete n.dataset.pending;
    delete n.dataset.failed;
    if (messageId != null) n.dataset.messageId = String(messageId);
    const meta = n.querySelector(".zb-meta");
    meta.textContent = "";
    const stamp = typeof ts === "number" ? ts : p.sentAt / 1000;
    meta.append(el("span", { class: "zb-time", "data-ts": stamp, text: clock(stamp) }));
  }

  function markFailed(p, detail) {
    p.state = "failed";
    const n = p.node;
    delete n.dataset.pending;
    n.dataset.failed = "true";
    const meta = n.querySelector(".zb-meta");
    meta.textContent = "";
    meta.append(
      el("span", { class: "zb-failed", "data-label": "notDelivered", text: t("notDelivered") }),
      el("button", {
        type: "button",
        class: "zb-retry",
        "data-testid": "zabota-retry",
        "data-label": "retry",
        text: t("retry"),
        onclick: () => retry(p),
      }),
    );
    if (detail) showNotice(t("sendFailed", { detail }));
  }

  // ---------------------------------------------------------------- sending

  function submitInput() {
    const text = ui.input.value.trim();
    if (!text || charCount(text) > MAX_CHARS) return;
    ui.input.value = "";
    autosize();
    updateComposer();
    send(text, null);
    ui.input.focus();
  }

  function pressButton(group, button, payload, title) {
    if (group.dataset.used === "true") return;
    group.dataset.used = "true";
    button.dataset.chosen = "true";
    for (const b of group.querySelectorAll("button")) b.disabled = true;
    send(payload, title);
  }

  function send(text, display) {
    const shown = display || text;
    const p = {
      clientId: uuid(),
      text,
      display: shown,
      state: "sending",
      via: null,
      sentAt: Date.now(),
      resent: false,
      node: renderEntry({ role: "customer", text: shown }),
    };
    p.node.dataset.pending = "true";
    p.node.dataset.clientId = p.clientId;
    pending.push(p);
    lastHistorySig = null;
    appendNode(p.node);
    afterChange(true);
    transmit(p);
  }

  function retry(p) {
    if (p.state !== "failed") return;
    p.state = "sending";
    p.node.dataset.pending = "true";
    delete p.node.dataset.failed;
    p.node.querySelector(".zb-meta").textContent = "";
    ui.notice.hidden = true;
    transmit(p);
  }

  function transmit(p) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      const frame = { type: "message", text: p.text, client_id: p.clientId };
      if (p.display !== p.text) frame.display = p.display;
      try {
        ws.send(JSON.stringify(frame));
        p.via = "ws";
        return;
      } catch (_) {
        /* the socket died under us: use HTTP */
      }
    }
    p.via = "http";
    sendHttp(p);
  }

  async function sendHttp(p) {
    setTyping(true);
    let response;
    const identity = currentIdentity();
    const payload = { sender_id: senderId, text: p.text };
    if (identity) payload.identity = identity;
    try {
      response = await fetch(`${gatewayBase}/api/v1/webchat/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      });
    } catch (_) {
      setTyping(false);
      markFailed(p, t("networkError"));
      return;
    }
    const body = await response.json().catch(() => null);
    setTyping(false);
    if (!response.ok && identity && body && IDENTITY_REFUSALS.has(body.error)) {
      refuseIdentity(body.error); // nothing was stored: the same message again, without the token
      sendHttp(p);
      return;
    }
    if (!response.ok) {
      markFailed(p, errorDetail(body, response.status));
      return;
    }
    const idx = pending.indexOf(p);
    if (idx >= 0) pending.splice(idx, 1);
    confirmPending(p, body && body.message_id, null);
    lastHistorySig = null;
    const replies = body && Array.isArray(body.replies) ? body.replies : [];
    const now = Date.now() / 1000;
    for (const r of replies) {
      appendNode(
        renderEntry({
          role: "bot",
          message_id: body.message_id,
          timestamp: now,
          text: r && r.text,
          buttons: r && r.buttons,
          image: r && r.image,
          custom: r && r.custom,
        }),
      );
    }
    afterChange(true);
    if (!isOpen && replies.length) setUnread(unread + replies.length);
  }

  /** The reason from any error body this gateway may send: {"error":{"code","detail"}}, {"error","detail"},
   * FastAPI's {"detail": "..."} or {"detail": [{"msg"}...]}. */
  function errorDetail(body, status) {
    if (body && typeof body === "object") {
      const e = body.error;
      if (e && typeof e === "object" && e.detail) return String(e.detail);
      const d = body.detail;
      if (typeof d === "string" && d) return d;
      if (Array.isArray(d) && d.length) return d.map((x) => (x && x.msg) || JSON.stringify(x)).join("; ");
      if (typeof e === "string" && e) return e;
      if (e && typeof e === "object" && e.code) return String(e.code);
    }
    return `HTTP ${status}`;
  }

  // ---------------------------------------------------------------- WebSocket

  function wsUrl() {
    const u = new URL(`${gatewayBase}/api/v1/webchat/ws`);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("sender_id", senderId);
    const identity = currentIdentity();
    if (identity) u.searchParams.set("identity", identity);
    return u.href;
  }

  function ensureConnected() {
    wsWanted = true;
    if (ws || reconnectTimer) return;
    connect();
  }

  function connect() {
    reconnectTimer = null;
    if (status !== "offline") setStatus("connecting");
    let socket;
    try {
      socket = new WebSocket(wsUrl());
    } catch (_) {
      onSocketClosed(null);
      return;
    }
    ws = socket;
    socket.addEventListener("open", () => {
      if (ws !== socket) return;
      attempt = 0;
      setStatus("online");
      stopPolling();
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
      onFrame(frame, socket);
    });
    socket.addEventListener("close", () => onSocketClosed(socket));
    // "error" is always followed by "close"
  }

  function onSocketClosed(socket) {
    if (socket && ws !== socket) return;
    ws = null;
    clearInterval(pingTimer);
    setTyping(false);
    if (!wsWanted) return;
    setStatus("offline");
    startPolling();
    const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** attempt);
    attempt += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  function onFrame(frame, socket) {
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "history": {
        renderHistory(frame.messages);
        lastHistorySig = signature(frame.messages);
        // Sent over a socket that died before the message got there: send again, once.
        for (const p of pending) {
          if (p.state === "sending" && p.via === "ws" && !p.resent) {
            p.resent = true;
            transmit(p);
          }
        }
        break;
      }
      case "message":
        onEntry(frame.entry, { live: true, clientId: typeof frame.client_id === "string" ? frame.client_id : null });
        break;
      case "typing":
        setTyping(Boolean(frame.on));
        break;
      case "error":
        if (IDENTITY_REFUSALS.has(frame.code)) {
          refuseIdentity(frame.code); // the socket closes; the reconnect goes without it
          break;
        }
        showNotice(String(frame.detail || frame.code || "error"));
        // A refused message (too long, rate limited, ...) is not going to be echoed.
        for (const p of pending.filter((q) => q.state === "sending" && q.via === "ws")) {
          if (frame.client_id ? frame.client_id === p.clientId : pending.length === 1) markFailed(p, null);
        }
        break;
      default:
        break; // pong and anything newer than this widget
    }
    void socket;
  }

  // ---------------------------------------------------------------- HTTP polling while the socket is down

  function signature(messages) {
    if (!Array.isArray(messages)) return "";
    return messages.map((m) => `${m.role}|${m.message_id}|${m.timestamp}|${(m.text || "").length}`).join(";");
  }

  function startPolling() {
    if (pollTimer) return;
    poll();
    pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  async function poll() {
    if (pollBusy || (ws && ws.readyState === WebSocket.OPEN)) return;
    pollBusy = true;
    try {
      const r = await fetch(
        `${gatewayBase}/api/v1/webchat/${encodeURIComponent(senderId)}/history?limit=${HISTORY_LIMIT}`,
        { headers: { Accept: "application/json" }, cache: "no-store" },
      );
      if (!r.ok) return;
      const body = await r.json();
      if (ws && ws.readyState === WebSocket.OPEN) return; // the socket came back meanwhile; it sent history
      const sig = signature(body.messages);
      if (sig === lastHistorySig) return;
      const before = messageNodes().filter((n) => n.dataset.role !== "customer").length;
      renderHistory(body.messages);
      lastHistorySig = sig;
      const after = messageNodes().filter((n) => n.dataset.role !== "customer").length;
      if (!isOpen && after > before) setUnread(unread + (after - before));
    } catch (_) {
      /* still offline; the status line says so */
    } finally {
      pollBusy = false;
    }
  }

  // ---------------------------------------------------------------- start

  function mount() {
    document.body.append(host);
    applyStrings();
    ui.messages.append(ui.empty);
    if (session.get(KEY_OPEN) === "1") open();
    else if (hadConversation) ensureConnected(); // a returning visitor: operator replies arrive while minimised
  }

  window.ZabotaChat = Object.freeze({
    open,
    close,
    senderId,
    setLang(next) {
      if ((next === "ru" || next === "en") && next !== lang) toggleLang();
    },
  });

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
