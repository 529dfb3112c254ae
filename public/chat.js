// Loaded by .chainlit/config.toml: [UI] custom_js = "/public/chat.js"
// chainlit >= 2.11 opens the element side panel by itself (with ALL side elements of
// the conversation) whenever a message with display="side" elements arrives or a
// thread is resumed (Chainlit issues #2979, #2932; PR #2982). Citations should open on
// click only: close the panel when it appears without a click on that reference ("[n]")
// in the last 8 s (a busy server can take seconds to open it), or when it shows more
// than one element. A click opens one panel: it is forgotten once that panel shows.
// Remove once chainlit ships click-to-open, and re-check on every upgrade (it relies on
// 2.12's ids and classes).
(function () {
  var lastRefClick = 0;
  var lastRefName = "";
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var a = t && t.closest && t.closest("a.element-link");
    if (a) { lastRefClick = Date.now(); lastRefName = (a.textContent || "").trim(); }
  }, true);
  var wasOpen = false;
  // On a wide screen the panel's close button sits in its title; on a phone the panel
  // is a sheet (a dialog) whose close button is a "Close" button elsewhere in it.
  function closePanel(title) {
    var btn = title.querySelector("button");
    var sheet = title.closest('[role="dialog"]');
    if (!btn && sheet) {
      btn = Array.prototype.find.call(sheet.querySelectorAll("button"), function (b) {
        return (b.textContent || "").trim() === "Close";
      }) || null;
    }
    if (btn) { btn.click(); return true; }
    if (sheet) {
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
      return true;
    }
    return false;
  }
  function check() {
    var title = document.getElementById("side-view-title");
    var content = document.getElementById("side-view-content");
    var open = !!(title && content);
    if (open) {
      var clicked = Date.now() - lastRefClick < 8000 &&
        lastRefName !== "" && (title.textContent || "").trim().indexOf(lastRefName) === 0;
      var multi = content.children.length > 1;
      if ((!wasOpen && !clicked) || multi) {
        if (closePanel(title)) open = false;
      } else if (!wasOpen) {
        lastRefClick = 0;  // this click's panel has shown
      }
    }
    wasOpen = open;
  }
  var scheduled = false;
  new MutationObserver(function () {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(function () { scheduled = false; check(); });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
// An unsupported sentence is a link to #unsupported (for its style and tooltip): it
// must not open anything when clicked.
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest && ev.target.closest('a[href="#unsupported"]');
  if (a) { ev.preventDefault(); ev.stopPropagation(); }
}, true);

// Enter (or the send button) before the chat is connected: chainlit keeps its composer
// disabled until the socket is up and ignores the question without a word. Keep it,
// say so under the composer, and send it as soon as the send button is enabled.
(function () {
  var pending = false;
  var timer = null;
  function submitButton() { return document.getElementById("chat-submit"); }
  function ready() { var b = submitButton(); return !!b && !b.disabled; }
  function typed() {
    var el = document.getElementById("chat-input");
    if (!el) return "";
    return String(el.value !== undefined ? el.value : el.textContent || "");
  }
  function note(show) {
    var n = document.getElementById("chat-pending");
    if (!show) { if (n) n.remove(); return; }
    if (n) return;
    var composer = document.getElementById("message-composer");
    if (!composer || !composer.parentNode) return;
    n = document.createElement("div");
    n.id = "chat-pending";
    n.setAttribute("role", "status");
    n.textContent = "Connecting… your question will be sent as soon as the chat is ready.";
    composer.parentNode.insertBefore(n, composer.nextSibling);
  }
  function flush() {
    if (!pending) { clearInterval(timer); timer = null; return; }
    if (!ready()) return;
    pending = false;
    clearInterval(timer);
    timer = null;
    note(false);
    if (typed().trim()) submitButton().click();
  }
  function hold(ev) {
    if (ready() || !typed().trim()) return;
    ev.preventDefault();
    ev.stopPropagation();
    pending = true;
    note(true);
    if (!timer) timer = setInterval(flush, 150);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
    if (ev.target && ev.target.closest && ev.target.closest("#chat-input")) hold(ev);
  }, true);
})();

// A draft survives chainlit re-mounting the message box. After the first answer of a new
// chat, chainlit fetches the thread list and only then moves the page to /thread/<id>,
// which mounts a new composer, empty: on a busy server that is seconds later, and what
// the user typed meanwhile was gone (and Enter sent nothing). Put it back.
(function () {
  var box = null;
  var setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
  function keep() {
    var now = document.getElementById("chat-input");
    if (now === box) return;
    var old = box;
    box = now;
    var draft = old && typeof old.value === "string" ? old.value : "";
    if (!now || !draft.trim() || old.isConnected || now.tagName !== "TEXTAREA" || now.value) return;
    setValue.call(now, draft);
    now.dispatchEvent(new Event("input", { bubbles: true }));  // chainlit's state follows
  }
  new MutationObserver(keep).observe(document.documentElement, { childList: true, subtree: true });
})();

// Hovering (or focusing) a citation marker [n] previews its passage: the article's
// title, source and date, and the cited sentence. The props come from the app
// (GET /rag/citation?message=ID&n=N, rag/chat/web.py) and are shown as text only.
(function () {
  var cache = {};
  var tip = null;
  var shownFor = null;
  var showTimer = null;
  function markerOf(el) {
    var a = el && el.closest && el.closest("a.element-link");
    if (!a) return null;
    var m = /^\[(\d{1,3})\]$/.exec((a.textContent || "").trim());
    if (!m) return null;
    var msg = a.closest('[data-step-type="assistant_message"]');
    var step = msg && msg.querySelector('[id^="step-"]');
    return step ? { a: a, n: m[1], id: step.id.slice(5) } : null;
  }
  function hide() {
    clearTimeout(showTimer);
    shownFor = null;
    if (tip) { tip.remove(); tip = null; }
  }
  function part(tag, cls, testid, text) {
    var e = document.createElement(tag);
    e.className = cls;
    e.setAttribute("data-testid", testid);
    e.textContent = text;
    return e;
  }
  function quoteOf(p) {
    var passage = String(p.passage || "");
    var spans = Array.isArray(p.highlights) ? p.highlights : [];
    var bits = spans.map(function (s) { return passage.slice(Number(s[0]) || 0, Number(s[1]) || 0); })
      .filter(function (t) { return t.trim(); });
    var text = bits.length ? bits.join(" … ") : passage;
    text = text.replace(/\s+/g, " ").trim();
    return text.length > 420 ? text.slice(0, 419) + "…" : text;
  }
  function place(a) {
    if (!tip) return;
    var r = a.getBoundingClientRect();
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8));
    var top = r.bottom + 6;
    if (top + h > window.innerHeight - 8 && r.top - h - 6 >= 8) top = r.top - h - 6;
    tip.style.left = left + "px";
    tip.style.top = Math.max(8, top) + "px";
  }
  function show(mk, p) {
    hide();
    shownFor = mk.id + "/" + mk.n;
    tip = document.createElement("div");
    tip.id = "citation-preview";
    tip.setAttribute("role", "tooltip");
    tip.appendChild(part("div", "preview-title", "preview-title", "[" + mk.n + "] " + String(p.title || "")));
    var meta = [p.source, p.published_label].filter(function (x) { return x; }).map(String).join(" · ");
    if (meta) tip.appendChild(part("div", "preview-meta", "preview-meta", meta));
    tip.appendChild(part("blockquote", "preview-quote", "preview-quote", quoteOf(p)));
    tip.appendChild(part("div", "preview-hint", "preview-hint", "Click to read the whole passage"));
    document.body.appendChild(tip);
    place(mk.a);
  }
  function fetchProps(mk) {
    var key = mk.id + "/" + mk.n;
    if (cache[key]) return Promise.resolve(cache[key]);
    var url = "/rag/citation?message=" + encodeURIComponent(mk.id) + "&n=" + mk.n;
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("no preview");
      return r.json();
    }).then(function (p) { cache[key] = p; return p; });
  }
  function enter(ev) {
    var mk = markerOf(ev.target);
    if (!mk) return;
    var key = mk.id + "/" + mk.n;
    if (shownFor === key) return;
    clearTimeout(showTimer);
    showTimer = setTimeout(function () {
      fetchProps(mk).then(function (p) {
        if (mk.a.matches(":hover") || document.activeElement === mk.a) show(mk, p);
      }).catch(function () { /* no preview: the click still opens the panel */ });
    }, 150);
  }
  function leave(ev) {
    var mk = markerOf(ev.target);
    if (mk && !(ev.relatedTarget && mk.a.contains(ev.relatedTarget))) hide();
  }
  document.addEventListener("pointerover", enter, true);
  document.addEventListener("focusin", enter, true);
  document.addEventListener("pointerout", leave, true);
  document.addEventListener("focusout", leave, true);
  document.addEventListener("click", hide, true);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hide(); }, true);
  window.addEventListener("scroll", hide, true);
})();
